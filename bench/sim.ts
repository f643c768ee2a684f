/**
 * `npm run sim` — routing simulator (not a test). Drives the router's real scoring and
 * selection code (foldSample, buildTable, rankCandidates, nextHealth) through a synthetic
 * world and compares the latency of the nodes it picks with:
 *   - oracle: per request, the node with the lowest true expected latency at that moment
 *     (knows every degradation and death at once; realised with the same noise draws);
 *   - static nearest-region: the classic GeoIP map (nearest node, failover on error);
 *   - global-latency-only: one decayed latency score per node for all colos.
 *
 * World: 13 colos × 5 nodes. True first-byte latency = node processing time + path RTT
 * (great-circle distance × a per-pair inefficiency, plus a few bad-peering anomalies),
 * times lognormal noise. At 40% of the run ap-northeast slows down 2.5×; at 60% us-west dies.
 * The router's tables are rebuilt every simulated minute (and on health changes) and reach
 * colos 30 s later (KV cacheTtl); probes run every 10 s; each colo has the per-isolate
 * circuit breaker (one isolate per colo). Deterministic (seeded).
 *
 * Knobs: SIM_MINUTES (default 30), SIM_RATE (requests/s per colo, default 1), SIM_SEED.
 */
import { HealthSchema, NodeSchema, RoutingSchema, type NodeConfig } from '../src/config/schema.ts';
import { INITIAL_HEALTH, nextHealth, type NodeHealth } from '../src/health/state.ts';
import { distanceKm } from '../src/routing/geo.ts';
import { CircuitBreaker } from '../src/forward/breaker.ts';
import { buildTable, decay, foldSample, liveFailureRates, nodeOffsets, type HealthState, type NodeStat, type RouteTable } from '../src/routing/scores.ts';
import { rankCandidates } from '../src/routing/select.ts';

const MINUTES = Number(process.env.SIM_MINUTES ?? 30);
const RATE = Number(process.env.SIM_RATE ?? 1);
let seed = Number(process.env.SIM_SEED ?? 42);
const DURATION = MINUTES * 60_000;
const WARMUP = 5 * 60_000;
const PUBLISH_DELAY = 30_000;
const FAIL_COST_MS = 25; // a refused/reset connection: found out fast, then fail over

function rand(): number {
  // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());

const routing = RoutingSchema.parse({});
const health = HealthSchema.parse({});
const node = (id: string, lat: number, lon: number): NodeConfig => NodeSchema.parse({ id, baseUrl: `http://${id}/v1`, region: id, lat, lon, models: ['m'] });
const NODES = [node('us-east', 39.04, -77.49), node('us-west', 37.34, -121.89), node('eu-west', 50.11, 8.68), node('ap-northeast', 35.68, 139.69), node('ap-southeast', 1.35, 103.82)];
const PROCESS: Record<string, number> = { 'us-east': 190, 'us-west': 120, 'eu-west': 160, 'ap-northeast': 150, 'ap-southeast': 210 };
const COLOS: Record<string, [number, number]> = {
  IAD: [38.95, -77.45], ORD: [41.98, -87.9], DFW: [32.9, -97.04], LAX: [33.94, -118.41], SEA: [47.45, -122.31], MIA: [25.79, -80.29],
  GRU: [-23.43, -46.47], LHR: [51.47, -0.45], FRA: [50.03, 8.56], CDG: [49.0, 2.55], NRT: [35.76, 140.39], SIN: [1.36, 103.99], SYD: [-33.94, 151.18],
};
/** Bad peering: extra ms on a few colo→node paths (what a GeoIP map cannot know). */
const ANOMALY: Record<string, number> = { 'MIA>us-east': 140, 'SIN>ap-southeast': 260, 'LHR>eu-west': 90, 'SEA>us-west': 60, 'SYD>ap-southeast': 120 };
const INEFFICIENCY: Record<string, number> = {};
for (const c of Object.keys(COLOS)) for (const n of NODES) INEFFICIENCY[`${c}>${n.id}`] = 1 + rand() * 1.5;

const degradeAt = DURATION * 0.4;
const deathAt = DURATION * 0.6;
const dead = (n: string, t: number) => n === 'us-west' && t >= deathAt;
function trueLatency(colo: string, n: NodeConfig, t: number): number {
  const [lat, lon] = COLOS[colo]!;
  const rtt = 2 * (distanceKm(lat, lon, n.lat, n.lon) / 100) * INEFFICIENCY[`${colo}>${n.id}`]! + (ANOMALY[`${colo}>${n.id}`] ?? 0);
  const processing = PROCESS[n.id]! * (n.id === 'ap-northeast' && t >= degradeAt ? 2.5 : 1);
  return processing + rtt;
}

interface Strategy {
  name: string;
  /** Nodes to try, in order. */
  order(colo: string, t: number): NodeConfig[];
  observe?(colo: string, n: string, ms: number, ok: boolean, t: number): void;
  tick?(t: number): void;
  latencies: { t: number; ms: number }[];
}

function routerStrategy(): Strategy {
  const stats: Record<string, Record<string, NodeStat>> = {};
  const published: { at: number; tables: Record<string, RouteTable> }[] = [];
  const states: Record<string, NodeHealth> = Object.fromEntries(NODES.map((n) => [n.id, INITIAL_HEALTH]));
  let live: Record<string, { failureRate: number; samples: number }> = {};
  let lastPublish = -Infinity;
  let lastProbe = -Infinity;
  const publish = (t: number) => {
    const h: Record<string, HealthState> = Object.fromEntries(NODES.map((n) => [n.id, states[n.id]!.state]));
    const tables: Record<string, RouteTable> = {};
    const offsets = nodeOffsets(Object.entries(stats).map(([c, st]) => ({ coords: { lat: COLOS[c]![0], lon: COLOS[c]![1] }, stats: st })), NODES, routing, t);
    for (const colo of Object.keys(COLOS)) {
      const [lat, lon] = COLOS[colo]!;
      tables[colo] = buildTable(colo, { lat, lon }, stats[colo] ?? {}, NODES, h, routing, t, offsets);
    }
    live = liveFailureRates(Object.values(stats).map((st) => ({ stats: st })), routing.halfLifeMs, t);
    published.push({ at: t + PUBLISH_DELAY, tables });
    lastPublish = t;
  };
  const breakers: Record<string, CircuitBreaker> = {};
  const breaker = (colo: string) => (breakers[colo] ??= new CircuitBreaker({ failureThreshold: 3, cooldownMs: 5_000, maxCooldownMs: 60_000 }));
  const visible = (colo: string, t: number) => {
    for (let i = published.length - 1; i >= 0; i--) if (published[i]!.at <= t) return published[i]!.tables[colo]!;
    return null;
  };
  return {
    name: 'llm-edge-router',
    latencies: [],
    tick(t) {
      if (t - lastProbe >= health.probeIntervalMs) {
        lastProbe = t;
        let changed = false;
        for (const n of NODES) {
          const probe = dead(n.id, t) ? { ok: false, latencyMs: 5, error: 'refused' } : { ok: true, latencyMs: PROCESS[n.id]! };
          const next = nextHealth(states[n.id]!, probe, live[n.id], health, t);
          changed ||= next.state !== states[n.id]!.state;
          states[n.id] = next;
        }
        if (changed) publish(t);
      }
      if (t - lastPublish >= 60_000) publish(t);
    },
    order(colo, t) {
      const [lat, lon] = COLOS[colo]!;
      const ranked = rankCandidates(NODES, { colo, lat, lon }, visible(colo, t), routing, rand).ranked.map((c) => c.node);
      const open = ranked.filter((n) => breaker(colo).blockedFor(n.id, t) === 0);
      return open.length > 0 ? open : ranked; // as the plan does: fail open when all are ejected
    },
    observe(colo, n, ms, ok, t) {
      (stats[colo] ??= {})[n] = foldSample(stats[colo]![n], { colo, node: n, ttfbMs: ms, ok, at: t }, routing.halfLifeMs);
      if (ok) breaker(colo).recordSuccess(n);
      else breaker(colo).recordFailure(n, t, 'failed');
    },
  };
}

function nearestStrategy(): Strategy {
  return {
    name: 'static nearest-region',
    latencies: [],
    order(colo) {
      const [lat, lon] = COLOS[colo]!;
      return [...NODES].sort((a, b) => distanceKm(lat, lon, a.lat, a.lon) - distanceKm(lat, lon, b.lat, b.lon));
    },
  };
}

function globalStrategy(): Strategy {
  const stats: Record<string, NodeStat> = {};
  return {
    name: 'global-latency-only',
    latencies: [],
    order(_colo, t) {
      const score = (n: NodeConfig) => {
        const s = stats[n.id] ? decay(stats[n.id]!, t, routing.halfLifeMs) : undefined;
        if (!s || s.good < 1e-6) return 0; // unknown: try it
        return (s.sum / s.good) * (1 + (s.failed / (s.good + s.failed)) * 10);
      };
      return [...NODES].sort((a, b) => score(a) - score(b));
    },
    observe(_colo, n, ms, ok, t) {
      stats[n] = foldSample(stats[n], { colo: '*', node: n, ttfbMs: ms, ok, at: t }, routing.halfLifeMs);
    },
  };
}

function oracleStrategy(): Strategy {
  return {
    name: 'oracle',
    latencies: [],
    order(colo, t) {
      return NODES.filter((n) => !dead(n.id, t)).sort((a, b) => trueLatency(colo, a, t) - trueLatency(colo, b, t));
    },
  };
}

const strategies = [oracleStrategy(), routerStrategy(), nearestStrategy(), globalStrategy()];
const colos = Object.keys(COLOS);
const step = 1000 / (RATE * colos.length);
for (let t = 0; t < DURATION; t += step) {
  const colo = colos[Math.floor(rand() * colos.length)]!;
  // One noise draw per node per request, shared by every strategy.
  const noise: Record<string, number> = Object.fromEntries(NODES.map((n) => [n.id, Math.exp(0.15 * gauss())]));
  for (const s of strategies) {
    s.tick?.(t);
    let cost = 0;
    for (const n of s.order(colo, t)) {
      if (dead(n.id, t)) {
        cost += FAIL_COST_MS;
        s.observe?.(colo, n.id, FAIL_COST_MS, false, t);
        continue;
      }
      const ms = trueLatency(colo, n, t) * noise[n.id]!;
      s.observe?.(colo, n.id, ms, true, t);
      cost += ms;
      break;
    }
    s.latencies.push({ t, ms: cost });
  }
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor((p / 100) * (xs.length - 1))]!;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const phases: [string, number, number][] = [
  ['after warm-up (all)', WARMUP, DURATION],
  ['steady', WARMUP, degradeAt],
  ['ap-northeast degraded', degradeAt, deathAt],
  ['us-west dead', deathAt, DURATION],
];
console.log(`Routing simulator — ${colos.length} colos × ${NODES.length} nodes, ${MINUTES} simulated min, ${RATE} req/s per colo, seed ${process.env.SIM_SEED ?? 42}`);
console.log(`events: ap-northeast 2.5× slower at ${(degradeAt / 60_000).toFixed(0)} min, us-west dead at ${(deathAt / 60_000).toFixed(0)} min; warm-up ${WARMUP / 60_000} min excluded\n`);
for (const [label, from, to] of phases) {
  console.log(`${label}:`);
  const oracleMean = mean(strategies[0]!.latencies.filter((l) => l.t >= from && l.t < to).map((l) => l.ms));
  for (const s of strategies) {
    const xs = s.latencies.filter((l) => l.t >= from && l.t < to).map((l) => l.ms);
    const m = mean(xs);
    console.log(`  ${s.name.padEnd(24)} mean ${m.toFixed(1).padStart(7)} ms   p95 ${pct(xs, 95).toFixed(1).padStart(7)} ms   mean vs oracle ${((m / oracleMean - 1) * 100).toFixed(1).padStart(6)}%`);
  }
}
