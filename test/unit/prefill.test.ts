import { describe, expect, it } from 'vitest';
import { RoutingSchema } from '../../src/config/schema';
import { LiveView } from '../../src/routing/live';
import { MAX_MS_PER_BYTE, NODE_BAND, PrefillFit } from '../../src/routing/prefill';

const live = RoutingSchema.parse({}).live;
const scope = 'FRA/chat';
/** Prefill in this world: 0.05 ms per body byte (≈ 200 ms per 1k tokens). */
const PER_BYTE = 0.05;
const SHORT = 2_000;
const LONG = 60_000;

/** A stream's first byte as the engine feeds it: taken to the scope's mean size, then to the live view. */
function stream(view: LiveView, node: string, base: number, bytes: number, t: number, perByte = PER_BYTE): void {
  const ms = view.prefilled(scope, node, base + perByte * bytes, bytes, t, true);
  view.observe(scope, node, ms, true, t);
}

/** Two nodes, `near` 300 ms and `far` 420 ms at no prompt, two minutes of mixed prompt sizes, one a second each. */
function warmed(): { view: LiveView; t: number } {
  const view = new LiveView(live);
  let t = 0;
  for (let i = 0; i < 120; i++) {
    const bytes = i % 4 === 0 ? 20_000 : SHORT;
    stream(view, 'near', 300, bytes, t);
    stream(view, 'far', 420, bytes, t + 1);
    t += 1000;
  }
  return { view, t };
}

const estimate = (view: LiveView, node: string, t: number) => view.lens(scope, t, { explore: false }).estimate(node, 400).expectedMs;

describe('prefill: first bytes taken to the mean prompt size', () => {
  it('learns the prefill slope from first bytes of mixed prompt sizes', () => {
    const { view } = warmed();
    const fit = view.prefill.read(scope)!;
    expect(fit.msPerByte).toBeGreaterThan(PER_BYTE * 0.7);
    expect(fit.msPerByte).toBeLessThan(PER_BYTE * 1.3);
    expect(fit.meanBytes).toBeGreaterThan(SHORT);
  });

  it('one key sending long prompts to the nearest node does not make it read slow', () => {
    const { view, t: t0 } = warmed();
    let t = t0;
    // Ten long prompts in a row land on `near` (3 s of prefill each, 60 KB: under LIVE_MAX_PROMPT_BYTES).
    for (let i = 0; i < 10; i++) {
      stream(view, 'near', 300, LONG, t);
      t += 500;
    }
    expect(estimate(view, 'near', t)).toBeLessThan(estimate(view, 'far', t));
  });

  it('a node truly slowed still reads slow at short prompts, and its first bytes do not teach an absurd slope', () => {
    const { view, t: t0 } = warmed();
    let t = t0;
    for (let i = 0; i < 5; i++) {
      stream(view, 'near', 2_400, i % 2 ? LONG : SHORT, t);
      t += 1000;
    }
    expect(estimate(view, 'near', t)).toBeGreaterThan(estimate(view, 'far', t));
    expect(view.prefill.read(scope)!.msPerByte).toBeLessThanOrEqual(MAX_MS_PER_BYTE);
  });

  it('without a prompt size spread it changes nothing, and forgets with time', () => {
    const fit = new PrefillFit();
    for (let t = 0; t < 10; t++) expect(fit.normalise('s', 's>a', 1_000, 250 + t, t * 1000, 250)).toBe(250 + t);
    expect(fit.read('s')!.msPerByte).toBe(0);
    expect(fit.nodeMsPerByte('s', 's>a')).toBe(0);
    expect(fit.normalise('s', 's>a', 1_000, Number.NaN, 20_000, Number.NaN)).toBeNaN();
  });
});

describe('prefill: each node its own slope', () => {
  /** `near` prefills at 0.03 ms per byte, `far` at 0.07 (both 300 ms at the mean size): two minutes of mixed sizes on each. */
  function unlike(): { view: LiveView; t: number } {
    const view = new LiveView(live);
    let t = 0;
    for (let i = 0; i < 120; i++) {
      const bytes = i % 4 === 0 ? 20_000 : SHORT;
      stream(view, 'near', 300 - 0.03 * 6_500, bytes, t, 0.03);
      stream(view, 'far', 300 - 0.07 * 6_500, bytes, t + 1, 0.07);
      t += 1000;
    }
    return { view, t };
  }

  it('learns a steeper slope for the node that prefills slower', () => {
    const { view } = unlike();
    const near = view.prefill.nodeMsPerByte(scope, `${scope}>near`);
    const far = view.prefill.nodeMsPerByte(scope, `${scope}>far`);
    expect(near).toBeGreaterThan(0.025);
    expect(near).toBeLessThan(0.04);
    expect(far).toBeGreaterThan(0.06);
    expect(far).toBeLessThan(0.08);
  });

  it('long prompts on the node that prefills slower do not make it read slow at the mean size', () => {
    const { view, t: t0 } = unlike();
    let t = t0;
    // Its own speed on six long prompts in a row: the scope's slope (between the two) would leave ~1 s of each unexplained.
    for (let i = 0; i < 6; i++) {
      stream(view, 'far', 300 - 0.07 * 6_500, LONG, t, 0.07);
      t += 500;
    }
    expect(estimate(view, 'far', t)).toBeLessThan(300 * 1.3);
  });

  it("one caller's padded bodies hold a node's slope within the band around the scope's", () => {
    const { view, t: t0 } = unlike();
    let t = t0;
    // Bodies padded with whitespace (bytes without prefill) on `near`, each at its level: they teach a slope of 0.
    for (let i = 0; i < 6; i++) {
      stream(view, 'near', 300 - 0.03 * 6_500, LONG, t, 0);
      t += 100;
    }
    const scopeSlope = view.prefill.read(scope)!.msPerByte;
    expect(scopeSlope).toBeGreaterThan(0);
    expect(view.prefill.nodeMsPerByte(scope, `${scope}>near`)).toBeGreaterThanOrEqual(scopeSlope / NODE_BAND);
  });
});
