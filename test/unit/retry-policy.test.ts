import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/forward/backoff';
import { CircuitBreaker } from '../../src/forward/breaker';
import { RetryBudget } from '../../src/forward/budget';

describe('backoffDelay', () => {
  const opts = { baseDelayMs: 100, maxDelayMs: 1000 };
  it('draws uniformly below base·2^n (full jitter)', () => {
    expect(backoffDelay(0, opts, 0, () => 0.999)).toBe(99);
    expect(backoffDelay(2, opts, 0, () => 0.5)).toBe(200);
  });
  it('never exceeds the cap', () => expect(backoffDelay(10, opts, 0, () => 0.999)).toBe(999));
  it('never sleeps less than Retry-After', () => expect(backoffDelay(0, opts, 1500, () => 0)).toBe(1500));
});

describe('CircuitBreaker', () => {
  const make = () => new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000, maxCooldownMs: 3000 });

  it('ejects after the threshold of consecutive faults, for the cooldown', () => {
    const b = make();
    expect(b.recordFailure('a', 0, 'x')).toBeUndefined();
    expect(b.recordFailure('a', 0, 'x')).toBeUndefined();
    expect(b.recordFailure('a', 0, 'x')).toMatchObject({ untilMs: 1000 });
    expect(b.blockedFor('a', 500)).toBe(500);
    expect(b.blockedFor('a', 1000)).toBe(0);
  });

  it('a success in between resets the count', () => {
    const b = make();
    b.recordFailure('a', 0, 'x');
    b.recordFailure('a', 0, 'x');
    b.recordSuccess('a');
    expect(b.recordFailure('a', 0, 'x')).toBeUndefined();
  });

  it('re-ejects at once, for longer, when the half-open try fails; caps the growth', () => {
    const b = make();
    for (let i = 0; i < 3; i++) b.recordFailure('a', 0, 'x');
    expect(b.recordFailure('a', 1000, 'x')).toMatchObject({ untilMs: 3000 });
    expect(b.recordFailure('a', 3000, 'x')).toMatchObject({ untilMs: 6000 });
  });

  it('closes fully after a half-open success', () => {
    const b = make();
    for (let i = 0; i < 3; i++) b.recordFailure('a', 0, 'x');
    b.recordSuccess('a');
    expect(b.recordFailure('a', 2000, 'x')).toBeUndefined();
  });

  it('cools a node for a Retry-After without counting a fault', () => {
    const b = make();
    b.coolDown('a', 0, 2500);
    expect(b.blockedFor('a', 1000)).toBe(1500);
    expect(b.blockedFor('b', 1000)).toBe(0);
  });
});

describe('RetryBudget', () => {
  it('allows minRetries even with no traffic', () => {
    const budget = new RetryBudget({ ratio: 0.2, minRetries: 2, windowMs: 10_000 });
    expect(budget.tryRetry(0)).toBe(true);
    expect(budget.tryRetry(0)).toBe(true);
    expect(budget.tryRetry(0)).toBe(false);
  });

  it('allows ratio × first attempts in the window', () => {
    const budget = new RetryBudget({ ratio: 0.2, minRetries: 0, windowMs: 10_000 });
    for (let i = 0; i < 100; i++) budget.recordFirstAttempt(i * 10);
    let granted = 0;
    for (let i = 0; i < 50; i++) if (budget.tryRetry(1000)) granted++;
    expect(granted).toBe(20);
  });

  it('forgets attempts older than the window', () => {
    const budget = new RetryBudget({ ratio: 1, minRetries: 0, windowMs: 2_000 });
    budget.recordFirstAttempt(0);
    expect(budget.tryRetry(500)).toBe(true);
    expect(budget.tryRetry(500)).toBe(false);
    budget.recordFirstAttempt(10_000);
    expect(budget.tryRetry(10_000)).toBe(true);
  });
});
