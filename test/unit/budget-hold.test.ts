/** A spent budget remembered for a moment (`budget-hold.ts`): what it refuses, and when it asks again. */
import { describe, expect, it } from 'vitest';
import { BudgetHold, type Refusal } from '../../src/limits/budget-hold';

const refusal = (over: Partial<Refusal> = {}): Refusal => ({
  ok: false,
  limit: 'day',
  retryAfterMs: 3_600_000,
  used: 900,
  max: 1_000,
  snapshot: { day: { limit: 1_000, remaining: 100, resetMs: 3_600_000 } },
  ...over,
});

const LIMITS = { dayNano: 1_000 };

describe('BudgetHold', () => {
  it('refuses what does not fit what the object said was left, until the hold ends, with the wait shortened', () => {
    const hold = new BudgetHold();
    hold.remember(refusal(), 0, 2_500, LIMITS);
    expect(hold.refuse(150, 1_000, LIMITS)).toMatchObject({ limit: 'day', retryAfterMs: 3_600_000 - 1_000 });
    expect(hold.refuse(100, 1_000, LIMITS)).toBeNull(); // fits what was left: ask
    expect(hold.refuse(150, 2_500, LIMITS)).toBeNull(); // the hold is over: ask
    expect(hold.refuse(150, 2_501, LIMITS)).toBeNull();
  });

  it('counts what this isolate gave back as free, and forgets the hold when the object admits', () => {
    const hold = new BudgetHold();
    hold.remember(refusal(), 0, 2_500, LIMITS);
    hold.gaveBack(60);
    expect(hold.refuse(150, 10, LIMITS)).toBeNull();
    expect(hold.refuse(170, 10, LIMITS)).not.toBeNull();
    hold.clear();
    expect(hold.refuse(170, 10, LIMITS)).toBeNull();
  });

  it('remembers only budget refusals that say something of other requests: not rpm, not a request too large alone', () => {
    const hold = new BudgetHold();
    hold.remember(refusal({ limit: 'requests' }), 0, 2_500, LIMITS);
    hold.remember(refusal({ tooLarge: true }), 0, 2_500, LIMITS);
    expect(hold.refuse(1_000_000, 1, LIMITS)).toBeNull();
  });

  it('asks again at once when an operator changed the budget', () => {
    const hold = new BudgetHold();
    hold.remember(refusal(), 0, 2_500, LIMITS);
    expect(hold.refuse(150, 1, LIMITS)).not.toBeNull();
    expect(hold.refuse(150, 1, { dayNano: 2_000 })).toBeNull();
  });

  it('never holds past the end of the period', () => {
    const hold = new BudgetHold();
    hold.remember(refusal({ retryAfterMs: 500 }), 0, 2_500, LIMITS);
    expect(hold.refuse(150, 499, LIMITS)).not.toBeNull();
    expect(hold.refuse(150, 500, LIMITS)).toBeNull();
  });
});
