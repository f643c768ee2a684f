import { describe, expect, it } from 'vitest';
import { HealthSchema, NodeSchema, RoutingSchema, type NodeConfig } from '../../src/config/schema';
import { nextHealth, INITIAL_HEALTH, type NodeHealth, type ProbeResult } from '../../src/health/state';
import { buildTable, expectedLatency, foldSample, priorMs, type RouteTable } from '../../src/routing/scores';
import { rankCandidates } from '../../src/routing/select';
import { LiveView } from '../../src/routing/live';
import { distanceKm } from '../../src/routing/geo';
import { networkModel, nodeOffsets } from '../../src/routing/network';

const routing = RoutingSchema.parse({});
const health = HealthSchema.parse({});
const node = (id: string, lat: number, lon: number, extra: Partial<NodeConfig> = {}): NodeConfig =>
  NodeSchema.parse({ id, baseUrl: 'http://x/v1', region: id, lat, lon, models: ['m'], ...extra });
const US = node('us', 39, -77, { country: 'US', continent: 'NA' });
const EU = node('eu', 50, 8, { country: 'DE', continent: 'EU' });
const AP = node('ap', 35.7, 139.7, { country: 'JP', continent: 'AS' });

describe('time-decayed samples', () => {
  it('averages good samples and counts failures apart', () => {
    let s = foldSample(undefined, { colo: 'X', node: 'us', ttfbMs: 100, ok: true, at: 0 }, 1000);
    s = foldSample(s, { colo: 'X', node: 'us', ttfbMs: 300, ok: true, at: 0 }, 1000);
    s = foldSample(s, { colo: 'X', node: 'us', ttfbMs: 0, ok: false, at: 0 }, 1000);
    expect(s.sum / s.good).toBe(200);
    expect(s.failed).toBe(1);
  });

  it('halves old weight every half-life, so new data takes over', () => {
    let s = foldSample(undefined, { colo: 'X', node: 'us', ttfbMs: 100, ok: true, at: 0 }, 1000);
    s = foldSample(s, { colo: 'X', node: 'us', ttfbMs: 500, ok: true, at: 3000 }, 1000);
    // old weight 1/8, new weight 1: mean = (100/8 + 500) / (1/8 + 1)
    expect(s.sum / s.good).toBeCloseTo((12.5 + 500) / 1.125, 6);
  });
});

describe('expected latency', () => {
  it('is the prior with no samples, samples-dominated with many', () => {
    expect(expectedLatency(undefined, 80, routing, 0)).toMatchObject({ expectedMs: 80, source: 'prior' });
    const many = { sum: 200 * 100, good: 100, failed: 0, at: 0 };
    const e = expectedLatency(many, 80, routing, 0);
    expect(e.source).toBe('blend');
    expect(e.expectedMs).toBeCloseTo((100 * 200 + 3 * 80) / 103, 6);
  });

  it('builds one table per colo with every node, using the colo position for the prior', () => {
    const t = buildTable('FRA', { lat: 50, lon: 8.6 }, {}, [US, EU], { us: 'healthy', eu: 'down' }, routing, 5);
    expect(t.nodes.eu!.expectedMs).toBeLessThan(t.nodes.us!.expectedMs);
    expect(t.health).toEqual({ us: 'healthy', eu: 'down' });
  });
});

describe('node offsets (the prior learns each node\'s own share of latency)', () => {
  it('is the sample-weighted excess over the distance-only prior, across colos', () => {
    const here = { lat: 40, lon: -75 };
    const far = { lat: 51, lon: 0 };
    const stat = (mean: number, n: number) => ({ sum: mean * n, good: n, failed: 0, at: 0 });
    const nearPrior = priorMs(routing, US, here.lat, here.lon)!;
    const farPrior = priorMs(routing, US, far.lat, far.lon)!;
    const offsets = nodeOffsets([{ coords: here, stats: { us: stat(nearPrior + 100, 30) } }, { coords: far, stats: { us: stat(farPrior + 200, 10) } }], [US, EU], routing, 0);
    expect(offsets.us).toBeCloseTo((30 * 100 + 10 * 200) / 40, 6);
    expect(offsets.eu).toBeUndefined();
  });

  it('learns the network\'s ms per km from colos at different distances, and each node\'s offset at it', () => {
    const stat = (mean: number, n: number) => ({ sum: mean * n, good: n, failed: 0, at: 0 });
    // True: 0.035 ms/km on every path (the configured figure is 0.02), us 150 ms and eu 90 ms of its own.
    const colos = [
      { lat: 40, lon: -75 },
      { lat: 34, lon: -118 },
      { lat: 51, lon: 0 },
      { lat: 35.7, lon: 139.7 },
    ].map((c) => {
      const ms = (n: NodeConfig, own: number) => routing.priorBaseMs + 0.035 * distanceKm(c.lat, c.lon, n.lat, n.lon) + own;
      return { coords: c, stats: { us: stat(ms(US, 150), 50), eu: stat(ms(EU, 90), 50) } };
    });
    const { msPerKm, offsets } = networkModel(colos, [US, EU], routing, 0);
    expect(msPerKm).toBeCloseTo(0.035, 3);
    expect(offsets.us).toBeCloseTo(150, 0);
    expect(offsets.eu).toBeCloseTo(90, 0);
    // A colo with no samples of its own: its prior uses the learnt slope.
    const t = buildTable('SYD', { lat: -33.9, lon: 151 }, {}, [US], {}, routing, 0, offsets, msPerKm);
    expect(t.nodes.us!.priorMs).toBeCloseTo(routing.priorBaseMs + 0.035 * distanceKm(-33.9, 151, US.lat, US.lon) + 150, 0);
  });

  it('keeps the configured ms per km while distances do not vary', () => {
    const stat = { sum: 300 * 20, good: 20, failed: 0, at: 0 };
    expect(networkModel([{ coords: { lat: 40, lon: -75 }, stats: { us: stat } }], [US], routing, 0).msPerKm).toBeCloseTo(routing.priorMsPerKm, 9);
  });

  it('raises the prior of a colo that never used the node', () => {
    const t = buildTable('SYD', { lat: -33.9, lon: 151 }, {}, [US], {}, routing, 0, { us: 120 });
    expect(t.nodes.us!.priorMs).toBeCloseTo(priorMs(routing, US, -33.9, 151)! + 120, 6);
  });
});

describe('rankCandidates', () => {
  const table = (nodes: RouteTable['nodes'], h: RouteTable['health'] = {}): RouteTable => ({ colo: 'X', generatedAt: 0, nodes, health: h });
  const ids = (r: ReturnType<typeof rankCandidates>) => r.ranked.map((c) => c.node.id);

  it('uses the colo table over the geo prior', () => {
    const t = table({ us: { expectedMs: 400, source: 'samples', samples: 20 }, eu: { expectedMs: 120, source: 'samples', samples: 20 } });
    expect(ids(rankCandidates([US, EU], { lat: 39, lon: -77 }, t, routing))).toEqual(['eu', 'us']);
  });

  it('excludes down nodes unless all are down', () => {
    const r = rankCandidates([US, EU], { lat: 39, lon: -77 }, table({}, { us: 'down' }), routing);
    expect(ids(r)).toEqual(['eu']);
    expect(r.excluded[0]).toMatchObject({ excluded: 'down (health checks)' });
    expect(ids(rankCandidates([US, EU], {}, table({}, { us: 'down', eu: 'down' }), routing))).toHaveLength(2);
  });

  it('penalises degraded nodes without excluding them', () => {
    const t = table({ us: { expectedMs: 100, source: 'samples', samples: 9 }, eu: { expectedMs: 300, source: 'samples', samples: 9 } }, { us: 'degraded' });
    const r = rankCandidates([US, EU], {}, t, routing);
    expect(ids(r)).toEqual(['eu', 'us']);
    expect(r.ranked[1]!.penaltyMs).toBe(100 * (routing.degradedFactor - 1) + routing.degradedPenaltyMs);
  });

  it('spreads near-ties by weight', () => {
    const heavy = { ...EU, id: 'eu2', weight: 3 };
    const t = table({ eu: { expectedMs: 100, source: 'samples', samples: 9 }, eu2: { expectedMs: 100, source: 'samples', samples: 9 } });
    let seed = 1;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    let heavyFirst = 0;
    for (let i = 0; i < 4000; i++) if (rankCandidates([EU, heavy], {}, t, routing, { random: rand }).ranked[0]!.node.id === 'eu2') heavyFirst++;
    expect(heavyFirst / 4000).toBeGreaterThan(0.7); // weight 3 vs 1: P = 0.75
    expect(heavyFirst / 4000).toBeLessThan(0.8);
  });

  it('gives a near-tie a share that shrinks with how far it is behind the best, none at the margin', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const share = (behindMs: number) => {
      const t = table({ eu: { expectedMs: 100, source: 'samples', samples: 9 }, us: { expectedMs: 100 + behindMs, source: 'samples', samples: 9 } });
      let usFirst = 0;
      for (let i = 0; i < 4000; i++) if (rankCandidates([US, EU], {}, t, routing, { random: rand }).ranked[0]!.node.id === 'us') usFirst++;
      return usFirst / 4000;
    };
    // Weights 1 and 1 − behind/margin (margin 10%): 5% behind gets 1/3, 9% behind 1/11 — not the even split it had.
    expect(share(5)).toBeGreaterThan(0.3);
    expect(share(5)).toBeLessThan(0.37);
    expect(share(9)).toBeGreaterThan(0.06);
    expect(share(9)).toBeLessThan(0.12);
  });

  it('spends no exploration probe on a node that could win back no more than the tie margin', () => {
    const probed = (leaderTableMs: number) => {
      const view = new LiveView(routing.live);
      for (let i = 0; i < 10; i++) view.observe('X', 'eu', 100, true, i * 1000);
      view.observe('X', 'eu', 400, true, 10_000); // slowed: traffic leaves it
      view.observe('X', 'eu', 400, true, 11_000);
      const t = table({ eu: { expectedMs: 100, source: 'samples', samples: 9 }, us: { expectedMs: leaderTableMs, source: 'samples', samples: 9 } });
      const r = rankCandidates([US, EU], {}, t, routing, { random: () => 0.5, live: view.lens('X', 11_000 + routing.live.maxExploreMs, { explore: true }) });
      return r.ranked[0]!.exploring === true;
    };
    expect(probed(104)).toBe(false); // back at its best it would be 4% ahead: within the margin, not worth a slow request
    expect(probed(130)).toBe(true); // 23% ahead: worth a probe
  });

  it('does not spread nodes outside the margin', () => {
    const t = table({ eu: { expectedMs: 100, source: 'samples', samples: 9 }, us: { expectedMs: 150, source: 'samples', samples: 9 } });
    for (let i = 0; i < 50; i++) expect(ids(rankCandidates([US, EU], {}, t, routing))[0]).toBe('eu');
  });

  it('applies residency pins as hard filters', () => {
    const pinned = RoutingSchema.parse({ pins: [{ continents: ['EU'], nodes: ['eu'] }] });
    const r = rankCandidates([US, EU, AP], { continent: 'EU', lat: 40, lon: -70 }, null, pinned);
    expect(ids(r)).toEqual(['eu']);
    expect(r.excluded.map((c) => c.node.id).sort()).toEqual(['ap', 'us']);
  });

  it('without coordinates, a degraded node goes after healthy ones of its class, before the next class', () => {
    const US2 = node('us2', 40, -75, { country: 'US', continent: 'NA' });
    const t = table({}, { us: 'degraded' });
    expect(ids(rankCandidates([US, US2, EU], { country: 'US' }, t, routing))).toEqual(['us2', 'us', 'eu']);
  });

  it('without coordinates: country, then continent, then config order', () => {
    expect(ids(rankCandidates([US, EU, AP], { country: 'JP' }, null, routing))[0]).toBe('ap');
    expect(ids(rankCandidates([US, EU, AP], { continent: 'EU' }, null, routing))[0]).toBe('eu');
    expect(ids(rankCandidates([US, EU, AP], {}, null, routing))).toEqual(['us', 'eu', 'ap']);
  });
});

describe('health state machine', () => {
  const ok: ProbeResult = { ok: true, latencyMs: 20 };
  const bad: ProbeResult = { ok: false, latencyMs: 5, error: 'HTTP 500' };
  const walk = (probes: ProbeResult[], start: NodeHealth = INITIAL_HEALTH) =>
    probes.reduce<NodeHealth[]>((acc, p, i) => [...acc, nextHealth(acc.at(-1) ?? start, p, undefined, health, i)], []).map((h) => h.state);

  it('healthy → degraded on a failure → down after 3 in a row', () => {
    expect(walk([bad, bad, bad])).toEqual(['degraded', 'degraded', 'down']);
  });

  it('down → healthy after 2 good probes', () => {
    expect(walk([bad, bad, bad, ok, ok])).toEqual(['degraded', 'degraded', 'down', 'down', 'healthy']);
  });

  it('degraded by a slow probe, healthy again after 2 good ones (hysteresis)', () => {
    expect(walk([{ ok: true, latencyMs: 5000 }, ok, ok])).toEqual(['degraded', 'degraded', 'healthy']);
  });

  it('degraded by live failures above the threshold, with enough samples', () => {
    expect(nextHealth(INITIAL_HEALTH, ok, { failureRate: 0.5, samples: 20 }, health, 0).state).toBe('degraded');
    expect(nextHealth(INITIAL_HEALTH, ok, { failureRate: 0.5, samples: 3 }, health, 0).state).toBe('healthy');
  });

  it('records when the state changed', () => {
    const h = nextHealth(INITIAL_HEALTH, bad, undefined, health, 42);
    expect(h.changedAt).toBe(42);
    expect(nextHealth(h, bad, undefined, health, 50).changedAt).toBe(42);
  });
});
