import { describe, expect, it } from 'vitest';
import { RoutingSchema } from '../../src/config/schema';
import { LiveView } from '../../src/routing/live';

const live = RoutingSchema.parse({}).live;
const scope = 'NRT/chat';
const SIZES = [40, 80, 120, 60, 100];

/** `n` JSON answers from one node, one a second from `from`, base `base` ms at `perToken` ms a token. */
function answers(view: LiveView, nodeId: string, base: number, perToken: number, n: number, from: number): number {
  for (let i = 0; i < n; i++) {
    const k = SIZES[i % SIZES.length]!;
    view.observeAnswer(scope, 'm', nodeId, base + perToken * k, k, from + i * 1000);
  }
  return from + n * 1000;
}

describe('the per-token reference and the first answer of what may be a rise', () => {
  it('does not learn from one long answer past PEAK_RISE of what was expected of it', () => {
    const view = new LiveView(live);
    const t = answers(view, 'near', 150, 4, 60, 0);
    expect(view.rates.msPerToken(scope, 'm', t)).toBeCloseTo(4, 1);
    // One 2,400-token answer at 2.5× the usual speed (a slowdown's first answer, or noise): not a rise yet (one sample).
    view.observeAnswer(scope, 'm', 'near', 2.5 * (150 + 4 * 2400), 2400, t);
    // Without the rule the reference read 6.6 ms a token here (sim seed 9), and the node's slowed answers read normal.
    expect(view.rates.msPerToken(scope, 'm', t + 1)).toBeCloseTo(4, 1);
    // The next answers at its slowed speed count as the rise they are.
    view.observeAnswer(scope, 'm', 'near', 2.5 * (150 + 4 * 80), 80, t + 1000);
    expect(view.lens(scope, t + 1001, { explore: false, answer: true }).estimate('near', 150).expectedMs).toBeGreaterThan(500);
  });

  it('still learns from long answers written at the usual speed', () => {
    const view = new LiveView(live);
    let t = answers(view, 'near', 150, 4, 60, 0);
    for (let i = 0; i < 5; i++, t += 1000) view.observeAnswer(scope, 'm', 'near', 150 + 6 * 2400, 2400, t); // 1.5× slower per token: within PEAK_RISE
    expect(view.rates.msPerToken(scope, 'm', t)).toBeGreaterThan(5);
  });
});

describe('exploration after a probe came back', () => {
  it('lets JSON probe a node whose stream probe just came back fast, without waiting a gap for the slot', () => {
    const view = new LiveView(live);
    // Streams and JSON on `near`; then an 8× slowdown seen by both kinds.
    let t = 0;
    for (let i = 0; i < 30; i++, t += 1000) {
      view.observe(scope, 'near', 150, true, t);
      view.observeAnswer(scope, 'm', 'near', 150 + 4 * SIZES[i % SIZES.length]!, SIZES[i % SIZES.length]!, t + 1);
    }
    for (let i = 0; i < 2; i++, t += 1000) {
      view.observe(scope, 'near', 1200, true, t);
      view.observeAnswer(scope, 'm', 'near', 8 * (150 + 4 * 100), 100, t + 1);
    }
    // Recovered: a stream probe, due after its gap, comes back fast.
    t += live.exploreMs;
    expect(view.lens(scope, t, { explore: true }).explore!('near', 150, 400)).toBe(true);
    view.observe(scope, 'near', 150, true, t + 100);
    // JSON still ranks it at the slowed answers' excess; it may probe it now (before: a gap later, as the stream probe's slot was held).
    const jsonLens = view.lens(scope, t + 200, { explore: true, answer: true });
    expect(jsonLens.estimate('near', 150).expectedMs).toBeGreaterThan(1000);
    expect(jsonLens.explore!('near', 150, 400)).toBe(true);
    // One probe at a time: while that JSON probe is out, no other.
    expect(view.lens(scope, t + 300, { explore: true, answer: true }).explore!('near', 150, 400)).toBe(false);
  });
});
