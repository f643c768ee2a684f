/**
 * What the monitor's probes tell the live view's exploration (`live.ts`) about a node it holds
 * slow. The published tables carry each node's latest answered probe (`RouteTable.probeMs`,
 * published at once when it moves clearly: `health/cycle.ts` `probeShifts`).
 *
 * - Recovered: the figure fell clearly (`PEAK_RISE`) below the highest one published while the
 *   view held the node slow — the monitor saw it recover, so the node is re-tried now instead
 *   of after the rest of its gap (a lag of up to `maxExploreMs`, set by where the schedule
 *   happened to fall). Once per fall: the figure it fell to becomes the new high.
 * - Slow: the figure is still past `PEAK_RISE`× the one published when the view first held the
 *   node slow — the monitor saw the slowdown too, and its fall will cue a probe, so the
 *   schedule's probes would mostly pay a slow request to learn what the monitor already says.
 *   They wait `CORROBORATED × maxExploreMs` instead: a safety net for a node whose generation
 *   recovered while its probe endpoint stayed slow.
 *
 * A monitor whose probe does not share a slowdown (an unbilled `/models` may answer fast while
 * generation crawls) says neither, and the schedule runs as before.
 *
 * Two channels carry the figures, and the newer wins (`newerFigures`): the tables (through KV,
 * ~30 s on their way) and the fast one — the monitor pushes a clear move to every colo's
 * ColoStats at once, and each isolate gets its colo's latest with the reply to the sample batch
 * it sends every few seconds anyway (`samples.ts`): no call of its own.
 */
import { PEAK_RISE, type LiveStat } from './live-stat';

/** While the monitor corroborates a slowdown, probes wait this many `maxExploreMs`. */
export const CORROBORATED = 4;

/** A probe figure still risen this long after the calm one was last seen (the monitor's clock) becomes the node's calm one: a stale baseline would stretch every later gap. */
export const CALM_AFTER_MS = 10 * 60_000;

/** The monitor's probe figures as of one cycle (`at`, the monitor's clock): per node, its latest answered probe, ms. */
export interface ProbeFigures {
  at: number;
  probeMs: Record<string, number>;
}

/** The newer of two sets of figures (the tables' and the fast channel's); `a` on a tie. */
export function newerFigures(a: ProbeFigures | undefined, b: ProbeFigures | undefined): ProbeFigures | undefined {
  return !b || (a && a.at >= b.at) ? a : b;
}

export type MonitorSays = 'recovered' | 'slow' | undefined;

/**
 * The monitor's figures as the isolate knows them: the newest heard through the fast channel,
 * read against the caller's table (the newer wins), and per node its *calm* figure — the last
 * one read that was not a clear rise (`PEAK_RISE`) over the calm one before. A view that holds
 * a node slow only after the monitor's figure rose (JSON answers take longer to tell, and the
 * fast channel brings the rise within seconds) still measures the slowdown from the figure
 * before it, so the schedule waits as the monitor corroborates it.
 */
export class MonitorFigures {
  private heard: ProbeFigures | undefined;
  private noted = -Infinity;
  /** Per node its calm figure and the monitor's time it was last confirmed. */
  private readonly calm = new Map<string, { ms: number; at: number }>();

  hear(figures: ProbeFigures): void {
    this.heard = newerFigures(figures, this.heard);
  }

  /** The newer of the table's figures and those heard; each newer set updates the calm figures once. */
  read(table: ProbeFigures | undefined): ProbeFigures | undefined {
    const figures = newerFigures(table, this.heard);
    if (figures && figures.at > this.noted) {
      this.noted = figures.at;
      for (const [id, ms] of Object.entries(figures.probeMs)) {
        const calm = this.calm.get(id);
        // A rise that has stood `CALM_AFTER_MS` is the node's new normal (a slower probe endpoint, a moved monitor), not a slowdown.
        if (calm === undefined || ms < calm.ms * PEAK_RISE) this.calm.set(id, { ms, at: figures.at });
        else if (figures.at - calm.at >= CALM_AFTER_MS) this.calm.set(id, { ms, at: figures.at });
      }
    }
    return figures;
  }

  calmOf(nodeId: string): number | undefined {
    return this.calm.get(nodeId)?.ms;
  }
}

/**
 * Reads the monitor's figure for a node (`probeMs`: the newest from the table or the fast
 * channel) against what it published since the node rose; `calm`: its figure before any rise
 * (`MonitorFigures`), where the slowdown is measured from.
 */
export function monitorSays(s: LiveStat, probeMs: number | undefined, calm?: number): MonitorSays {
  if (!s.risen || probeMs === undefined) {
    delete s.cue;
    return undefined;
  }
  const cue = (s.cue ??= { from: calm ?? probeMs, high: probeMs });
  if (probeMs * PEAK_RISE <= cue.high) {
    cue.high = probeMs;
    return 'recovered';
  }
  cue.high = Math.max(cue.high, probeMs);
  return probeMs >= cue.from * PEAK_RISE ? 'slow' : undefined;
}
