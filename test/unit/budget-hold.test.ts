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

describe('BudgetHold', () => {
  it('refuses what does not fit what the object said was left, until the hold ends, with the wait shortened', () => {
    const hold = new BudgetHold();
    hold.remember(refusal(), 0, 2_500);
    expect(hold.refuse(150, 1_000)).toMatchObject({ limit: 'day', retryAfterMs: 3_600_000 - 1_000 });
    expect(hold.refuse(100, 1_000)).toBeNull(); // fits what was left: ask
    expect(hold.refuse(150, 2_500)).toBeNull(); // the hold is over: ask
    expect(hold.refuse(150, 2_501)).toBeNull();
  });

  it('counts what this isolate gave back as free, and forgets the hold when the object admits', () => {
    const hold = new BudgetHold();
    hold.remember(refusal(), 0, 2_500);
    hold.gaveBack(60);
    expect(hold.refuse(150, 10)).toBeNull();
    expect(hold.refuse(170, 10)).not.toBeNull();
    hold.clear();
    expect(hold.refuse(170, 10)).toBeNull();
  });

  it('remembers only budget refusals that say something of other requests: not rpm, not a request too large alone', () => {
    const hold = new BudgetHold();
    hold.remember(refusal({ limit: 'requests' }), 0, 2_500);
    hold.remember(refusal({ tooLarge: true }), 0, 2_500);
    expect(hold.refuse(1_000_000, 1)).toBeNull();
  });

  it('never holds past the end of the period', () => {
    const hold = new BudgetHold();
    hold.remember(refusal({ retryAfterMs: 500 }), 0, 2_500);
    expect(hold.refuse(150, 499)).not.toBeNull();
    expect(hold.refuse(150, 500)).toBeNull();
  });
});
