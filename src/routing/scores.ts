/**
 * Latency scores, pure: passive samples folded into time-decayed statistics per
 * (colo, node), and the per-colo table that blends them with the geo prior.
 *
 * Decay: every stored sum is multiplied by 0.5^(Δt / halfLife) before a new sample is
 * added, so a sample's weight halves every `halfLifeMs` — old data fades, and a node that
 * changes (degrades or recovers) is re-learnt within a few half-lives of traffic.
 * Expected first-byte latency = (W·mean + k·prior) / (W + k), W the decayed count of good
 * samples, k = `priorWeight`: the prior dominates a colo with few samples, data dominates
 * one with many.
 *
 * The prior = network estimate from distance + the node's own offset, both learnt from every
 * colo's samples (`network.ts`). So a colo that has never used a node still expects that
 * node's known slowness, instead of exploring it on an optimistic distance-only guess.
 */
import type { NodeConfig, RoutingConfig } from '../config/schema';
import { distanceKm } from './geo';

export type HealthState = 'healthy' | 'degraded' | 'down';

/**
 * An isolate sends its samples to its colo's ColoStats at least this often while it has
 * traffic (`samples.ts`) — and hears the monitor's pushed probe figures in the reply, so this is
 * the fast channel's cadence too (`live-cue.ts`). Here, not in `samples.ts`, so the simulator
 * can read it without the Worker's bindings.
 */
export const SAMPLE_FLUSH_MS = 5_000;

export interface Sample {
  colo: string;
  node: string;
  /** Time to first byte (streams: first chunk; JSON generations: base-equivalent ms, `output-rate.ts`), ms. Only meaningful when ok. */
  ttfbMs: number;
  ok: boolean;
  at: number;
  /** Failed samples: what the upstream said (redacted, for admin views only). */
  error?: string;
}

/** Decayed sums for one (colo, node). */
export interface NodeStat {
  /** Σ weight × ttfb over good samples. */
  sum: number;
  /** Σ weight over good samples. */
  good: number;
  /** Σ weight over failed samples. */
  failed: number;
  at: number;
}

export interface TableEntry {
  expectedMs: number;
  source: 'samples' | 'blend' | 'prior' | 'none';
  /** Decayed good-sample count behind the figure. */
  samples: number;
  sampleMs?: number;
  priorMs?: number;
  /** Decayed failure ratio of live traffic from this colo. */
  failureRate?: number;
}

export interface RouteTable {
  /** Colo code, or `_default` for colos without a table of their own. */
  colo: string;
  generatedAt: number;
  lat?: number;
  lon?: number;
  nodes: Record<string, TableEntry>;
  health: Record<string, HealthState>;
  /** Learnt per-node offsets, for priors computed on the request path (callers of colos without a table). */
  offsets?: Record<string, number>;
  /** Learnt network ms per km (`networkModel`), for the same priors. */
  msPerKm?: number;
  /** The monitor's latest answered probe per node, ms: a node held slow whose probe figure fell clearly is re-tried at once (`live.ts`). */
  probeMs?: Record<string, number>;
}

export function decay(stat: NodeStat, now: number, halfLifeMs: number): NodeStat {
  const dt = Math.max(0, now - stat.at);
  const f = 0.5 ** (dt / halfLifeMs);
  return { sum: stat.sum * f, good: stat.good * f, failed: stat.failed * f, at: Math.max(stat.at, now) };
}

export function foldSample(stat: NodeStat | undefined, sample: Sample, halfLifeMs: number): NodeStat {
  const base = stat ? decay(stat, sample.at, halfLifeMs) : { sum: 0, good: 0, failed: 0, at: sample.at };
  return sample.ok
    ? { ...base, sum: base.sum + sample.ttfbMs, good: base.good + 1 }
    : { ...base, failed: base.failed + 1 };
}

/** Geo prior: network distance turned into an expected first-byte time (`msPerKm`: learnt, else the configured figure), plus the node's learnt offset. */
export function priorMs(routing: RoutingConfig, node: NodeConfig, lat?: number, lon?: number, offsetMs = 0, msPerKm = routing.priorMsPerKm): number | undefined {
  if (lat === undefined || lon === undefined) return undefined;
  return routing.priorBaseMs + msPerKm * distanceKm(lat, lon, node.lat, node.lon) + offsetMs;
}

export function expectedLatency(stat: NodeStat | undefined, prior: number | undefined, routing: RoutingConfig, now: number): TableEntry {
  const s = stat ? decay(stat, now, routing.halfLifeMs) : undefined;
  const good = s?.good ?? 0;
  const total = good + (s?.failed ?? 0);
  const failureRate = s && total > 0 ? s.failed / total : undefined;
  const rate = failureRate === undefined ? {} : { failureRate };
  if (good < 1e-6) {
    return prior === undefined
      ? { expectedMs: Number.POSITIVE_INFINITY, source: 'none', samples: 0, ...rate }
      : { expectedMs: prior, source: 'prior', samples: 0, priorMs: prior, ...rate };
  }
  const mean = s!.sum / good;
  if (prior === undefined) return { expectedMs: mean, source: 'samples', samples: good, sampleMs: mean, ...rate };
  const expectedMs = (good * mean + routing.priorWeight * prior) / (good + routing.priorWeight);
  return { expectedMs, source: 'blend', samples: good, sampleMs: mean, priorMs: prior, ...rate };
}

/** The table one colo reads: every node's expected latency from there, plus health. */
export function buildTable(
  colo: string,
  coords: { lat: number; lon: number } | undefined,
  stats: Record<string, NodeStat>,
  nodes: readonly NodeConfig[],
  health: Record<string, HealthState>,
  routing: RoutingConfig,
  now: number,
  offsets: Record<string, number> = {},
  msPerKm = routing.priorMsPerKm,
): RouteTable {
  const entries: Record<string, TableEntry> = {};
  for (const node of nodes) {
    const prior = priorMs(routing, node, coords?.lat, coords?.lon, offsets[node.id], msPerKm);
    entries[node.id] = expectedLatency(stats[node.id], prior, routing, now);
  }
  return { colo, generatedAt: now, ...(coords ? coords : {}), nodes: entries, health: { ...health }, offsets: { ...offsets }, msPerKm };
}

/** Per node, the decayed failure ratio of live traffic summed over every colo. */
export function liveFailureRates(
  colos: readonly { stats: Record<string, NodeStat> }[],
  halfLifeMs: number,
  now: number,
): Record<string, { failureRate: number; samples: number }> {
  const failed: Record<string, number> = {};
  const total: Record<string, number> = {};
  for (const colo of colos) {
    for (const [id, stat] of Object.entries(colo.stats)) {
      const d = decay(stat, now, halfLifeMs);
      failed[id] = (failed[id] ?? 0) + d.failed;
      total[id] = (total[id] ?? 0) + d.failed + d.good;
    }
  }
  return Object.fromEntries(
    Object.keys(total).map((id) => [id, { failureRate: total[id]! > 0 ? failed[id]! / total[id]! : 0, samples: total[id]! }]),
  );
}
