/**
 * The JSON-answer evidence of the live view (`live.ts`): what a JSON generation's answer may
 * tell of its node, and how it is weighed.
 *
 * First-byte signals (streams, embeddings, moderations) feed the view's estimate as measured. A JSON
 * generation's time is mostly how much it wrote, so it feeds it normalised by its
 * `usage.completion_tokens` (`output-rate.ts`): the answer's ms less the scope's reference
 * ms per output token × what it wrote — the same unit as a first byte, so one exploration
 * and one spreading serve streams and JSON alike. Its rise is judged as the whole answer's
 * ratio to what was expected of it (two in a row: the lesser of their two ratios, since
 * answers differ in size), and drifts are averaged in weighted by what the answer tells of
 * the base (`worth`).
 *
 * Lens by traffic kind: a node whose decoding slowed still has the best first byte but no
 * longer the best answer. Per node the view keeps the first-byte estimate and what its JSON
 * answers add beyond it (`excess`): while first bytes are fresh, answers move the excess
 * only (a rise at once, drifts shrunk toward none), so streams keep the node and JSON answers
 * rank it at first byte + excess; with no fresh first byte (JSON-only traffic), answers move
 * the estimate itself, as before. Until the per-token reference is known, a whole answer is
 * not judged against a fresh first byte (another unit), only against the node's earlier whole
 * answers (`observeWhole`). A JSON answer is a costly probe: where first bytes are
 * seen, streams do the exploring, unless only the excess keeps the node out.
 */
import { JUMP, PEAK_RISE, type LiveStat } from './live-stat';

/** What a sample may tell, beyond its figure. */
export interface Evidence {
  /** A JSON answer (ranked at first byte + `excess`), not a first byte. Default false. */
  answer?: boolean;
  /**
   * JSON answers: what was taken out of the answer's time (`output-rate.ts`), so `ms + offset`
   * is the whole answer: rises are judged, and drifts averaged in, as the whole answer's ratio
   * to what was expected of it — a long answer's noise is not read as the base's. Default 0.
   */
  offset?: number;
  /**
   * A JSON answer's share of a typical answer's evidence about decoding (0–1; default 1). An
   * answer that wrote little carries little decode time, so it cannot show how long the
   * scope's usual answers take on the node: 30 one-token answers on a node whose decoding
   * slowed read as "no excess" and, at full weight, undid what long answers had shown (the
   * node ranked fastest for JSON). So where an answer would move the excess (first bytes
   * fresh), one under `SHORT` of the typical size is too short to tell: like a forced one, it
   * counts only as bad news (past `PEAK_RISE` of the level: a rise still counts at once),
   * and as a probe settles its gap by its first token. Not weighed down instead: once the
   * view's own weight has decayed (a probe's gap), any one sample stands for the node however
   * little its weight, and a series compounds. (Moving the excess by what an answer showed
   * plus what its tokens could not show, or shrinking short answers toward the level, made
   * the excess sticky: sim mixed 1.1 → 1.5% over the oracle. `SHORT` 0.25 or 0.1: mixed seed
   * 7 at 2.9%, 0.05: 2.2%, main 1.3%; other seeds within ±0.3.) Where no first byte is fresh
   * (JSON-only) the level is not split into base and decoding, and short answers carry most
   * of what is known of the base (`worth`): they count as measured (gating them cost sim
   * JSON ~0.5 points). See `observeAnswer`.
   */
  share?: number;
  /**
   * The caller chose the node (a pinned Responses follow-up): ranking did not. Only bad news
   * counts — a sample past `PEAK_RISE` of the node's level (a failing or slowed node is still
   * noticed); anything else, failures included, leaves the view and its probes alone (failures
   * go to the breaker). A forced request goes to its node whatever the ranking, so its good
   * news would let one caller bring everyone's traffic back to a node as fast as it likes —
   * by writing one-token answers there, say; unforced traffic only reaches a node the
   * ranking sends it to, and a node out of favour only through probes, one per gap.
   */
  forced?: boolean;
}

/**
 * What a JSON answer may teach: `feed` everything; `forced` (the caller chose the node) only
 * bad news (`Evidence.forced`), and not the per-token reference; `learn` (live view disabled,
 * or a long prompt: its prefill is in the base) only the reference. (An answer timed partly
 * against the caller's own hosts teaches nothing and is not passed here: `forward/engine.ts`.)
 */
export type AnswerUse = 'feed' | 'forced' | 'learn';

/** How many answers' worth of "no excess" an excess is shrunk toward. */
const EXCESS_PRIOR = 2;
/** Where first bytes are fresh, an answer under this share of the scope's typical size is too short to tell its node's decoding (`Evidence.share`). */
export const SHORT = 0.05;

/**
 * What one sample tells of the base: a first byte all of it (1); a JSON answer's noise scales
 * with the whole answer, so its base-equivalent figure is worth (base / whole answer)².
 */
export const worth = (base: number, offset: number) => (offset <= 0 ? 1 : (Math.max(1, base) / (Math.max(1, base) + offset)) ** 2);

/**
 * An answer on a node whose first bytes are fresh tells what decoding adds: streams keep their
 * figure. A rise (`next`, the answer's new level) counts at once; otherwise the answer moves the
 * excess by its share of the evidence (`v` against the view's `held`), shrunk toward none by a
 * prior of `EXCESS_PRIOR` answers' worth (one answer is noisy) that decays with the evidence
 * (`w`, the view's decay since the last answer): the excess is Σ evidence × shown ÷ (prior + Σ
 * evidence). Added afresh with every answer instead, the prior held the excess at a third of
 * what steady answers showed (the fixed point of (H·E + v·d) ÷ (H + 3v) is d ÷ 3): NRT ranked
 * the degraded ap-northeast's JSON at ≈ 500 ms base-equivalent, truly 1,117 (sim mixed).
 */
export function moveExcess(s: LiveStat, ms: number, rise: boolean, next: number, held: number, v: number, w: number): void {
  const prior = EXCESS_PRIOR * v;
  const excess = rise ? next - s.ewma : ((held + w * prior) * s.excess + v * (ms - s.ewma)) / (held + v + prior);
  s.excess = Math.max(1 - s.ewma, excess);
}

/**
 * A whole answer (the per-token reference unknown) on a node whose first bytes are fresh. Its
 * decoding is in it, so against the first byte every answer read as a rise: the node's fit was
 * held and the reference, learnt mostly from the leader, might never be known (a healthy node
 * lost its JSON traffic). Judged only against the node's earlier whole answers: a rise (two in
 * a row past `PEAK_RISE`, or one past `JUMP`) sets the excess to what they now add in ms;
 * otherwise the level averages it in and the excess shrinks toward none. A probe's outcome is
 * inconclusive (the gap stands). Returns whether it rose.
 */
export function observeWhole(s: LiveStat, ms: number, now: number, forced: boolean, ewmaMs: number): boolean {
  delete s.probeBar;
  const t = s.whole;
  if (!t) {
    if (!forced) s.whole = { level: ms, ratio: 1, weight: 1, at: now };
    return false;
  }
  const ratio = ms / Math.max(1, t.level);
  const peak = ratio > JUMP ? ratio : Math.min(ratio, t.ratio);
  const rise = peak > PEAK_RISE;
  if (forced && !rise) return false;
  const held = t.weight * Math.exp(-Math.max(0, now - t.at) / ewmaMs);
  s.at = Math.max(s.at, now);
  if (rise) {
    s.excess = (peak - 1) * t.level;
    s.whole = { ...t, ratio };
    return true;
  }
  s.excess = (held * s.excess) / (held + 1);
  s.whole = { level: (held * t.level + ms) / (held + 1), ratio, weight: held + 1, at: Math.max(t.at, now) };
  return false;
}
