/**
 * The isolate's live view of its nodes: what this isolate's own recent attempts measured,
 * blended over the published table so routing reacts in seconds, not when the next table
 * arrives (samples are batched, tables published once a minute, read through KV's cache).
 * Pure: time is a parameter; one instance per isolate (the engine's), keyed by scope and
 * node. The engine's scope is the caller's colo, the endpoint group and the model
 * (`FRA/chat/gpt-4o-mini`, `liveScope`): an isolate serves one colo in production (tests and
 * the simulator drive several), a node's first byte for a chat stream says little about its
 * embeddings, and a reasoning model's (after it has reasoned: seconds to minutes) nothing
 * about a small model's on the same node. The colo's per-node samples pool every model:
 * `pooled` keeps the far slower ones out (`live-units.ts`).
 *
 * Estimate: Peak-EWMA (Finagle/Linkerd) of first-byte latency with time constant `ewmaMs`
 * (the weight of the past decays with the time between samples, not their count), where a
 * rise past 1.5× counts at once when two samples in a row show it (`min(sample, previous)`),
 * or when one sample jumps past 4×: one long prompt's prefill does not move traffic, a node
 * that has slowed down does. Smaller drifts are averaged in.
 * JSON answers feed it too, normalised and weighed as `live-answers.ts` says, and a node's
 * level for JSON traffic is its first byte plus what its answers add (`excess`).
 *
 * Blend: bad news (live slower than the table) stands until a sample disproves it: the
 * table cannot catch up on its own, since once traffic has left a node, the few slow samples
 * it got are outweighed by minutes of good ones. Good news (live faster) is blended as
 * `α·live + (1−α)·table`, `α = 0.5^(age / halfLifeMs)`: it fades into the table as it ages.
 *
 * Exploration (winning back; `live-explore.ts`): a node that the isolate has seen (before its estimate last
 * rose), or the table says, is faster than the current leader, and that has not been sampled
 * for its gap (`exploreMs` at first),
 * gets the next request whose outcome is a signal — one probe per node at a time. So does a
 * node whose figure JSON answers set, worth less than one first byte together, when the lowest
 * its figure may plausibly be beats the leader (`thinBound`): one noisy long answer no longer
 * holds a node out all run, and that probe's answer is weighed with it unless it clearly falls. A probe
 * still slower than the leader doubles the gap (up to `maxExploreMs`); a fast one resets it
 * and, being fresh, puts the node back in front. So a recovered node regains its traffic
 * within `maxExploreMs` plus one request, and a node that stays slow costs one request per
 * gap per isolate. Where the monitor's probes saw the slowdown too, its published figures
 * take over (`live-cue.ts`): the node is re-tried as soon as they show it recovered, and the
 * schedule's probes wait `CORROBORATED × maxExploreMs` meanwhile.
 *
 * In flight: not Linkerd's (pending + 1) factor (an LLM node serves many long streams at once by
 * design), but an attempt's age, once past what the figure says (`live-pending.ts`).
 */
import type { LiveConfig } from '../config/schema';
import { moveExcess, observeWhole, SHORT, worth, type AnswerUse, type Evidence } from './live-answers';
import { MonitorFigures, type ProbeFigures } from './live-cue';
import { exploreDue, settleProbe } from './live-explore';
import { isFresh, isThin, JUMP, PEAK_RISE, type LiveStat } from './live-stat';
import { InFlight, OVERDUE, prefillAllowance } from './live-pending';
import { ModelUnits } from './live-units';
import { OutputRates } from './output-rate';
import { PrefillFit } from './prefill';

export type { AnswerUse, Evidence } from './live-answers';

/** What ranking reads for one caller at one moment. */
export interface LiveLens {
  /** Expected first-byte ms: the table's figure with this isolate's evidence blended in. */
  estimate(nodeId: string, tableMs: number): { expectedMs: number; liveMs?: number; tableMs?: number };
  /**
   * Claims an exploration slot for a node the live view moved traffic from (side effect).
   * `figures`: the monitor's probe figures as the caller's table carries them; the view reads
   * the newer of them and those it heard through the fast channel (`hear`, `live-cue.ts`).
   */
  explore?(nodeId: string, tableMs: number, leaderMs: number, figures?: ProbeFigures): boolean;
}

/** Records per (colo, endpoint group, model, node) the isolate has seen: a config's models × their nodes, a few times over. */
const MAX_ENTRIES = 10_000;

export class LiveView {
  private readonly stats = new Map<string, LiveStat>();

  /** Scopes whose answers have been split (a per-token reference known): `forgetUnsplit` has run. */
  private readonly split = new Set<string>();

  private readonly options: LiveConfig;

  /** Reference ms per output token per (scope, model), learnt from JSON answers. */
  readonly rates = new OutputRates();

  /** How first bytes grow with the prompt, per scope (`prefill.ts`). */
  readonly prefill = new PrefillFit();

  /** Attempts still out (`live-pending.ts`): evidence before they end. */
  private readonly inFlight = new InFlight();

  /** The monitor's probe figures: those heard through the fast channel (`hear`), and each node's calm one. */
  private readonly monitor = new MonitorFigures();

  /** Which models' successes feed the colo's per-node samples (`live-units.ts`). */
  private readonly units = new ModelUnits();

  constructor(options: LiveConfig) {
    this.options = options;
  }

  /**
   * One attempt's outcome. Failures leave the estimate alone (the breaker judges them) but
   * settle a probe. Returns true when the sample was news (a rise counted at once).
   * `how` (`Evidence`): whether it is a JSON answer and what was taken out of its time, its
   * share of a typical answer's evidence, and whether the caller forced the node.
   */
  observe(scope: string, nodeId: string, ms: number, ok: boolean, now: number, how: Evidence = {}): boolean {
    const { offset = 0, answer = false } = how;
    const key = `${scope}>${nodeId}`;
    const s = this.stats.get(key);
    const share = Math.min(1, Math.max(0, how.share ?? 1));
    const bad = ok && s !== undefined && PEAK_RISE < (ms + offset) / Math.max(1, s.ewma + (answer ? s.excess : 0) + offset);
    if (how.forced && !bad) return false;
    // Short answers are judged only where they would move the excess (first bytes fresh): see `Evidence.share`.
    const fresh = answer && s !== undefined && isFresh(s, now, this.options.ewmaMs);
    if (fresh && share < SHORT && !bad) {
      if (s) settleProbe(s, ok, ms, this.options); // as a probe: its first token came (not its decoding)
      return false;
    }
    const track = { last: ms, weight: worth(ms, offset), at: now };
    // A probe of a node whose figure rests on thin evidence adds to it (unless it clearly falls) rather than replacing it (`isThin`).
    const confirming = s !== undefined && s.probeBar !== undefined && isThin(s);
    if (!s) {
      if (!ok) return false;
      if (this.stats.size >= MAX_ENTRIES) {
        this.stats.clear();
        this.split.clear();
      }
      this.stats.set(key, { ewma: ms, excess: 0, [answer ? 'answers' : 'first']: track, at: now, best: ms, gap: this.options.exploreMs, evidence: track.weight });
      return false;
    }
    settleProbe(s, ok, ms, this.options);
    if (!ok) return false;
    // No sample of this kind yet: the past is the level the other kind set, as old as it is (at `now`, w = 1 kept
    // the level whole — a node's first first byte after JSON answers moved nothing, yet counted as evidence).
    const t = (answer ? s.answers : s.first) ?? { ...track, weight: 0, at: s.at };
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
    const held = confirming && ratio >= 1 / PEAK_RISE ? s.evidence! : t.weight * w;
    // First bytes: the time-constant EWMA. JSON answers: weighted by what each tells of the base,
    // so a few answers after a gap average out instead of the first one standing.
    const next = rise ? peak : offset === 0 ? w * level + (1 - w) * ms : (held * level + v * ms) / (held + v);
    const track2 = { last: ms, ratio, weight: rise ? v : held + v, at: Math.max(t.at, now) };
    if (answer) s.answers = track2;
    else s.first = track2;
    s.at = Math.max(s.at, now);
    // While first bytes are fresh, an answer tells what decoding adds: streams keep their figure.
    if (answer && isFresh(s, now, this.options.ewmaMs)) {
      moveExcess(s, ms, rise, next, held, v, w);
      return rise;
    }
    s.ewma = next - excess;
    s.evidence = rise ? v : held + v;
    if (rise) s.risen = true;
    else {
      if (s.risen && s.ewma <= s.best * PEAK_RISE) {
        delete s.risen;
        delete s.cue;
      }
      // The first sample of what may be a rise does not move the bar: the next one decides.
      if (!s.risen && ratio <= PEAK_RISE) s.best = s.ewma;
    }
    return rise;
  }

  /**
   * A successful attempt's time taken to the scope's mean body size (`prefill.ts`), before the
   * table and the live view see it. `teach`: the time is evidence of the node (a first byte, or
   * an unforced answer: `answer`, judged against its level plus the reference decoding of what
   * it wrote), so it also teaches the fit, against the node's level if it has one.
   */
  prefilled(scope: string, nodeId: string, ms: number, bytes: number, now: number, teach: boolean, answer?: { model: string; tokens: number }): number {
    const key = `${scope}>${nodeId}`;
    const s = teach ? this.stats.get(key) : undefined;
    const level = s && (answer ? s.ewma + s.excess + this.rates.msPerToken(scope, answer.model, now) * answer.tokens : s.ewma);
    return this.prefill.normalise(scope, key, bytes, ms, now, level);
  }

  /** An attempt sent now, of a body of `bytes` (`answer`: a JSON generation writing at most `cap` tokens); the returned function ends it. */
  begin(scope: string, nodeId: string, now: number, bytes: number, answer?: { model: string; cap: number }): () => void {
    const key = `${scope}>${nodeId}`;
    return this.inFlight.begin(key, now, prefillAllowance(this.prefill, scope, key, bytes), answer);
  }

  /**
   * Whether a success of `model` on the node (`ms`, as taken to the mean body size) may feed the
   * colo's samples, whose figure per node pools every model (`live-units.ts`). `scope`: the
   * live view's (per model); `colo`: the colo's samples' (`coloScope`).
   */
  pooled(colo: string, scope: string, model: string, nodeId: string, ms: number, now: number): boolean {
    const s = this.stats.get(`${scope}>${nodeId}`);
    const pooled = this.units.pooled(`${colo}>${nodeId}`, model, s?.ewma, ms, now);
    // Kept out: the table's figure for the node is in another unit, and no claim that the node could beat the leader (`explore`).
    if (s && !pooled) s.apart = true;
    else if (s) delete s.apart;
    return pooled;
  }

  /**
   * The monitor's probe figures through the fast channel (the colo's ColoStats hands them back
   * with each sample batch, `samples.ts`), kept when newer than those already heard. The same
   * for every scope: the monitor probes a node from one place.
   */
  hear(figures: ProbeFigures): void {
    this.monitor.hear(figures);
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
    const rose = whole && before && isFresh(before, now, this.options.ewmaMs) ? observeWhole(before, n.ms, now, forced, this.options.ewmaMs) : this.observe(scope, nodeId, n.ms, true, now, { offset: n.offset, answer: true, share, forced });
    const s = this.stats.get(key);
    if (!s || (forced && !rose)) return n.ms;
    if (whole && s.whole === undefined) s.unsplit = true;
    // A node whose answers rose teaches the reference nothing until it is back near its level before (`output-rate.ts`).
    if (rose) {
      this.rates.hold(scope, model, nodeId, ms, tokens, now, !forced);
      s.held ??= level;
    } else if (!forced && n.offset > 0 && level !== undefined && s.held === undefined && n.ms + n.offset > PEAK_RISE * Math.max(1, level + n.offset)) {
      // The first answer of what may be a rise teaches the reference nothing until the next one says which (`OutputRates.unlearn`).
      this.rates.unlearn(scope, model, nodeId, ms, tokens, now);
    } else if (s.held === undefined || s.ewma + s.excess <= s.held * PEAK_RISE) {
      this.rates.release(scope, model, nodeId, ms, tokens, now);
      delete s.held;
    }
    return n.ms;
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
        const key = `${scope}>${nodeId}`;
        const s = this.stats.get(key);
        if (!s) return { expectedMs: tableMs };
        // An attempt still out past what the figure says: it will take at least what it has taken (`live-pending.ts`).
        const floor = this.inFlight.floor(key, now, s.excess, this.rates, scope);
        const live = (floor > OVERDUE * s.ewma ? floor : s.ewma) + (answer ? s.excess : 0);
        // Bad news stands until a sample disproves it (exploration re-tries the node); good news fades into the table.
        if (!Number.isFinite(tableMs) || live >= tableMs) return { expectedMs: live, liveMs: live, tableMs };
        const alpha = 0.5 ** (Math.max(0, now - s.at) / halfLifeMs);
        return { expectedMs: alpha * live + (1 - alpha) * tableMs, liveMs: live, tableMs };
      },
    };
    if (options.explore) {
      lens.explore = (nodeId, tableMs, leaderMs, figures) => {
        const s = this.stats.get(`${scope}>${nodeId}`);
        return s !== undefined && exploreDue(s, tableMs, leaderMs, answer, this.monitor.read(figures)?.probeMs[nodeId], this.monitor.calmOf(nodeId), now, this.options);
      };
    }
    return lens;
  }
}
