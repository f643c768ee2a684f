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

describe('a figure resting on thin evidence', () => {
  it('re-probes a node held out by one noisy long answer, and a fast probe puts it back in front', () => {
    const view = new LiveView(live);
    let t = answers(view, 'far', 480, 4, 30, 0); // the leader, base 480
    // `near` (truly base 360) answered once, a long answer 25% slow: base-equivalent ≈ 1,260 ms.
    view.observeAnswer(scope, 'm', 'near', 1.25 * (360 + 4 * 1000), 1000, t);
    t = answers(view, 'far', 480, 4, 5, t + 1000);
    const lens = () => view.lens(scope, t, { explore: true, answer: true });
    expect(lens().estimate('near', 2000).expectedMs).toBeGreaterThan(1000);
    t += live.exploreMs;
    // Its figure rests on a sixteenth of a first byte's evidence: it may be far lower, and is probed (before: never again).
    expect(lens().explore!('near', 2000, 480 / 1.1)).toBe(true);
    view.observeAnswer(scope, 'm', 'near', 360 + 4 * 60, 60, t);
    expect(lens().estimate('near', 2000).expectedMs).toBeLessThan(480);
  });

  it('averages a probe that reads within PEAK_RISE of a thin figure into it, weighed by evidence, rather than letting it replace the figure', () => {
    const view = new LiveView(live);
    let t = answers(view, 'far', 480, 4, 30, 0);
    view.observeAnswer(scope, 'm', 'near', 1.25 * (360 + 4 * 1000), 1000, t); // base-equivalent ≈ 1,450 ms, truly 360
    t = answers(view, 'far', 480, 4, 5, t + 1000) + live.exploreMs;
    const lens = () => view.lens(scope, t, { explore: true, answer: true });
    expect(lens().explore!('near', 2000, 480 / 1.1)).toBe(true);
    // Another long answer, this one at its true speed: as a whole 0.8× the first, so no clear fall. Both are one answer's worth.
    view.observeAnswer(scope, 'm', 'near', 360 + 4 * 1000, 1000, t);
    const after = lens().estimate('near', 2000).expectedMs;
    expect(after).toBeGreaterThan(700);
    expect(after).toBeLessThan(1100);
    // Still thin (two long answers): due another probe after the gap.
    t += live.exploreMs;
    expect(lens().explore!('near', 2000, 480 / 1.1)).toBe(true);
  });

  it('re-probes such a node when its first bytes are stale (streams left it): the figure rests on the answer', () => {
    const view = new LiveView(live);
    view.observe(scope, 'near', 360, true, 0); // a first byte once, long ago
    let t = answers(view, 'far', 480, 4, 30, 60_000);
    view.observeAnswer(scope, 'm', 'near', 1.25 * (360 + 4 * 1000), 1000, t);
    t = answers(view, 'far', 480, 4, 5, t + 1000) + live.exploreMs;
    expect(view.lens(scope, t, { explore: true, answer: true }).estimate('near', 2000).expectedMs).toBeGreaterThan(1000);
    // Before, a node a first byte had ever come from was never thin, and stayed out of reach (sim mixed seed 18: NRT, ap-southeast).
    expect(view.lens(scope, t, { explore: true }).explore!('near', 2000, 480 / 1.1)).toBe(true);
  });

  it('does not re-probe a slower node whose figure rests on a first byte', () => {
    const view = new LiveView(live);
    view.observe(scope, 'near', 600, true, 0);
    expect(view.lens(scope, 1e6, { explore: true }).explore!('near', 2000, 480 / 1.1)).toBe(false);
  });
});

describe('what a node\'s answers add beyond its first byte (the excess)', () => {
  it('settles near what steady answers show, not a third of it', () => {
    const view = new LiveView(live);
    // Streams and JSON on one node each second: first byte 200 ms; its answers take 150 ms more than the first byte plus 4 ms a token.
    for (let i = 0; i < 120; i++) {
      const t = i * 1000;
      const k = SIZES[i % SIZES.length]!;
      view.observe(scope, 'n', 200, true, t);
      view.observeAnswer(scope, 'm', 'n', 350 + 4 * k, k, t + 500);
    }
    const lens = (answer: boolean) => view.lens(scope, 120_000, { explore: false, answer }).estimate('n', 200).expectedMs;
    expect(lens(false)).toBeCloseTo(200, 0);
    // Before, the shrink toward none was added afresh with every answer: 50 ms, a third (mixed: a degraded node's answers ranked too fast).
    expect(lens(true) - lens(false)).toBeGreaterThan(100);
    expect(lens(true) - lens(false)).toBeLessThan(160);
  });
});
