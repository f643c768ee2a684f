/**
 * Attempts still in flight, per scope and node (`scope>node`, as the live view keys its
 * records): evidence before they end. The live view learns an attempt's time when its first
 * byte (a stream) or its whole answer (JSON) arrives — a node that turned 8× slower keeps its
 * figure, and the traffic, until then, and one that hangs keeps both until the timeout. An
 * attempt out for `elapsed` ms will take at least that: once that passes `OVERDUE` times what the
 * node's figure says, the figure ranking reads is the elapsed time (it grows while the attempt
 * is out; Peak-EWMA's pending term, by age rather than by count — an LLM node serves many long
 * streams at once by design). When the attempt ends its sample takes over, judged as any other.
 *
 * A JSON answer's elapsed time bounds its base only given its length, which is unknown until it
 * ends: only the request's cap bounds it (the decoding of `cap` tokens at the scope's per-token
 * time is taken off). Without a cap nothing does — a bound at a few typical answers' length
 * moved traffic off healthy nodes on every long answer (sim, `SIM_DELAY=1`, JSON seeds 1–10:
 * 0.97 → 2.45% over the oracle at 4 typical answers; ~4% of answers are longer).
 */
import { JUMP } from './live-stat';
import type { OutputRates } from './output-rate';
import type { PrefillFit } from './prefill';

/**
 * An attempt out this many times what the node's figure says is evidence (`JUMP`: as one sample
 * that far past it counts at once). Not `PEAK_RISE`: an isolate with dozens of attempts out to
 * one node nearly always has one past 1.5× its mean (a queue, a long prompt), and the node would
 * read slow all the time.
 */
export const OVERDUE = JUMP;

/** What a body of `bytes` above the scope's mean size may add to the node's first byte (its prefill, by the node's slope). */
export function prefillAllowance(prefill: PrefillFit, scope: string, key: string, bytes: number): number {
  const fit = prefill.read(scope);
  return fit && bytes > fit.meanBytes ? prefill.nodeMsPerByte(scope, key) * (bytes - fit.meanBytes) : 0;
}

interface Out {
  at: number;
  /** What the attempt may take beyond the node's level for reasons of its own (a body above the scope's mean size). */
  offset: number;
  /** JSON: the answer's model and the most tokens it may write (the request's cap). */
  answer?: { model: string; cap: number };
}

const MAX_KEYS = 2_000;

export class InFlight {
  /** Per key, in order of start (a `Set` iterates in insertion order: the first is the oldest). */
  private readonly out = new Map<string, Set<Out>>();

  /** An attempt sent now; the returned function ends it (call it however the attempt ends). */
  begin(key: string, now: number, offset: number, answer?: { model: string; cap: number }): () => void {
    let set = this.out.get(key);
    if (!set) {
      if (this.out.size >= MAX_KEYS) this.prune();
      set = new Set();
      this.out.set(key, set);
    }
    const entry: Out = { at: now, offset, ...(answer ? { answer } : {}) };
    set.add(entry);
    const held = set;
    return () => {
      held.delete(entry);
      if (held.size === 0 && this.out.get(key) === held) this.out.delete(key);
    };
  }

  /**
   * The least first-byte level the node's attempts still out imply, or 0: a stream's elapsed
   * time less its offset; a JSON answer's less its offset, `excess` (what the node's answers add
   * beyond its first byte) and the decoding of its cap at the scope's per-token time.
   */
  floor(key: string, now: number, excess: number, rates: OutputRates, scope: string): number {
    const set = this.out.get(key);
    if (!set) return 0;
    let floor = 0;
    let firstSeen = false;
    let answerSeen = false;
    for (const o of set) {
      const elapsed = now - o.at - o.offset;
      if (!o.answer) {
        if (firstSeen) continue;
        firstSeen = true;
        floor = Math.max(floor, elapsed);
      } else {
        if (answerSeen) continue;
        answerSeen = true;
        const msPerToken = rates.msPerToken(scope, o.answer.model, now);
        if (msPerToken > 0) floor = Math.max(floor, elapsed - excess - msPerToken * o.answer.cap);
      }
      if (firstSeen && answerSeen) break;
    }
    return floor;
  }

  /** Entries of attempts whose end never came (a bug elsewhere) must not grow the map forever. */
  private prune(): void {
    this.out.clear();
  }
}
