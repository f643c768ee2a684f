/**
 * One monitor cycle's decisions, pure: walking every node's health from its probe, deciding
 * whether the tables are due, and building them. The HealthMonitor does the I/O around
 * these (probes, ColoStats snapshots, KV writes); `npm run sim` calls the same functions,
 * so the simulator exercises the code that ships, not a copy of it.
 */
import type { HealthConfig, NodeConfig, RoutingConfig } from '../config/schema';
import { JUMP, PEAK_RISE } from '../routing/live-stat';
import { networkModel } from '../routing/network';
import { buildTable, liveFailureRates, type HealthState, type NodeStat, type RouteTable } from '../routing/scores';
import type { Transition } from './alerts';
import { INITIAL_HEALTH, nextHealth, type LiveStats, type NodeHealth, type ProbeResult } from './state';

/** Tables are rebuilt at least this often (the minute cron always finds them due)… */
export const PUBLISH_EVERY_MS = 55_000;
/** …and at once on a state change, but never twice within KV's one write a second per key. */
export const MIN_PUBLISH_GAP_MS = 1_000;

/** Every node's next health from this cycle's probe and the live failure rates last published. */
export function walkHealth(
  nodes: readonly NodeConfig[],
  before: Readonly<Record<string, NodeHealth>>,
  probes: ReadonlyMap<string, ProbeResult>,
  live: Readonly<Record<string, LiveStats>>,
  cfg: HealthConfig,
  now: number,
): { states: Record<string, NodeHealth>; transitions: Transition[] } {
  const states: Record<string, NodeHealth> = { ...before };
  const transitions: Transition[] = [];
  for (const node of nodes) {
    const prev = before[node.id] ?? INITIAL_HEALTH;
    const probe = probes.get(node.id);
    if (!probe) continue;
    const next = nextHealth(prev, probe, live[node.id], cfg, now);
    if (next.state !== prev.state) transitions.push({ nodeId: node.id, from: prev.state, to: next.state, reason: next.reason });
    states[node.id] = next;
  }
  return { states, transitions };
}

/**
 * Probe shifts publish at most this often: each publish writes every colo's table (hundreds
 * of KV writes), and a `/models` that jitters past 4× would otherwise cost a round every
 * probe cycle. A health transition is not held back.
 */
export const SHIFT_PUBLISH_GAP_MS = 30_000;

/** Whether this cycle publishes: on any transition, on a probe shift (`probeShifts`) once `SHIFT_PUBLISH_GAP_MS` has passed, else once `PUBLISH_EVERY_MS` has. */
export function publishDue(transitions: number, shifts: number, lastPublishAt: number, now: number): boolean {
  const since = now - lastPublishAt;
  return transitions > 0 || (shifts > 0 && since >= SHIFT_PUBLISH_GAP_MS) || since >= PUBLISH_EVERY_MS;
}

/** Per node, its latest probe's ms if that probe answered: what the tables carry as `probeMs`. */
export function probeFigures(states: Readonly<Record<string, NodeHealth>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [id, h] of Object.entries(states)) if (h.lastProbeMs !== undefined && h.consecutiveFailures === 0) out[id] = h.lastProbeMs;
  return out;
}

/**
 * How many nodes' probe figures moved clearly from the ones last published, by the live
 * view's own rule (`live-stat.ts`): one probe past `JUMP`× either way, or this probe and the
 * one before both past `PEAK_RISE`× on the same side. Such a move is published at once, not
 * with the minute's tables: the live view re-tries a node it holds slow when the monitor saw
 * it recover (`live.ts` `recovered`), and waiting up to a minute more for that cue is most of
 * what it can save. One-probe blips under `JUMP` do not cost a write to every colo.
 */
export function probeShifts(before: Readonly<Record<string, NodeHealth>>, after: Readonly<Record<string, NodeHealth>>, published: Readonly<Record<string, number>>): number {
  const now = probeFigures(after);
  const prev = probeFigures(before);
  let shifts = 0;
  for (const [id, ms] of Object.entries(now)) {
    const bar = published[id];
    if (bar === undefined) continue;
    const r = ms / Math.max(1, bar);
    const q = (prev[id] ?? bar) / Math.max(1, bar);
    if (r > JUMP || r < 1 / JUMP || (r > PEAK_RISE && q > PEAK_RISE) || (r < 1 / PEAK_RISE && q < 1 / PEAK_RISE)) shifts++;
  }
  return shifts;
}

/**
 * Whether this cycle pushes its probe figures to every colo's ColoStats (the fast channel,
 * `routing/live-cue.ts`): on a clear move (`probeShifts`) from the figures the colos last got
 * by either channel (`known`: a push, or the tables). Not held back like a publish: a push is
 * one call per colo to an object that keeps it in memory, not a KV write, and it is what a
 * live view holding the node slow waits for (each isolate reads it with its next sample batch).
 */
export function pushDue(before: Readonly<Record<string, NodeHealth>>, after: Readonly<Record<string, NodeHealth>>, known: Readonly<Record<string, number>>): boolean {
  return probeShifts(before, after, known) > 0;
}

export interface ColoStatsView {
  colo: string;
  coords?: { lat: number; lon: number } | undefined;
  stats: Record<string, NodeStat>;
}

/**
 * Every reporting colo's table plus `_default` (health, offsets and probe figures, no
 * samples), the live failure rates the next cycle's health walk reads, and the probe figures
 * published (the bar for the next cycles' `probeShifts`).
 */
export function buildTables(
  colos: readonly ColoStatsView[],
  nodes: readonly NodeConfig[],
  states: Readonly<Record<string, NodeHealth>>,
  routing: RoutingConfig,
  now: number,
): { tables: RouteTable[]; live: Record<string, LiveStats>; probeMs: Record<string, number> } {
  const health: Record<string, HealthState> = Object.fromEntries(nodes.map((n) => [n.id, states[n.id]?.state ?? 'healthy']));
  const { offsets, msPerKm } = networkModel(colos, nodes, routing, now);
  const tables = colos.map((c) => buildTable(c.colo, c.coords, c.stats, nodes, health, routing, now, offsets, msPerKm));
  tables.push(buildTable('_default', undefined, {}, nodes, health, routing, now, offsets, msPerKm));
  const probeMs = probeFigures(states);
  for (const t of tables) t.probeMs = probeMs;
  return { tables, live: liveFailureRates(colos, routing.halfLifeMs, now), probeMs };
}
