/**
 * The isolate's live view of its nodes: what this isolate's own recent attempts measured,
 * blended over the published table so routing reacts in seconds, not when the next table
 * arrives (samples are batched, tables published once a minute, read through KV's cache).
 * Pure: time is a parameter; one instance per isolate (the engine's), keyed by scope and
 * node. A scope is the caller's colo and the endpoint group (`FRA/chat`): an isolate serves
 * one colo in production (tests and the simulator drive several), and a node's first byte
 * for a chat stream says little about its embeddings.
 *
 * Estimate: Peak-EWMA (Finagle/Linkerd) of first-byte latency with time constant `ewmaMs`
 * (the weight of the past decays with the time between samples, not their count), where a
 * rise past 1.5× counts at once when two samples in a row show it (`min(sample, previous)`),
 * or when one sample jumps past 4×: one long prompt's prefill does not move traffic, a node
 * that has slowed down does. Smaller drifts are averaged in.
 * First-byte signals (streams, embeddings, moderations) feed it as measured. A JSON
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
 *
 * Blend: bad news (live slower than the table) stands until a sample disproves it: the
 * table cannot catch up on its own, since once traffic has left a node, the few slow samples
 * it got are outweighed by minutes of good ones. Good news (live faster) is blended as
 * `α·live + (1−α)·table`, `α = 0.5^(age / halfLifeMs)`: it fades into the table as it ages.
 *
 * Exploration (winning back): a node that the isolate has seen (before its estimate last
 * rose), or the table says, is faster than the current leader, and that has not been sampled
 * for its gap (`exploreMs` at first),
 * gets the next request whose outcome is a signal — one probe per node at a time. A probe
 * still slower than the leader doubles the gap (up to `maxExploreMs`); a fast one resets it
 * and, being fresh, puts the node back in front. So a recovered node regains its traffic
 * within `maxExploreMs` plus one request, and a node that stays slow costs one request per
 * gap per isolate.
 *
 * Not Linkerd's (pending + 1) factor: an LLM node serves many long streams at once by design,
 * and in-flight count per isolate says little about its speed.
 */
import type { LiveConfig } from '../config/schema';
import { OutputRates } from './output-rate';

/** One kind of evidence about a node: first bytes, or JSON answers. */
interface Track {
  /** The previous sample, for the two-in-a-row peak. */
  last: number;
  /** Its whole answer's ratio to what was expected of it (JSON answers: their two-in-a-row peak). */
  ratio?: number;
  /** Evidence at `at` (decays with it): a first byte is worth 1, a JSON answer less (`worth`). */
  weight: number;
  at: number;
}

interface LiveStat {
  /** Expected first byte (a JSON answer's base-equivalent, when no first byte is fresh). */
  ewma: number;
  /** What this node's JSON answers add beyond its first byte (its decoding against the reference): 0 until both kinds are seen. */
  excess: number;
  first?: Track;
  answers?: Track;
  /** The latest sample of either kind. */
  at: number;
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
  /** Leader's expected ms when a probe was sent; cleared when the probe's outcome arrives. */
  probeBar?: number;
  probeAt?: number;
}

/** What ranking reads for one caller at one moment. */
export interface LiveLens {
  /** Expected first-byte ms: the table's figure with this isolate's evidence blended in. */
  estimate(nodeId: string, tableMs: number): { expectedMs: number; liveMs?: number; tableMs?: number };
  /** Claims an exploration slot for a node the live view moved traffic from (side effect). */
  explore?(nodeId: string, tableMs: number, leaderMs: number): boolean;
}

/** What a sample may tell, beyond its figure. */
export interface Evidence {
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

const MAX_ENTRIES = 2_000;
/** A rise counts at once when two samples in a row show it past this factor; smaller drifts are averaged in. */
const PEAK_RISE = 1.5;
/** One sample this far past the estimate is news on its own (long prompts are not sampled: `engine.ts`). */
const JUMP = 4;
/** First bytes this many `ewmaMs` old still stand for the node's first byte (answers then move `excess`). */
const FRESH = 3;
/** How many answers' worth of "no excess" an excess is shrunk toward. */
const EXCESS_PRIOR = 2;
/** Where first bytes are fresh, an answer under this share of the scope's typical size is too short to tell its node's decoding (`Evidence.share`). */
const SHORT = 0.05;

/**
 * What one sample tells of the base: a first byte all of it (1); a JSON answer's noise scales
 * with the whole answer, so its base-equivalent figure is worth (base / whole answer)².
 */
const worth = (base: number, offset: number) => (offset <= 0 ? 1 : (Math.max(1, base) / (Math.max(1, base) + offset)) ** 2);

export class LiveView {
  private readonly stats = new Map<string, LiveStat>();

  /** Scopes whose answers have been split (a per-token reference known): `forgetUnsplit` has run. */
  private readonly split = new Set<string>();

  private readonly options: LiveConfig;

  /** Reference ms per output token per (scope, model), learnt from JSON answers. */
  readonly rates = new OutputRates();

  constructor(options: LiveConfig) {
    this.options = options;
  }

  /**
   * One attempt's outcome. Failures leave the estimate alone (the breaker judges them) but
   * settle a probe. Returns true when the sample was news (a rise counted at once).
   * `offset` (JSON answers): what was taken out of the answer's time (`output-rate.ts`), so
   * `ms + offset` is the whole answer: rises are judged, and drifts averaged in, as the whole
   * answer's ratio to what was expected of it — a long answer's noise is not read as the base's.
   * `how` (`Evidence`): an answer's share of a typical one's evidence, and whether the caller forced the node.
   */
  observe(scope: string, nodeId: string, ms: number, ok: boolean, now: number, offset = 0, answer = false, how: Evidence = {}): boolean {
    const key = `${scope}>${nodeId}`;
    const s = this.stats.get(key);
    const share = Math.min(1, Math.max(0, how.share ?? 1));
    const bad = ok && s !== undefined && PEAK_RISE < (ms + offset) / Math.max(1, s.ewma + (answer ? s.excess : 0) + offset);
    if (how.forced && !bad) return false;
    // Short answers are judged only where they would move the excess (first bytes fresh): see `Evidence.share`.
    const fresh = answer && s?.first !== undefined && now - s.first.at < FRESH * this.options.ewmaMs;
    if (fresh && share < SHORT && !bad) {
      if (s) this.settle(s, ok, ms); // as a probe: its first token came (not its decoding)
      return false;
    }
    const track = { last: ms, weight: worth(ms, offset), at: now };
    if (!s) {
      if (!ok) return false;
      if (this.stats.size >= MAX_ENTRIES) {
        this.stats.clear();
        this.split.clear();
      }
      this.stats.set(key, { ewma: ms, excess: 0, [answer ? 'answers' : 'first']: track, at: now, best: ms, gap: this.options.exploreMs });
      return false;
    }
    this.settle(s, ok, ms);
    if (!ok) return false;
    const t = (answer ? s.answers : s.first) ?? { ...track, weight: 0 };
    const excess = answer ? s.excess : 0;
    const level = s.ewma + excess;
    const w = Math.exp(-Math.max(0, now - t.at) / this.options.ewmaMs);
    // Ratios of whole answers (a first byte: offset 0): what this sample, and the lesser of it and the previous one, show.
    const expected = Math.max(1, level + offset);
    const ratio = (ms + offset) / expected;
    // Answers: the lesser of the two ratios (answers differ in size: the lesser base-equivalent ms would mix a short
    // answer's small offset with a long one's large one, and miss a node whose decoding slowed).
    const peak = ratio > JUMP ? ms : answer ? Math.min(ratio, t.ratio ?? ratio) * expected - offset : Math.min(ms, t.last);
    const rise = (peak + offset) / expected > PEAK_RISE;
    const v = worth(level, offset);
    const held = t.weight * w;
    // First bytes: the time-constant EWMA. JSON answers: weighted by what each tells of the base,
    // so a few answers after a gap average out instead of the first one standing.
    const next = rise ? peak : offset === 0 ? w * level + (1 - w) * ms : (held * level + v * ms) / (held + v);
    const track2 = { last: ms, ratio, weight: rise ? v : held + v, at: Math.max(t.at, now) };
    if (answer) s.answers = track2;
    else s.first = track2;
    s.at = Math.max(s.at, now);
    // While first bytes are fresh, an answer tells what decoding adds: streams keep their figure.
    if (answer && s.first && now - s.first.at < FRESH * this.options.ewmaMs) {
      // A rise counts at once; otherwise each answer moves the excess by its share of the evidence,
      // shrunk toward none by `EXCESS_PRIOR` of its own worth (one answer is noisy).
      const excess = rise ? next - s.ewma : (held * s.excess + v * (ms - s.ewma)) / (held + v + EXCESS_PRIOR * v);
      s.excess = Math.max(1 - s.ewma, excess);
      return rise;
    }
    s.ewma = next - excess;
    if (rise) s.risen = true;
    else {
      if (s.risen && s.ewma <= s.best * PEAK_RISE) delete s.risen;
      // The first sample of what may be a rise does not move the bar: the next one decides.
      if (!s.risen && ratio <= PEAK_RISE) s.best = s.ewma;
    }
    return rise;
  }

  /** A probe's outcome, if one is out: a fast one resets the gap, a slow one doubles it. */
  private settle(s: LiveStat, ok: boolean, ms: number): void {
    if (s.probeBar === undefined) return;
    s.gap = ok && ms <= s.probeBar ? this.options.exploreMs : Math.min(2 * s.gap, this.options.maxExploreMs);
    delete s.probeBar;
  }

  /**
   * A JSON generation's answer: `ms` to the whole answer, `tokens` its completion tokens.
   * Returns the base-equivalent ms (what the tables record too). `use` (`AnswerUse`) says what
   * it may teach. Its `share` is `tokens / typical`, at most 1, where typical is the scope's
   * mean answer size (`OutputRates.typicalTokens`): an answer of the usual size or longer
   * counts in full; one under `SHORT` of it, where it would move the excess, only as bad news (`Evidence.share`). An answer that cannot be compared yet
   * (much longer than usual while the per-token time is unknown) settles a probe and
   * teaches the slope, and leaves the estimate alone.
   */
  observeAnswer(scope: string, model: string, nodeId: string, ms: number, tokens: number, now: number, use: AnswerUse = 'feed'): number {
    const typical = this.rates.typicalTokens(scope, model, now);
    const share = typical > 0 ? Math.min(1, tokens / typical) : 1;
    const n = this.rates.observe(scope, model, nodeId, ms, tokens, now, use === 'feed' || use === 'learn');
    if (use === 'learn') return n.ms;
    const forced = use === 'forced';
    if (n.offset > 0 && !this.split.has(scope)) this.forgetUnsplit(scope);
    if (!n.comparable) {
      const s = this.stats.get(`${scope}>${nodeId}`);
      if (s) delete s.probeBar; // inconclusive: the gap stands
      return n.ms;
    }
    const key = `${scope}>${nodeId}`;
    const before = this.stats.get(key);
    const level = before && before.ewma + before.excess;
    const whole = n.offset === 0 && tokens > 0;
    // A whole answer where first bytes are fresh is not judged against them (another unit): only against earlier whole answers.
    const rose = whole && before && this.fresh(before, now) ? this.observeWhole(before, n.ms, now, forced) : this.observe(scope, nodeId, n.ms, true, now, n.offset, true, { share, forced });
    const s = this.stats.get(key);
    if (!s || (forced && !rose)) return n.ms;
    if (whole && s.whole === undefined) s.unsplit = true;
    // A node whose answers rose teaches the reference nothing until it is back near its level before (`output-rate.ts`).
    if (rose) {
      this.rates.hold(scope, model, nodeId, ms, tokens, now, !forced);
      s.held ??= level;
    } else if (s.held === undefined || s.ewma + s.excess <= s.held * PEAK_RISE) {
      this.rates.release(scope, model, nodeId, ms, tokens, now);
      delete s.held;
    }
    return n.ms;
  }

  /** Whether the node's first bytes still stand for it (answers then move `excess`). */
  private fresh(s: LiveStat, now: number): boolean {
    return s.first !== undefined && now - s.first.at < FRESH * this.options.ewmaMs;
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
  private observeWhole(s: LiveStat, ms: number, now: number, forced: boolean): boolean {
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
    const held = t.weight * Math.exp(-Math.max(0, now - t.at) / this.options.ewmaMs);
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

  /**
   * The scope's first split answer: figures fed by whole answers before the per-token reference
   * was known are in another unit (the whole answer, not its base) and, being bad news, would
   * stand — a node answered once that way stayed out of reach. Forgotten once; the table stands in.
   */
  private forgetUnsplit(scope: string): void {
    this.split.add(scope);
    for (const [key, s] of this.stats) if (s.unsplit && key.startsWith(`${scope}>`)) this.stats.delete(key);
  }

  /**
   * What ranking reads for one scope. `answer` (a JSON generation): a node's level is its
   * first byte plus what its answers add (`excess`), so a node whose decoding slowed loses
   * JSON traffic while its first byte (what streams are ranked by) may still lead.
   */
  lens(scope: string, now: number, options: { explore: boolean; answer?: boolean }): LiveLens {
    const { halfLifeMs } = this.options;
    const answer = options.answer === true;
    const lens: LiveLens = {
      estimate: (nodeId, tableMs) => {
        const s = this.stats.get(`${scope}>${nodeId}`);
        if (!s) return { expectedMs: tableMs };
        const live = s.ewma + (answer ? s.excess : 0);
        // Bad news stands until a sample disproves it (exploration re-tries the node); good news fades into the table.
        if (!Number.isFinite(tableMs) || live >= tableMs) return { expectedMs: live, liveMs: live, tableMs };
        const alpha = 0.5 ** (Math.max(0, now - s.at) / halfLifeMs);
        return { expectedMs: alpha * live + (1 - alpha) * tableMs, liveMs: live, tableMs };
      },
    };
    if (options.explore) {
      lens.explore = (nodeId, tableMs, leaderMs) => {
        const s = this.stats.get(`${scope}>${nodeId}`);
        // Sampled by this kind: a node streams still use may be due a JSON probe.
        if (!s || Math.min(s.best, tableMs) >= leaderMs) return false;
        // A JSON answer is a costly probe: where first bytes are seen, streams probe, unless only the excess keeps the node out.
        if (answer && s.first && s.ewma >= leaderMs) return false;
        const at = (answer ? s.answers?.at : s.first?.at) ?? s.at;
        if (now - at < s.gap) return false;
        // One probe at a time; a probe whose outcome never came back frees the slot after a gap.
        if (s.probeAt !== undefined && now - s.probeAt < s.gap) return false;
        s.probeBar = leaderMs;
        s.probeAt = now;
        return true;
      };
    }
    return lens;
  }
}
