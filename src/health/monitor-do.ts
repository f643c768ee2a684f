/**
 * HealthMonitor Durable Object — one (`global`), off the request path. It
 *  - probes every node each cycle and walks the health state machine (`state.ts`);
 *  - alerts on transitions, in the background, at most one per node a window (`alert-coalesce.ts`);
 *  - publishes the routing tables: for each colo that has reported samples, its scores
 *    (ColoStats snapshot blended with the geo prior) plus every node's health, as one KV
 *    value `route:<COLO>`; and `route:_default` (health, no samples) for the rest.
 *
 * Cycles run from the cron (every minute) and from this object's alarm every
 * `health.probeIntervalMs` (sub-minute probing; the cron re-arms the alarm). Tables are
 * published once a minute, and at once when a node changes state or its probe figure moves
 * clearly from the one last published (`probeShifts`, at most every 30 s; a state change at
 * most once a second, KV's per-key write rate). Such a move is also pushed at once to every
 * colo's ColoStats (`pushDue`), which hands it to its isolates with their next sample batch:
 * the fast channel of the live view's cue (`routing/live-cue.ts`), seconds instead of KV's ~30 s.
 */
import { DurableObject } from 'cloudflare:workers';
import { loadConfig, type LoadedConfig } from '../config/load';
import type { Bindings } from '../bindings';
import type { ColoSnapshot } from '../routing/colo-stats-do';
import type { ProbeFigures } from '../routing/live-cue';
import { routeKey } from '../routing/table';
import { coalesceAlerts, type AlertMemo } from './alert-coalesce';
import { sendAlert, type Transition } from './alerts';
import { buildTables, MIN_PUBLISH_GAP_MS, probeFigures, probeShifts, publishDue, pushDue, walkHealth } from './cycle';
import { probeAll } from './probe';
import type { LiveStats, NodeHealth } from './state';

/** The latest upstream error live traffic saw from a node, in any colo. */
export interface LiveError {
  at: number;
  colo: string;
  message: string;
}

/** A node's change of state, kept for the admin views (the newest `KEEP_TRANSITIONS`). */
export interface StoredTransition extends Transition {
  at: number;
}
const KEEP_TRANSITIONS = 50;

export interface MonitorStatus {
  nodes: Record<string, NodeHealth>;
  /** Newest first. */
  transitions: StoredTransition[];
  liveErrors: Record<string, LiveError>;
  colos: { colo: string; publishedAt: number | null }[];
  lastCycleAt: number | null;
  lastPublishAt: number | null;
}

/** Per node, the newest error any colo reported. */
function latestErrors(snapshots: ColoSnapshot[]): Record<string, LiveError> {
  const out: Record<string, LiveError> = {};
  for (const snap of snapshots) {
    for (const [node, e] of Object.entries(snap.errors ?? {})) {
      if (!out[node] || out[node].at < e.at) out[node] = { ...e, colo: snap.colo };
    }
  }
  return out;
}

export class HealthMonitor extends DurableObject<Bindings> {
  private running: Promise<void> | null = null;

  private async load(): Promise<{ nodes: Record<string, NodeHealth>; colos: Record<string, number | null>; live: Record<string, LiveStats> }> {
    const [nodes, colos, live] = await Promise.all([
      this.ctx.storage.get<Record<string, NodeHealth>>('nodes'),
      this.ctx.storage.get<Record<string, number | null>>('colos'),
      this.ctx.storage.get<Record<string, LiveStats>>('live'),
    ]);
    return { nodes: nodes ?? {}, colos: colos ?? {}, live: live ?? {} };
  }

  /** Cron entry: run a cycle now and make sure the sub-minute alarm is armed. */
  async tick(): Promise<void> {
    const interval = loadConfig(this.env).health.probeIntervalMs;
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + interval);
    await this.cycle();
  }

  /**
   * The next alarm is armed before the cycle runs, so no failure in a cycle (a node, a colo,
   * a KV write) can stop the monitor; a failed cycle is logged and the next one runs on time.
   */
  override async alarm(): Promise<void> {
    await this.ctx.storage.setAlarm(Date.now() + loadConfig(this.env).health.probeIntervalMs);
    try {
      await this.cycle();
    } catch (err) {
      console.error(JSON.stringify({ event: 'monitor_cycle_failed', error: String(err) }));
    }
  }

  async registerColo(colo: string): Promise<void> {
    const colos = (await this.ctx.storage.get<Record<string, number | null>>('colos')) ?? {};
    if (colo in colos) return;
    colos[colo] = null;
    await this.ctx.storage.put('colos', colos);
  }

  async status(): Promise<MonitorStatus> {
    const { nodes, colos } = await this.load();
    return {
      nodes,
      transitions: (await this.ctx.storage.get<StoredTransition[]>('transitions')) ?? [],
      liveErrors: (await this.ctx.storage.get<Record<string, LiveError>>('liveErrors')) ?? {},
      colos: Object.entries(colos).map(([colo, publishedAt]) => ({ colo, publishedAt })),
      lastCycleAt: (await this.ctx.storage.get<number>('lastCycleAt')) ?? null,
      lastPublishAt: (await this.ctx.storage.get<number>('lastPublishAt')) ?? null,
    };
  }

  /** One probe cycle; overlapping calls (cron and alarm) share the cycle in progress. */
  private cycle(): Promise<void> {
    this.running ??= this.runCycle().finally(() => (this.running = null));
    return this.running;
  }

  private async runCycle(): Promise<void> {
    const config = loadConfig(this.env);
    const now = Date.now();
    const state = await this.load();
    const probes = await probeAll(config.nodes, this.env, config.health);
    const { states, transitions } = walkHealth(config.nodes, state.nodes, probes, state.live, config.health, now);
    await this.ctx.storage.put({ nodes: states, lastCycleAt: now });
    if (transitions.length > 0) {
      const kept = (await this.ctx.storage.get<StoredTransition[]>('transitions')) ?? [];
      await this.ctx.storage.put('transitions', [...transitions.map((t) => ({ ...t, at: now })).reverse(), ...kept].slice(0, KEEP_TRANSITIONS));
    }
    const webhook = config.health.alertWebhook;
    if (webhook) {
      // Coalesced per node (a flapping node sends one alert a window); the memo is stored before the sends start.
      const memo = (await this.ctx.storage.get<Record<string, AlertMemo>>('alerts')) ?? {};
      const coalesced = coalesceAlerts(memo, transitions, config.health.alertCoalesceMs, now);
      if (JSON.stringify(coalesced.memo) !== JSON.stringify(memo)) await this.ctx.storage.put('alerts', coalesced.memo);
      for (const a of coalesced.alerts) this.ctx.waitUntil(sendAlert(webhook, a));
    }

    const published = (await this.ctx.storage.get<Record<string, number>>('probeMs')) ?? {};
    const known = (await this.ctx.storage.get<Record<string, number>>('knownMs')) ?? published;
    // The push runs beside the publish decision: neither holds the other up (both carry this cycle's figures).
    const pushing = pushDue(state.nodes, states, known) ? this.push(Object.keys(state.colos), { at: now, probeMs: probeFigures(states) }) : Promise.resolve();
    const lastPublish = (await this.ctx.storage.get<number>('lastPublishAt')) ?? 0;
    if (!publishDue(transitions.length, probeShifts(state.nodes, states, published), lastPublish, now)) return await pushing;
    // A state change is published now: only KV's one-write-a-second per key may delay it.
    const wait = lastPublish + MIN_PUBLISH_GAP_MS - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await Promise.all([pushing, this.publish(config, states, state.colos, Date.now())]);
  }

  /**
   * The fast channel: this cycle's probe figures to every colo's ColoStats, in parallel. A colo
   * that cannot be reached is logged and gets them with the tables, as before.
   */
  private async push(colos: string[], figures: ProbeFigures): Promise<void> {
    const sent = await Promise.allSettled(colos.map((c) => this.env.COLO_STATS.getByName(c).hearProbes(figures)));
    const failed = sent.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    if (failed.length > 0) console.error(JSON.stringify({ event: 'probe_push_partly_failed', failures: failed.slice(0, 10), count: failed.length }));
    await this.ctx.storage.put('knownMs', figures.probeMs);
  }

  /**
   * Build and write every colo's table; remember live failure rates and errors for the next
   * cycle. Each colo stands alone: one that cannot be read or written is logged and left
   * for the next publish, and every other table is still written.
   */
  private async publish(config: LoadedConfig, nodes: Record<string, NodeHealth>, colos: Record<string, number | null>, now: number) {
    const read = await Promise.allSettled(Object.keys(colos).map((c) => this.env.COLO_STATS.getByName(c).snapshot()));
    const snapshots = read.flatMap((r) => (r.status === 'fulfilled' && r.value !== null ? [r.value] : []));
    const { tables, live, probeMs } = buildTables(snapshots, config.nodes, nodes, config.routing, now);
    const written = await Promise.allSettled(tables.map((t) => this.env.ROUTER_KV.put(routeKey(t.colo), JSON.stringify(t))));
    const failed = [...read, ...written].flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    if (failed.length > 0) console.error(JSON.stringify({ event: 'publish_partly_failed', failures: failed.slice(0, 10), count: failed.length }));
    // Colos may have registered while this cycle probed: merge into the stored map, never overwrite it.
    const current = (await this.ctx.storage.get<Record<string, number | null>>('colos')) ?? {};
    tables.forEach((t, i) => {
      if (t.colo !== '_default' && written[i]!.status === 'fulfilled') current[t.colo] = now;
    });
    // The tables carry the figures too: they are what the colos know (the bar for the next push).
    await this.ctx.storage.put({ colos: current, live, liveErrors: latestErrors(snapshots), lastPublishAt: now, probeMs, knownMs: probeMs });
  }
}
