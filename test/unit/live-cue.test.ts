import { describe, expect, it } from 'vitest';
import { HealthSchema, NodeSchema, RoutingSchema } from '../../src/config/schema';
import { buildTables, probeShifts, pushDue, walkHealth } from '../../src/health/cycle';
import type { NodeHealth } from '../../src/health/state';
import { CALM_AFTER_MS, CORROBORATED, MonitorFigures } from '../../src/routing/live-cue';
import { LiveView } from '../../src/routing/live';
import { buildTable } from '../../src/routing/scores';
import { rankCandidates } from '../../src/routing/select';

const routing = RoutingSchema.parse({});
const live = routing.live;
const health = HealthSchema.parse({});
const node = (id: string, lat: number, lon: number) => NodeSchema.parse({ id, baseUrl: 'http://x/v1', region: id, lat, lon, models: ['m'] });
const NEAR = node('near', 50, 8);
const FAR = node('far', 51, 0);

/** The monitor's states after it probed `near` answering in each of `ms`, 10 s apart. */
function probed(...ms: number[]): Record<string, NodeHealth>[] {
  const out: Record<string, NodeHealth>[] = [{}];
  ms.forEach((latencyMs, i) => out.push(walkHealth([NEAR], out[i]!, new Map([['near', { ok: true, latencyMs }]]), {}, health, i * 10_000).states));
  return out.slice(1);
}

/** A view that has held `near` slow since 12 s (fast before, two slow samples in a row). */
function heldSlow(): LiveView {
  const view = new LiveView(live);
  for (let t = 1_000; t <= 10_000; t += 1_000) view.observe('FRA', 'near', 50, true, t);
  view.observe('FRA', 'near', 400, true, 11_000);
  view.observe('FRA', 'near', 400, true, 12_000);
  return view;
}

describe('the monitor publishes a clear move of a probe figure at once', () => {
  it('counts one probe past JUMP, or two in a row past PEAK_RISE on the same side, against the figure last published', () => {
    const published = { near: 100 };
    const [a, b] = probed(100, 500); // 5×: at once
    expect(probeShifts(a!, b!, published)).toBe(1);
    const [c, d, e] = probed(100, 200, 210); // 2×: a blip, then a move
    expect(probeShifts(c!, d!, published)).toBe(0);
    expect(probeShifts(d!, e!, published)).toBe(1);
    expect(probeShifts(d!, e!, {})).toBe(0); // nothing published yet: the regular publish carries it
  });

  it('pushes such a move to the colos (the fast channel) against the figures they know, by the same rule', () => {
    const [a, b, c] = probed(100, 500, 520);
    expect(pushDue(a!, b!, { near: 100 })).toBe(true);
    expect(pushDue(b!, c!, { near: 500 })).toBe(false); // pushed already: the colos know it
    expect(pushDue(a!, b!, {})).toBe(false); // nothing known yet: the tables carry it
  });

  it('carries every node\'s latest answered probe in the tables, and leaves out a failed one', () => {
    const ok = probed(120).at(-1)!;
    const states = { ...ok, ...walkHealth([FAR], {}, new Map([['far', { ok: false, latencyMs: 5_000 }]]), {}, health, 0).states };
    const { tables, probeMs } = buildTables([{ colo: 'FRA', coords: { lat: 50, lon: 8.6 }, stats: {} }], [NEAR, FAR], states, routing, 0);
    expect(probeMs).toEqual({ near: 120 });
    expect(tables.map((t) => t.probeMs)).toEqual([{ near: 120 }, { near: 120 }]);
  });
});

describe('the live view reads the monitor\'s probe figures for a node it holds slow', () => {
  const at = (view: LiveView, t: number) => view.lens('FRA', t, { explore: true });
  /** The table's figures: `near` at `ms`, as of the monitor's cycle at 0. */
  const fig = (ms: number) => ({ at: 0, probeMs: { near: ms } });

  it('re-tries the node as soon as the figure falls clearly, before its gap, once per fall', () => {
    const view = heldSlow();
    expect(at(view, 13_000).explore!('near', 50, 100, fig(160))).toBe(false); // the figure when it rose
    expect(at(view, 20_000).explore!('near', 50, 100, fig(1_280))).toBe(false); // the monitor sees it too
    expect(at(view, 30_000).explore!('near', 50, 100, fig(160))).toBe(true); // and sees it recover: well within the gap
    expect(at(view, 31_000).explore!('near', 50, 100, fig(160))).toBe(false); // the probe is out; the same figure cues no more
  });

  it('lets the schedule wait while the monitor still sees the slowdown, with a safety net', () => {
    const view = heldSlow();
    at(view, 13_000).explore!('near', 50, 100, fig(160));
    expect(at(view, 12_000 + live.exploreMs).explore!('near', 50, 100, fig(1_280))).toBe(false);
    expect(at(view, 12_000 + CORROBORATED * live.maxExploreMs - 1).explore!('near', 50, 100, fig(1_280))).toBe(false);
    expect(at(view, 12_000 + CORROBORATED * live.maxExploreMs).explore!('near', 50, 100, fig(1_280))).toBe(true);
  });

  it('keeps the schedule where the monitor\'s probe did not share the slowdown', () => {
    const view = heldSlow();
    expect(at(view, 13_000).explore!('near', 50, 100, fig(160))).toBe(false);
    expect(at(view, 12_000 + live.exploreMs).explore!('near', 50, 100, fig(150))).toBe(true);
  });

  it('reads the newer of the table\'s figures and those heard through the fast channel', () => {
    const view = heldSlow();
    const table = { at: 20_000, probeMs: { near: 1_280 } }; // the monitor saw the slowdown; KV carries it
    expect(at(view, 21_000).explore!('near', 50, 100, table)).toBe(false);
    view.hear({ at: 5_000, probeMs: { near: 160 } }); // older than the table: not read
    expect(at(view, 22_000).explore!('near', 50, 100, table)).toBe(false);
    view.hear({ at: 30_000, probeMs: { near: 160 } }); // the recovery, pushed: the table still says slow
    view.hear({ at: 25_000, probeMs: { near: 1_280 } }); // a late older push does not undo it
    expect(at(view, 31_000).explore!('near', 50, 100, table)).toBe(true);
  });

  it('measures a slowdown the monitor reported before the view held the node slow from the figure before it', () => {
    const view = new LiveView(live);
    for (let t = 1_000; t <= 10_000; t += 1_000) view.observe('FRA', 'near', 50, true, t);
    at(view, 10_500).explore!('near', 50, 100, fig(160)); // read while the node leads: its calm figure
    view.hear({ at: 11_000, probeMs: { near: 1_280 } }); // the fast channel brings the rise first
    view.observe('FRA', 'near', 400, true, 12_000);
    view.observe('FRA', 'near', 400, true, 13_000); // only now held slow
    at(view, 13_500).explore!('near', 50, 100, fig(160));
    // The monitor corroborates the slowdown: the schedule's probe waits past its gap.
    expect(at(view, 13_000 + live.exploreMs).explore!('near', 50, 100, fig(160))).toBe(false);
    view.hear({ at: 20_000, probeMs: { near: 160 } });
    expect(at(view, 13_000 + live.exploreMs + 1).explore!('near', 50, 100, fig(160))).toBe(true); // and its fall cues the probe
  });

  it('takes a rise that has stood CALM_AFTER_MS since the calm figure was last seen as the node\'s new calm figure', () => {
    const figures = new MonitorFigures();
    figures.read({ at: 0, probeMs: { near: 160 } });
    figures.read({ at: 10_000, probeMs: { near: 1_280 } });
    expect(figures.calmOf('near')).toBe(160); // a rise: the calm figure stands
    figures.read({ at: CALM_AFTER_MS - 1, probeMs: { near: 1_280 } }); // counted from the calm figure's last confirmation (0)
    expect(figures.calmOf('near')).toBe(160);
    figures.read({ at: CALM_AFTER_MS, probeMs: { near: 1_300 } });
    expect(figures.calmOf('near')).toBe(1_300);
    figures.read({ at: CALM_AFTER_MS + 10_000, probeMs: { near: 150 } }); // a fall is calm at once
    expect(figures.calmOf('near')).toBe(150);
  });

  it('takes the figure from the caller\'s table when ranking', () => {
    const view = heldSlow();
    const table = (probeMs: Record<string, number>) => ({ ...buildTable('FRA', { lat: 50, lon: 8.6 }, {}, [NEAR, FAR], {}, routing, 0), probeMs });
    const rank = (t: number, probeMs: Record<string, number>) => rankCandidates([NEAR, FAR], { colo: 'FRA' }, table(probeMs), routing, { live: view.lens('FRA', t, { explore: true }), random: () => 0.5 }).ranked;
    expect(rank(13_000, { near: 160 })[0]!.node.id).toBe('far');
    expect(rank(20_000, { near: 1_280 })[0]!.node.id).toBe('far');
    expect(rank(30_000, { near: 160 })[0]).toMatchObject({ node: { id: 'near' }, exploring: true });
  });
});
