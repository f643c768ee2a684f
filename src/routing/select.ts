/**
 * Choosing among the nodes that serve a model, for one caller. Pure (randomness is a
 * parameter). The result is the order the attempt plan walks.
 *
 * 1. Hard filters: a residency pin matching the caller's country/continent leaves only
 *    its nodes; the rest are excluded whatever their health.
 * 2. Health: down nodes are excluded — unless every remaining candidate is down (then all
 *    are tried: a maybe-recovered node beats a certain error). Degraded nodes stay, with
 *    expected latency × `degradedFactor` + `degradedPenaltyMs`.
 * 3. Expected latency from the caller's colo table (samples blended with the prior); a
 *    node the table lacks gets the geo prior from the caller's (or colo's) coordinates;
 *    with no coordinates at all, same country, then same continent, then config order.
 * 4. The isolate's live view (`live.ts`), when given, blends its own fresh first-byte
 *    samples over the table's figure: a node that slowed down loses traffic in seconds.
 * 5. Near-ties — within `tieMargin` of the best — are ordered by a weighted random draw
 *    (Efraimidis–Spirakis: key = u^(1/weight)), the weight scaled down linearly with how far
 *    the node is behind the best (`tieWeight`), so equal nodes share traffic by weight
 *    instead of one being stampeded (also when a leader slows and several nodes could take over).
 * 6. Exploration: one healthy node the live view moved traffic from, due for a re-try, goes
 *    first for this request — how a recovered node wins its traffic back. Only a node that
 *    could beat the leader by more than `tieMargin` is worth that slow request (it is judged
 *    against the leader's figure / (1 + tieMargin)): one that could win less would get a
 *    small share of the traffic even if it recovered. The table's probe figures (`probeMs`, as of
 *    its `generatedAt`) go with it: the monitor's view of a node the live view holds slow
 *    (`live-cue.ts`), which the view may have heard newer through the fast channel.
 */
import type { NodeConfig, RoutingConfig } from '../config/schema';
import type { CallerLocation } from './geo';
import type { LiveLens } from './live';
import { priorMs, type HealthState, type RouteTable, type TableEntry } from './scores';

export interface Candidate {
  node: NodeConfig;
  expectedMs: number;
  source: TableEntry['source'] | 'geo-class';
  health: HealthState;
  samples: number;
  /** Added because the node is degraded. */
  penaltyMs?: number;
  /** This isolate's own Peak-EWMA figure, when it has one (blended into expectedMs)… */
  liveMs?: number;
  /** …and the table's (or prior's) figure it was blended with. */
  tableMs?: number;
  /** Put first to re-try a node the live view moved traffic from. */
  exploring?: true;
  /** Why the node will not be tried (set on excluded candidates only). */
  excluded?: string;
  entry?: TableEntry;
}

export interface Ranking {
  ranked: Candidate[];
  excluded: Candidate[];
}

function pinFor(routing: RoutingConfig, caller: CallerLocation) {
  return routing.pins.find(
    (p) =>
      (caller.country !== undefined && p.countries?.includes(caller.country)) ||
      (caller.continent !== undefined && p.continents?.includes(caller.continent)),
  );
}

/** Sort key step between geo classes (not a latency). */
const GEO_CLASS = 1e6;

/** 0 same country, 1 same continent, 2 elsewhere: the fallback without coordinates. */
function geoClass(node: NodeConfig, caller: CallerLocation): number {
  if (caller.country && node.country === caller.country) return 0;
  if (caller.continent && node.continent === caller.continent) return 1;
  return 2;
}

function estimate(node: NodeConfig, caller: CallerLocation, table: RouteTable | null, routing: RoutingConfig, live: LiveLens | undefined) {
  const entry = table?.nodes[node.id];
  if (entry && entry.source !== 'none') {
    return { ...(live ? live.estimate(node.id, entry.expectedMs) : { expectedMs: entry.expectedMs }), source: entry.source, samples: entry.samples, entry };
  }
  const lat = caller.lat ?? table?.lat;
  const lon = caller.lon ?? table?.lon;
  const prior = priorMs(routing, node, lat, lon, table?.offsets?.[node.id], table?.msPerKm);
  if (prior !== undefined) return { ...(live ? live.estimate(node.id, prior) : { expectedMs: prior }), source: 'prior' as const, samples: 0 };
  // No coordinates anywhere: order by geo class; the number only sorts, it is not a latency.
  return { expectedMs: geoClass(node, caller) * GEO_CLASS, source: 'geo-class' as const, samples: 0 };
}

/**
 * A near-tie's share: its weight, scaled down linearly with how far it is behind the best
 * (full at the best's figure, none at the margin), so equal nodes share by weight and a node
 * just inside the margin gets almost nothing instead of a full share — no cliff at the margin,
 * and spreading costs a fraction of the gap rather than half of it.
 */
function tieWeight(c: Candidate, best: number, margin: number): number {
  const behind = best > 0 ? c.expectedMs / best - 1 : 0;
  return c.node.weight * Math.max(1e-6, 1 - behind / margin);
}

function weightedShuffle(group: Candidate[], random: () => number, best: number, margin: number): Candidate[] {
  return group
    .map((c) => ({ c, key: random() ** (1 / tieWeight(c, best, margin)) }))
    .sort((a, b) => b.key - a.key)
    .map((x) => x.c);
}

export interface RankOptions {
  random?: () => number;
  /** The isolate's live view for this caller's colo (none: table and prior only). */
  live?: LiveLens;
}

export function rankCandidates(
  nodes: readonly NodeConfig[],
  caller: CallerLocation,
  table: RouteTable | null,
  routing: RoutingConfig,
  { random = Math.random, live }: RankOptions = {},
): Ranking {
  const pin = pinFor(routing, caller);
  const excluded: Candidate[] = [];
  let pool: Candidate[] = [];
  nodes.forEach((node) => {
    const health = table?.health[node.id] ?? 'healthy';
    const est = estimate(node, caller, table, routing, live);
    const candidate: Candidate = { node, health, ...est };
    if (pin && !pin.nodes.includes(node.id)) {
      excluded.push({ ...candidate, excluded: `residency pin: caller's region may use ${pin.nodes.join(', ')} only` });
    } else pool.push(candidate);
  });

  const up = pool.filter((c) => c.health !== 'down');
  if (up.length > 0) {
    for (const c of pool) if (c.health === 'down') excluded.push({ ...c, excluded: 'down (health checks)' });
    pool = up;
  }
  for (const c of pool) {
    if (c.health !== 'degraded' || !Number.isFinite(c.expectedMs)) continue;
    // Geo-class order (no coordinates): after the healthy nodes of its class, before the next class.
    const penalised = c.source === 'geo-class' ? c.expectedMs + GEO_CLASS / 2 : c.expectedMs * routing.degradedFactor + routing.degradedPenaltyMs;
    c.penaltyMs = penalised - c.expectedMs;
    c.expectedMs = penalised;
  }
  const order = new Map(nodes.map((n, i) => [n.id, i]));
  pool.sort((a, b) => a.expectedMs - b.expectedMs || order.get(a.node.id)! - order.get(b.node.id)!);
  if (pool.length > 1 && pool[0]!.source !== 'geo-class') {
    const limit = pool[0]!.expectedMs * (1 + routing.tieMargin);
    const ties = pool.filter((c) => c.expectedMs <= limit);
    if (ties.length > 1) pool = [...weightedShuffle(ties, random, pool[0]!.expectedMs, routing.tieMargin), ...pool.slice(ties.length)];
    const figures = table?.probeMs && { at: table.generatedAt, probeMs: table.probeMs };
    const probe = live?.explore && pool.slice(1).find((c) => c.health === 'healthy' && live.explore!(c.node.id, c.tableMs ?? c.expectedMs, pool[0]!.expectedMs / (1 + routing.tieMargin), figures));
    if (probe) pool = [{ ...probe, exploring: true }, ...pool.filter((c) => c !== probe)];
  }
  return { ranked: pool, excluded };
}
