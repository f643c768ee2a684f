/** Alert coalescing (`src/health/alert-coalesce.ts`): a flapping node sends one alert a window, and its last state is still reported. */
import { describe, expect, it } from 'vitest';
import { coalesceAlerts, type AlertMemo } from '../../src/health/alert-coalesce';
import type { Transition } from '../../src/health/alerts';

const W = 300_000;
const down: Transition = { nodeId: 'a', from: 'healthy', to: 'down', reason: '3 consecutive probe failures (HTTP 500)' };
const up: Transition = { nodeId: 'a', from: 'down', to: 'healthy', reason: 'probes and live traffic fine' };

/** Runs cycles at the given times, each with its transitions, and returns every alert sent. */
function run(cycles: [number, Transition[]][], windowMs = W) {
  let memo: Record<string, AlertMemo> = {};
  const sent: { at: number; from: string; to: string; changes: number }[] = [];
  for (const [at, ts] of cycles) {
    const out = coalesceAlerts(memo, ts, windowMs, at);
    memo = out.memo;
    for (const a of out.alerts) sent.push({ at, from: a.from, to: a.to, changes: a.changes });
  }
  return { sent, memo };
}

describe('coalesceAlerts', () => {
  it('a node flapping every 10 s cycle for 5 min sends its first change at once and one summary when the window ends', () => {
    const cycles: [number, Transition[]][] = Array.from({ length: 31 }, (_, i) => [i * 10_000, i < 30 ? [i % 2 === 0 ? down : up] : []]);
    const { sent } = run(cycles);
    expect(sent).toEqual([
      { at: 0, from: 'healthy', to: 'down', changes: 1 },
      // 29 more changes (up/down…), the last up, at the first cycle past the window.
      { at: 300_000, from: 'down', to: 'healthy', changes: 29 },
    ]);
  });

  it('a recovery inside the window is still reported when the window ends, with the count', () => {
    const { sent, memo } = run([[0, [down]], [20_000, [up]], [60_000, []], [299_999, []], [300_000, []], [600_000, []]]);
    expect(sent).toEqual([
      { at: 0, from: 'healthy', to: 'down', changes: 1 },
      { at: 300_000, from: 'down', to: 'healthy', changes: 1 },
    ]);
    // Nothing held and the window over: the node's entry is dropped.
    expect(memo).toEqual({});
  });

  it('changes a window apart are each sent at once; nodes are coalesced independently', () => {
    const other: Transition = { ...down, nodeId: 'b' };
    const { sent } = run([[0, [down, other]], [W, [up]], [W + 1, [{ ...up, nodeId: 'b' }]]]);
    expect(sent.map((s) => `${s.at}:${s.to}`)).toEqual(['0:down', '0:down', `${W}:healthy`, `${W + 1}:healthy`]);
  });

  it('a change to a worse state than the last alert said is sent at once (degraded, then down 20 s later); the recovery waits for the window', () => {
    const degraded: Transition = { nodeId: 'a', from: 'healthy', to: 'degraded', reason: 'intermittent: probe failed (HTTP 500)' };
    const worse: Transition = { nodeId: 'a', from: 'degraded', to: 'down', reason: '3 consecutive probe failures (HTTP 500)' };
    const { sent } = run([[0, [degraded]], [20_000, [worse]], [60_000, [up]], [80_000, [down]], [20_000 + W, []]]);
    expect(sent).toEqual([
      { at: 0, from: 'healthy', to: 'degraded', changes: 1 },
      { at: 20_000, from: 'degraded', to: 'down', changes: 1 },
      // Down again after an up: no worse than the last alert said, so held with the up.
      { at: 20_000 + W, from: 'down', to: 'down', changes: 2 },
    ]);
  });

  it('a window of 0 sends every transition', () => {
    const { sent } = run([[0, [down]], [1, [up]], [2, [down]]], 0);
    expect(sent.map((s) => [s.to, s.changes])).toEqual([['down', 1], ['healthy', 1], ['down', 1]]);
  });
});
