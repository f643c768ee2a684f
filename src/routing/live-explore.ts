/**
 * Exploration (winning back) for the live view (`live.ts`, "Exploration" in its header): which
 * node out of favour gets the next signal request as a probe, and what a probe's outcome does
 * to the gap before the next. Pure over one node's record.
 */
import type { LiveConfig } from '../config/schema';
import { CORROBORATED, monitorSays } from './live-cue';
import { thinBound, type LiveStat } from './live-stat';

/** Sends the next request to the node as a probe, judged against the leader's figure. */
function claim(s: LiveStat, leaderMs: number, now: number): true {
  s.probeBar = leaderMs;
  s.probeAt = now;
  return true;
}

/** A probe's outcome, if one is out: a fast one resets the gap, a slow one doubles it. */
export function settleProbe(s: LiveStat, ok: boolean, ms: number, options: LiveConfig): void {
  if (s.probeBar === undefined) return;
  s.gap = ok && ms <= s.probeBar ? options.exploreMs : Math.min(2 * s.gap, options.maxExploreMs);
  delete s.probeBar;
}

/**
 * Whether the node (record `s`) is due a probe now, claiming the slot if so. `answer`: a JSON
 * generation's lens; `probeMs` / `calmMs`: the monitor's latest and calm figures for the node.
 */
export function exploreDue(s: LiveStat, tableMs: number, leaderMs: number, answer: boolean, probeMs: number | undefined, calmMs: number | undefined, now: number, options: LiveConfig): boolean {
  // Sampled by this kind: a node streams still use may be due a JSON probe. A model far slower than the table's unit
  // (`apart`) is judged without it: by the table every node of a reasoning model beats its leader, and was re-tried every gap.
  if (Math.min(s.best, s.apart ? Infinity : tableMs, thinBound(s, s.ewma + (answer ? s.excess : 0))) >= leaderMs) return false;
  // A JSON answer is a costly probe: where first bytes are seen, streams probe, unless only the excess keeps the node out.
  if (answer && s.first && s.ewma >= leaderMs) return false;
  // The monitor's probes: a recovery it saw is re-tried now; a slowdown it still sees stretches the gap (`live-cue.ts`).
  const says = monitorSays(s, probeMs, calmMs);
  if (says === 'recovered') return claim(s, leaderMs, now);
  const at = (answer ? s.answers?.at : s.first?.at) ?? s.at;
  if (now - at < (says === 'slow' ? CORROBORATED * options.maxExploreMs : s.gap)) return false;
  // One probe at a time; a probe whose outcome never came back frees the slot after a gap. One that came back
  // frees it at once: a stream probe that found the node recovered held JSON's probe of it a whole gap (sim FRA, mixed).
  if (s.probeBar !== undefined && s.probeAt !== undefined && now - s.probeAt < s.gap) return false;
  return claim(s, leaderMs, now);
}
