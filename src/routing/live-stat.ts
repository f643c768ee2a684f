/**
 * One node's record in the live view (`live.ts`), per scope: its first-byte estimate, what its
 * JSON answers add beyond it, and its exploration state. Shared by the view and the JSON-answer
 * evidence (`live-answers.ts`), with the thresholds both judge samples by.
 */

/** One kind of evidence about a node: first bytes, or JSON answers. */
export interface Track {
  /** The previous sample, for the two-in-a-row peak. */
  last: number;
  /** Its whole answer's ratio to what was expected of it (JSON answers: their two-in-a-row peak). */
  ratio?: number;
  /** Evidence at `at` (decays with it): a first byte is worth 1, a JSON answer less (`worth`). */
  weight: number;
  at: number;
}

export interface LiveStat {
  /** Expected first byte (a JSON answer's base-equivalent, when no first byte is fresh). */
  ewma: number;
  /** What this node's JSON answers add beyond its first byte (its decoding against the reference): 0 until both kinds are seen. */
  excess: number;
  first?: Track;
  answers?: Track;
  /** The latest sample of either kind. */
  at: number;
  /** The evidence behind `ewma` when it was last set, undecayed (a first byte is worth 1, a JSON answer less: `worth`): `isThin`. */
  evidence?: number;
  /**
   * What the node did before its estimate last rose (the bar for exploring it again), held
   * while it stays up; otherwise its current estimate. Not the lowest estimate ever reached:
   * a minimum of noisy estimates is biased low, and kept re-trying nodes that never were that fast.
   */
  best: number;
  /** Its answers rose from this level (first byte + excess): the per-token reference does not learn from them until they are back within `PEAK_RISE` of it. */
  held?: number;
  /** Fed by a whole answer while the per-token reference was unknown (`forgetUnsplit`). */
  unsplit?: true;
  /** Whole answers' level while first bytes are fresh and the reference is unknown (`observeWhole`): their own unit. */
  whole?: { level: number; ratio: number; weight: number; at: number };
  /** The estimate rose and has not come back within `PEAK_RISE` of `best`. */
  risen?: true;
  gap: number;
  /** While `risen`: the monitor's probe figure when the view first held the node slow, and the highest since (`live-cue.ts`). */
  cue?: { from: number; high: number };
  /**
   * The model's last success here was kept out of the colo's samples (`live-units.ts`): far
   * slower than their unit, so the table's figure for the node says nothing of this model.
   */
  apart?: true;
  /** Leader's expected ms when a probe was sent; cleared when the probe's outcome arrives. */
  probeBar?: number;
  probeAt?: number;
}

/** A rise counts at once when two samples in a row show it past this factor; smaller drifts are averaged in. */
export const PEAK_RISE = 1.5;
/** One sample this far past the estimate is news on its own (long prompts are not sampled: `engine.ts`). */
export const JUMP = 4;
/** First bytes this many `ewmaMs` old still stand for the node's first byte (answers then move `excess`). */
const FRESH = 3;

/** Whether the node's first bytes still stand for it (answers then move `excess`). */
export const isFresh = (s: LiveStat, now: number, ewmaMs: number): boolean => s.first !== undefined && now - s.first.at < FRESH * ewmaMs;

/** Relative spread (two standard deviations) of one sample worth 1: a figure resting on evidence `e` may be this / √e too high. */
export const SPREAD = 0.3;

/**
 * Whether a node's figure rests on thin evidence: set by JSON answers (no fresh first byte: a
 * JSON-only view, or streams have left the node) worth less than one first byte together — a
 * lone answer's base carries the whole answer's noise. A risen node is judged by its level
 * before the rise instead (`best`). Not any figure's bound: a lone first byte's too probed so
 * often that every kind lost (sim, 0.70 → 0.86% over the oracle, mean of the kinds).
 */
export const isThin = (s: LiveStat): boolean => !s.risen && (s.evidence ?? 1) < 1;

/**
 * The lowest a node's figure may plausibly be, for exploration: on thin evidence `e`, the
 * figure less `SPREAD / √e` of it; otherwise the figure. Bad news stands until a sample
 * disproves it, and a node that one slow-reading long answer put behind the leader was never
 * sampled again: NRT held ap-southeast (truly 366 ms) at one answer's 702 all run (sim JSON seed 1).
 */
export function thinBound(s: LiveStat, level: number): number {
  return isThin(s) ? level * Math.max(0, 1 - SPREAD / Math.sqrt(Math.max(s.evidence ?? 1, 1e-6))) : level;
}
