import { describe, expect, it } from 'vitest';
import { NodeSchema, RoutingSchema } from '../../src/config/schema';
import { walkHealth, buildTables, publishDue, PUBLISH_EVERY_MS, SHIFT_PUBLISH_GAP_MS } from '../../src/health/cycle';
import { LiveView } from '../../src/routing/live';
import { OutputRates } from '../../src/routing/output-rate';
import { buildTable, type RouteTable } from '../../src/routing/scores';
import { rankCandidates } from '../../src/routing/select';
import { HealthSchema } from '../../src/config/schema';

const routing = RoutingSchema.parse({});
const live = routing.live;
const node = (id: string, lat: number, lon: number) => NodeSchema.parse({ id, baseUrl: 'http://x/v1', region: id, lat, lon, models: ['m'] });
const NEAR = node('near', 50, 8);
const FAR = node('far', 51, 0);

/** A view that has seen `near` answer in `ms`, once a second for `n` seconds ending at `until`. */
function seen(view: LiveView, nodeId: string, ms: number, n: number, until: number) {
  for (let i = n - 1; i >= 0; i--) view.observe('FRA', nodeId, ms, true, until - i * 1000);
}

describe('LiveView (Peak-EWMA over the table)', () => {
  it('leaves a node it has not seen to the table', () => {
    const view = new LiveView(live);
    expect(view.lens('FRA', 0, { explore: false }).estimate('near', 80)).toEqual({ expectedMs: 80 });
  });

  it('counts a rise at once when two samples in a row show it, or one sample shows a jump', () => {
    const twice = new LiveView(live);
    seen(twice, 'near', 50, 10, 10_000);
    twice.observe('FRA', 'near', 120, true, 11_000);
    // One 2.4× sample is averaged in (a long prompt, a hiccup)…
    expect(twice.lens('FRA', 11_000, { explore: false }).estimate('near', 50).expectedMs).toBeLessThan(80);
    twice.observe('FRA', 'near', 125, true, 12_000);
    // …two in a row are news.
    expect(twice.lens('FRA', 12_000, { explore: false }).estimate('near', 50).expectedMs).toBe(120);

    const jump = new LiveView(live);
    seen(jump, 'near', 50, 10, 10_000);
    jump.observe('FRA', 'near', 400, true, 11_000);
    expect(jump.lens('FRA', 11_000, { explore: false }).estimate('near', 50).expectedMs).toBe(400);
  });

  it('averages drifts under the peak factor with a time constant, not a sample count', () => {
    const view = new LiveView(live);
    seen(view, 'near', 100, 1, 0);
    view.observe('FRA', 'near', 130, true, live.ewmaMs); // one time constant later: weight 1 − 1/e
    expect(view.lens('FRA', live.ewmaMs, { explore: false }).estimate('near', 100).expectedMs).toBeCloseTo(100 * Math.exp(-1) + 130 * (1 - Math.exp(-1)), 6);
  });

  it('lets good news fade into the table, and keeps bad news until a sample disproves it', () => {
    const good = new LiveView(live);
    seen(good, 'near', 50, 1, 0);
    expect(good.lens('FRA', live.halfLifeMs, { explore: false }).estimate('near', 100).expectedMs).toBeCloseTo(75, 6);
    const bad = new LiveView(live);
    seen(bad, 'near', 400, 1, 0);
    expect(bad.lens('FRA', 3_600_000, { explore: false }).estimate('near', 100).expectedMs).toBe(400);
  });

  it('keeps colos apart', () => {
    const view = new LiveView(live);
    seen(view, 'near', 400, 1, 0);
    expect(view.lens('NRT', 0, { explore: false }).estimate('near', 90).expectedMs).toBe(90);
  });

  it('explores a node it saw faster once a gap has passed, one probe at a time, doubling while slow', () => {
    const view = new LiveView(live);
    seen(view, 'near', 50, 10, 10_000);
    seen(view, 'near', 400, 2, 12_000); // slowed: traffic leaves it
    const at = (t: number) => view.lens('FRA', t, { explore: true });
    expect(at(12_000 + live.exploreMs - 1).explore!('near', 50, 100)).toBe(false);
    const due = 12_000 + live.exploreMs;
    expect(at(due).explore!('near', 50, 100)).toBe(true);
    expect(at(due + 10).explore!('near', 50, 100)).toBe(false); // the probe is out
    view.observe('FRA', 'near', 410, true, due + 400); // still slow: the gap doubles
    expect(at(due + 400 + 2 * live.exploreMs - 1).explore!('near', 50, 100)).toBe(false);
    const next = due + 400 + 2 * live.exploreMs;
    expect(at(next).explore!('near', 50, 100)).toBe(true);
    view.observe('FRA', 'near', 55, true, next + 60); // recovered: fresh and fast again
    expect(at(next + 60).estimate('near', 50).expectedMs).toBeLessThan(60);
  });

  it('does not explore a node that was never better than the leader, by its own samples or the table', () => {
    const view = new LiveView(live);
    seen(view, 'far', 300, 3, 3_000);
    expect(view.lens('FRA', 1e9, { explore: true }).explore!('far', 250, 200)).toBe(false);
    expect(view.lens('FRA', 1e9, { explore: true }).explore!('far', 150, 200)).toBe(true);
  });

  it('judges a node by its level before it rose, not by the lowest estimate it ever reached', () => {
    const view = new LiveView(live);
    view.observe('FRA', 'far', 250, true, 0); // one lucky early sample…
    seen(view, 'far', 300, 30, 31_000); // …then its level, reached without a rise: not worth a probe at 270
    expect(view.lens('FRA', 1e9, { explore: true }).explore!('far', 400, 270)).toBe(false);
    seen(view, 'far', 900, 2, 33_000); // rose: the bar stays at what it did before (300)
    expect(view.lens('FRA', 1e9, { explore: true }).explore!('far', 400, 350)).toBe(true);
  });
});

describe('JSON answers, normalised by what they wrote', () => {
  const scope = 'FRA/chat';
  it('learns one per-token reference from answers of different sizes, pooled within nodes whose base times differ', () => {
    const rates = new OutputRates();
    // 'near' writes long answers while 'far' (base 300) writes short ones: only a within-node fit reads 2 ms/token.
    [10, 40, 80, 120, 200].forEach((k, i) => {
      rates.observe(scope, 'm', 'near', 50 + 2 * k, k + 100, i * 1000);
      rates.observe(scope, 'm', 'far', 300 + 2 * k, k, i * 1000 + 500);
    });
    expect(rates.msPerToken(scope, 'm', 5_000)).toBeCloseTo(2, 6);
    expect(rates.msPerToken(scope, 'other-model', 5_000)).toBe(0);
  });

  it('keeps the per-token reference while its leader\'s decoding is slowed, so the slowed answers keep reading slow, and learns again once it is back', () => {
    const view = new LiveView(live);
    const answer = (t: number, perToken: number, k: number) => view.observeAnswer(scope, 'm', 'near', 50 + perToken * k, k, t);
    for (let i = 0; i < 20; i++) answer(i * 1000, 2, i % 2 ? 80 : 40);
    expect(view.rates.msPerToken(scope, 'm', 20_000)).toBeCloseTo(2, 1);
    // Decoding 5× slower for two minutes: the only node this isolate samples must not teach the reference its new speed.
    for (let i = 20; i < 140; i++) answer(i * 1000, 10, i % 2 ? 80 : 40);
    expect(view.rates.msPerToken(scope, 'm', 140_000)).toBeCloseTo(2, 1);
    expect(view.lens(scope, 140_000, { explore: false }).estimate('near', 100).expectedMs).toBeGreaterThan(300);
    // Back to its speed: released, it teaches the reference again.
    for (let i = 140; i < 150; i++) answer(i * 1000, 2, i % 2 ? 80 : 40);
    expect(view.lens(scope, 150_000, { explore: false }).estimate('near', 100).expectedMs).toBeLessThan(200);
    for (let i = 150; i < 160; i++) answer(i * 1000, 3, i % 2 ? 80 : 40);
    expect(view.rates.msPerToken(scope, 'm', 160_000)).toBeGreaterThan(2.2);
  });

  it('counts a slowed node\'s rise from two answers in a row of different sizes (their ratios, not their base-equivalent ms)', () => {
    const view = new LiveView(live);
    [40, 80, 40, 80, 40, 80, 40, 80].forEach((k, i) => view.observeAnswer(scope, 'm', 'near', 50 + 2 * k, k, i * 1000));
    const before = view.lens(scope, 8_000, { explore: false }).estimate('near', 100).expectedMs;
    // Decoding 3× slower: a short answer 2.2× what was expected of it, then a long one 3.4× (under the 4× jump).
    view.observeAnswer(scope, 'm', 'near', 50 + 6 * 20, 20, 9_000);
    view.observeAnswer(scope, 'm', 'near', 50 + 6 * 300, 300, 10_000);
    expect(view.lens(scope, 10_000, { explore: false }).estimate('near', 100).expectedMs).toBeGreaterThan(before * 3);
  });

  it('does not move traffic for a long answer written at normal speed, and does for answers of the same size that slowed', () => {
    const view = new LiveView(live);
    [5, 60, 5, 60, 5, 60].forEach((k, i) => view.observeAnswer(scope, 'm', 'near', 20 + k, k, i * 1000));
    const before = view.lens(scope, 6_000, { explore: false }).estimate('near', 100).expectedMs;
    expect(view.observeAnswer(scope, 'm', 'near', 20 + 500, 500, 7_000)).toBeCloseTo(20, 0); // 25× the tokens, same node speed
    expect(view.lens(scope, 7_000, { explore: false }).estimate('near', 100).expectedMs).toBeLessThan(before * 1.5);
    view.observeAnswer(scope, 'm', 'near', 20 + 8 * 60, 60, 8_000); // decoding 8× slower, same size
    expect(view.lens(scope, 8_000, { explore: false }).estimate('near', 100).expectedMs).toBeGreaterThan(300);
  });

  it('keeps a node\'s first byte for streams when only its answers slowed, and ranks JSON answers by what they add', () => {
    const view = new LiveView(live);
    const both = (t: number, perToken: number, k: number) => {
      view.observe(scope, 'near', 50, true, t);
      view.observeAnswer(scope, 'm', 'near', 50 + perToken * k, k, t + 500);
    };
    [10, 100, 10, 100, 10, 100].forEach((k, i) => both(i * 1000, 2, k));
    const lens = (t: number, answer: boolean) => view.lens(scope, t, { explore: false, answer });
    expect(lens(6_000, true).estimate('near', 50).expectedMs).toBeLessThan(60);
    both(6_000, 16, 100); // decoding 8× slower, first byte unchanged: two in a row
    both(7_000, 16, 100);
    expect(lens(8_000, false).estimate('near', 50).expectedMs).toBeLessThan(60);
    expect(lens(8_000, true).estimate('near', 50).expectedMs).toBeGreaterThan(300);
  });

  it('while the per-token time is unknown, lets a much longer answer teach it and move nothing', () => {
    const view = new LiveView(live);
    for (let i = 0; i < 5; i++) view.observeAnswer(scope, 'm', 'near', 25, 5, i * 1000);
    expect(view.rates.msPerToken(scope, 'm', 5_000)).toBe(0);
    view.observeAnswer(scope, 'm', 'near', 520, 500, 5_000); // 20× as long: a long answer or a slow node — it cannot tell yet
    expect(view.lens(scope, 5_000, { explore: false }).estimate('near', 100).expectedMs).toBeLessThan(30);
    expect(view.rates.msPerToken(scope, 'm', 5_000)).toBeCloseTo(1, 1);
  });

  it("takes a node's first first byte after its JSON answers as the news it is, as old as those answers are", () => {
    const view = new LiveView(live);
    [20, 100, 20, 100].forEach((k, i) => view.observeAnswer(scope, 'm', 'near', 50 + 4 * k, k, i * 1000));
    // One long answer on 'far', a minute ago, read slow (its base ~450 ms: an early reference, or noise)…
    view.observeAnswer(scope, 'm', 'far', 450 + 4 * 300, 300, 5_000);
    expect(view.lens(scope, 5_000, { explore: false }).estimate('far', Infinity).expectedMs).toBeGreaterThan(400);
    // …and a stream's first byte now says 200: the figure follows it (it stayed at 450 — the sample weighed nothing — yet
    // counted as a whole first byte of evidence, so the node was never explored again: sim mixed seed 9, DFW all run).
    view.observe(scope, 'far', 200, true, 65_000);
    expect(view.lens(scope, 65_000, { explore: false }).estimate('far', Infinity).expectedMs).toBeLessThan(210);
  });

  it('forgets figures fed by whole answers before the per-token reference was known, once answers can be split', () => {
    const view = new LiveView(live);
    view.observeAnswer(scope, 'm', 'far', 50 + 4 * 100, 100, 0); // no reference yet: 450 ms in the base unit
    expect(view.lens(scope, 0, { explore: false }).estimate('far', 200).expectedMs).toBe(450); // bad news stands…
    [20, 100, 20, 100].forEach((k, i) => view.observeAnswer(scope, 'm', 'near', 50 + 4 * k, k, 1000 + i * 1000));
    expect(view.rates.msPerToken(scope, 'm', 5_000)).toBeGreaterThan(3);
    view.observeAnswer(scope, 'm', 'near', 50 + 4 * 60, 60, 6_000); // the first split answer
    expect(view.lens(scope, 6_000, { explore: false }).estimate('far', 200).expectedMs).toBe(200); // …until then: the table again
  });
});

describe('attempts still in flight', () => {
  it('reads a stream out past the figure as at least its elapsed time, and lets the sample take over when it ends', () => {
    const view = new LiveView(live);
    seen(view, 'near', 100, 10, 10_000);
    const end = view.begin('FRA', 'near', 10_500, 0);
    const at = (t: number) => view.lens('FRA', t, { explore: false }).estimate('near', 100).expectedMs;
    // Within what the node's figure allows (up to 4×, `OVERDUE`): nothing yet — an attempt out is not evidence by itself.
    expect(at(10_900)).toBe(100);
    // Out 500 ms against a 100-ms figure: the node reads at least that, and more while it stays out (a hang).
    expect(at(11_000)).toBe(500);
    expect(at(15_500)).toBe(5_000);
    // Other scopes and nodes are untouched.
    expect(view.lens('CDG', 15_500, { explore: false }).estimate('near', 100).expectedMs).toBe(100);
    end();
    expect(at(15_500)).toBe(100);
  });

  it('allows a body above the scope\'s mean size its extra prefill', () => {
    const view = new LiveView(live);
    // Bodies of 1,000 and 41,000 bytes: the larger's first byte 200 ms later (5 µs a byte).
    for (let i = 0; i < 40; i++) {
      const bytes = i % 2 ? 41_000 : 1_000;
      const t = i * 1000;
      view.observe('FRA', 'near', view.prefilled('FRA', 'near', 100 + (bytes - 1_000) * 0.005, bytes, t, true), true, t);
    }
    const big = view.begin('FRA', 'near', 40_000, 41_000);
    // Figures are at the mean size, ≈ 21,000 bytes (≈ 200 ms): the 41,000-byte body is allowed ≈ 100 ms more, so
    // out 850 ms it is within 4× of the figure (850 − 100); without the allowance it would read 850.
    const at = view.lens('FRA', 40_000 + 850, { explore: false }).estimate('near', 200).expectedMs;
    expect(at).toBeGreaterThan(190);
    expect(at).toBeLessThan(220);
    big();
  });

  it('bounds a JSON answer still out by the decoding of its cap, and says nothing while no per-token time is known', () => {
    const scope = 'FRA/chat';
    const lens = (v: LiveView, t: number) => v.lens(scope, t, { explore: false, answer: true }).estimate('near', 100).expectedMs;
    const unknown = new LiveView(live);
    unknown.observe(scope, 'near', 100, true, 0);
    const out = unknown.begin(scope, 'near', 0, 0, { model: 'm', cap: 10 });
    expect(lens(unknown, 60_000)).toBe(100);
    out();
    const view = new LiveView(live);
    // Answers of 50 and 150 tokens at 2 ms a token on a 100-ms base.
    for (let i = 0; i < 20; i++) {
      const k = i % 2 ? 150 : 50;
      view.observeAnswer(scope, 'm', 'near', 100 + 2 * k, k, i * 1000);
    }
    const before = lens(view, 20_000);
    const end = view.begin(scope, 'near', 20_000, 0, { model: 'm', cap: 400 });
    // Out 900 ms: its 400 tokens at 2 ms a token take that long at the node's usual speed — nothing.
    expect(lens(view, 20_900)).toBeCloseTo(before, 6);
    // Out 3 s: at least 3,000 − 800 = 2,200 ms of base — the node reads slow while it is out.
    expect(lens(view, 23_000)).toBeGreaterThan(2_000);
    end();
    expect(lens(view, 23_000)).toBeCloseTo(before, 6);
    // A smaller cap bounds it sooner: at most 20 tokens, so 900 ms out is ≥ 860 of base.
    const capped = view.begin(scope, 'near', 30_000, 0, { model: 'm', cap: 20 });
    expect(lens(view, 30_900)).toBeGreaterThan(800);
    capped();
  });
});


describe('rankCandidates with the live view', () => {
  const table: RouteTable = buildTable('FRA', { lat: 50, lon: 8.6 }, {}, [NEAR, FAR], {}, routing, 0);

  it('moves traffic off a node this isolate just saw slow down, before any new table', () => {
    const view = new LiveView(live);
    const lens = (t: number) => ({ live: view.lens('FRA', t, { explore: true }), random: () => 0.5 });
    expect(rankCandidates([NEAR, FAR], { colo: 'FRA' }, table, routing, lens(0)).ranked[0]!.node.id).toBe('near');
    seen(view, 'near', 900, 2, 2_000);
    const r = rankCandidates([NEAR, FAR], { colo: 'FRA' }, table, routing, lens(2_000)).ranked;
    expect(r.map((c) => c.node.id)).toEqual(['far', 'near']);
    expect(r[1]!.liveMs).toBe(900);
    // Once the gap has passed, one request re-tries it first.
    const later = rankCandidates([NEAR, FAR], { colo: 'FRA' }, table, routing, lens(2_000 + live.exploreMs)).ranked;
    expect(later[0]).toMatchObject({ node: { id: 'near' }, exploring: true });
  });
});

describe('the monitor cycle, pure', () => {
  const health = HealthSchema.parse({});
  it('walks every probed node and reports transitions', () => {
    const probes = new Map([
      ['near', { ok: false, latencyMs: 5, error: 'refused' }],
      ['far', { ok: true, latencyMs: 90 }],
    ]);
    let states = {};
    const seenTransitions = [];
    for (let i = 0; i < health.downAfter; i++) {
      const walked = walkHealth([NEAR, FAR], states, probes, {}, health, i);
      states = walked.states;
      seenTransitions.push(...walked.transitions);
    }
    expect(seenTransitions.map((t) => `${t.nodeId}:${t.from}>${t.to}`)).toEqual(['near:healthy>degraded', 'near:degraded>down']);
  });

  it('publishes on a transition or when the tables are old, and builds _default beside every colo', () => {
    expect(publishDue(0, 0, 0, PUBLISH_EVERY_MS - 1)).toBe(false);
    expect(publishDue(1, 0, 0, 1)).toBe(true);
    expect(publishDue(0, 0, 0, PUBLISH_EVERY_MS)).toBe(true);
    // A probe shift publishes early, but not within SHIFT_PUBLISH_GAP_MS of the last publish.
    expect(publishDue(0, 1, 0, SHIFT_PUBLISH_GAP_MS - 1)).toBe(false);
    expect(publishDue(0, 1, 0, SHIFT_PUBLISH_GAP_MS)).toBe(true);
    const { tables } = buildTables([{ colo: 'FRA', coords: { lat: 50, lon: 8.6 }, stats: {} }], [NEAR, FAR], { near: { ...walkHealth([NEAR], {}, new Map([['near', { ok: false, latencyMs: 1 }]]), {}, health, 0).states.near! } }, routing, 0);
    expect(tables.map((t) => t.colo)).toEqual(['FRA', '_default']);
    expect(tables[0]!.health).toEqual({ near: 'degraded', far: 'healthy' });
  });
});
