/**
 * ColoStats Durable Object: one per colo (by name, the colo code), folding the passive samples the
 * isolates of that colo send in batches into decayed per-node statistics, and remembering
 * where the colo is (from its callers' `request.cf` coordinates). The HealthMonitor reads
 * a snapshot of every colo once a minute to build that colo's score table.
 *
 * It also relays the monitor's probe figures (the fast channel, `live-cue.ts`): the monitor
 * pushes a clear move to every colo's object (`hearProbes`), and each isolate's next batch gets
 * the newest back as `record`'s answer — no call of its own, seconds instead of the tables' ~30 s
 * through KV. Kept in memory only: a cache of the monitor's figures, which the tables carry too.
 */
import { DurableObject } from 'cloudflare:workers';
import { loadConfig } from '../config/load';
import type { Bindings } from '../bindings';
import { newerFigures, type ProbeFigures } from './live-cue';
import { foldSample, type NodeStat, type Sample } from './scores';

export interface ColoSnapshot {
  colo: string;
  coords?: { lat: number; lon: number };
  stats: Record<string, NodeStat>;
  /** Per node, the last upstream error live traffic saw from this colo (for admin views). */
  errors?: Record<string, { at: number; message: string }>;
  /** Set once the HealthMonitor has acknowledged this colo (retried on every batch until then). */
  registered?: boolean;
}

export class ColoStats extends DurableObject<Bindings> {
  private snapshotState: ColoSnapshot | undefined;

  /** The monitor's newest probe figures pushed here (memory only). */
  private figures: ProbeFigures | undefined;

  private async state(colo: string): Promise<ColoSnapshot> {
    this.snapshotState ??= (await this.ctx.storage.get<ColoSnapshot>('snapshot')) ?? { colo, stats: {} };
    return this.snapshotState;
  }

  /** Folds an isolate's batch; answers with the monitor's newest probe figures pushed here, if any. */
  async record(samples: Sample[], coords?: { lat: number; lon: number }): Promise<ProbeFigures | null> {
    if (samples.length === 0) return this.figures ?? null;
    const colo = samples[0]!.colo;
    const state = await this.state(colo);
    const { halfLifeMs } = loadConfig(this.env).routing;
    for (const s of samples) {
      state.stats[s.node] = foldSample(state.stats[s.node], s, halfLifeMs);
      if (s.error) (state.errors ??= {})[s.node] = { at: s.at, message: s.error };
    }
    if (coords) {
      // A running mean of what callers report: the colo's position for the geo prior.
      state.coords = state.coords
        ? { lat: (state.coords.lat * 9 + coords.lat) / 10, lon: (state.coords.lon * 9 + coords.lon) / 10 }
        : coords;
    }
    await this.ctx.storage.put('snapshot', state);
    if (!state.registered) {
      await this.env.HEALTH_MONITOR.getByName('global').registerColo(colo);
      state.registered = true;
      await this.ctx.storage.put('snapshot', state);
    }
    return this.figures ?? null;
  }

  /** The HealthMonitor's push: its probe figures, kept if newer than those held. */
  hearProbes(figures: ProbeFigures): void {
    this.figures = newerFigures(figures, this.figures);
  }

  async snapshot(): Promise<ColoSnapshot | null> {
    return (await this.ctx.storage.get<ColoSnapshot>('snapshot')) ?? null;
  }
}
