import { afterEach, describe, expect, it, vi } from 'vitest';
import { heldBodyBytes, holdBody, LARGE_BODY_BYTES } from '../../src/http/body-budget';

const MB = LARGE_BODY_BYTES;

afterEach(() => {
  vi.useRealTimers();
  expect(heldBodyBytes()).toBe(0); // every test releases what it held
});

describe('the isolate body budget', () => {
  it('does not count small bodies', async () => {
    const release = await holdBody(MB - 1, 1, 0);
    expect(heldBodyBytes()).toBe(0);
    release!();
  });

  it('admits large bodies that fit together, and one alone however large', async () => {
    const a = await holdBody(2 * MB, 5 * MB, 0);
    const b = await holdBody(3 * MB, 5 * MB, 0);
    expect(heldBodyBytes()).toBe(5 * MB);
    a!();
    a!(); // released once only
    b!();
    const huge = await holdBody(50 * MB, 5 * MB, 0);
    expect(huge).toBeDefined();
    huge!();
  });

  it('a body that does not fit waits for one to end, first come first served', async () => {
    vi.useFakeTimers();
    const first = (await holdBody(4 * MB, 5 * MB, 1_000))!;
    const order: string[] = [];
    const second = holdBody(4 * MB, 5 * MB, 1_000).then((r) => (order.push('second'), r));
    const third = holdBody(1 * MB, 5 * MB, 1_000).then((r) => (order.push('third'), r)); // would fit now, but waits its turn
    await vi.advanceTimersByTimeAsync(10);
    expect(order).toEqual([]);
    first();
    const [s, t] = await Promise.all([second, third]);
    expect(order).toEqual(['second', 'third']);
    expect(heldBodyBytes()).toBe(5 * MB);
    s!();
    t!();
  });

  it('gives up after waitMs: undefined, nothing held for it', async () => {
    vi.useFakeTimers();
    const first = (await holdBody(4 * MB, 5 * MB, 1_000))!;
    const waiting = holdBody(4 * MB, 5 * MB, 1_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await waiting).toBeUndefined();
    expect(heldBodyBytes()).toBe(4 * MB);
    first();
  });
});
