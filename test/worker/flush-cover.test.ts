/**
 * The scheduled flushes (`usage/rollup-batch.ts`, `usage/totals-flush.ts`) leave no row
 * stranded: a request that adds to a flush already scheduled hands its `waitUntil` nothing,
 * so the scheduled run must send its rows — or, when that run gives up before they fall due
 * (its `waitUntil` budget), the request must schedule its own. Fake clock; the objects are
 * stand-ins that take `CALL_MS` per call.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resetIsolate } from '../../src/isolate';
import { recordUsage } from '../../src/limits/usage-batch';
import { addToRollup, flushRollupsWhenDue } from '../../src/usage/rollup-batch';
import { flushTotalsWhenDue } from '../../src/usage/totals-flush';

const CALL_MS = 50;
const T0 = 1_700_000_000_000;
const held: Promise<unknown>[] = [];
const keep = (p: Promise<void> | undefined) => p && held.push(p.catch(() => {}));
const after = (ms: number) => vi.advanceTimersByTimeAsync(ms);

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  resetIsolate();
  held.length = 0;
});
afterEach(() => vi.useRealTimers());

describe('rollup rows', () => {
  const sent: string[] = [];
  const ns = { getByName: () => ({ record: (rows: { key: string }[]) => new Promise<void>((r) => setTimeout(() => (sent.push(...rows.map((x) => x.key)), r()), CALL_MS)) }) } as never;
  const request = (key: string) => {
    addToRollup({ at: Date.now(), key, model: 'm', node: 'n', usage: undefined, cost: null, error: false } as never);
    keep(flushRollupsWhenDue(ns, 1));
  };

  it("a row added while the scheduled run's last call is in flight is sent, with no later request", async () => {
    sent.length = 0;
    request('a'); // the isolate's first row: sent at once
    await after(1_000);
    request('b'); // scheduled for the next flush, 10 s after the first
    await after(9_020);
    request('c'); // during that flush's call: the run goes round again
    await after(10_000);
    request('d'); // during the next call, 19 s into the run: its next round is past the run's 25 s
    await after(60_000);
    expect(sent).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe("unlimited keys' totals", () => {
  const sent: string[] = [];
  const ns = { getByName: (name: string) => ({ addTotals: () => new Promise<void>((r) => setTimeout(() => (sent.push(name), r()), CALL_MS)) }) } as never;
  const request = (key: string) => {
    recordUsage(key, undefined);
    keep(flushTotalsWhenDue(ns));
  };

  it('a total added while the scheduled run is in its last round is sent, with no later request', async () => {
    sent.length = 0;
    request('a'); // the isolate's first batch: sent at once
    await after(1_000);
    for (let i = 0; i < 5; i++) {
      request(`r${i}`); // each during a flush's call of the run this one scheduled (5 s batches)
      await after(i === 0 ? 4_020 : 5_000);
    }
    request('z'); // 24 s into the run: its next batch falls due past the run's 25 s
    await after(60_000);
    expect(sent).toContain('key:z');
  });
});
