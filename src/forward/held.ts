/**
 * Whose fault a failed attempt is, when one attempt cannot say. Pure.
 *
 * A caller who has read the code can send a "poison" request: one that makes every real node
 * fail (a malformed-but-accepted input, a huge image). Counted at once on each node it is
 * tried on, a handful of them would eject the nearest nodes for every other key in the
 * isolate and drag them in the colo's tables. So failures are split, like Envoy's outlier
 * detection splits local-origin from external errors (`split_external_local_origin_errors`):
 *
 * - What a request cannot cause is the node's at once: a connection refused or lost before
 *   any answer (workerd reports a refused and a reset connection alike, and a refused one is
 *   the commonest real outage), a redirect, the node's credential refused, a deployment or
 *   model mapping the node lacks (`providers/verdict.ts`).
 * - What its content can cause is held by the walk: a 5xx or 408, a 200 stream that opens
 *   with a server error or ends before its first chunk, an answer lost after its headers, no
 *   first byte (or whole JSON answer) in time. `heldFaults` decides at the walk's end.
 */
import type { AttemptOutcome, Verdict } from './outcome';

/** Whether the request's own content could have caused this node fault (then it is held, not counted at once). */
export function requestMayCause(outcome: AttemptOutcome, verdict: Extract<Verdict, { action: 'retry' }>): boolean {
  if (!verdict.nodeFault) return false;
  switch (outcome.kind) {
    case 'timeout':
    case 'empty-stream':
      return true;
    case 'network':
      return outcome.answering === true;
    case 'too-large':
      return false;
    case 'response': {
      const { status } = outcome;
      // A 2xx here is a stream that opened with a node error (vLLM's engine failure); 3xx, 401/403, 402/404: the node's setup.
      return (status >= 200 && status < 300) || status === 408 || status >= 500;
    }
  }
}

/**
 * How a walk ended, for its held faults:
 * - `served`: an attempt was accepted — the request could be served, so its earlier failures were their nodes';
 * - `callers`: a node answered it with the caller's error (a 4xx, returned as it came), or
 *   the caller cut the walk short (it left, or its own limits refused the next attempt) —
 *   it could end the walk right after the nearest node's failure, so that one node is all
 *   the walk shows;
 * - `unserved`: no node served it (attempts, deadline or retry budget spent, or nothing left to try).
 */
export type WalkEnd = 'served' | 'callers' | 'unserved';

/**
 * Why a walk saw fewer nodes than its plan offered, though no caller ended it: `pinned` (a
 * Responses follow-up, the caller's choice of node), `cut` (the deadline, the retry budget or
 * `maxAttempts` stopped it with another node left untried). One caller can bring either about
 * — a generation that outlasts the deadline, failing requests that drain the budget — so a
 * fault on its one node says no more than a walk that failed everywhere.
 */
export type Narrowed = 'pinned' | 'cut';

/** Whether an unserved walk's held faults need other keys to corroborate them (`UnservedKeys`). */
export function inconclusive(held: readonly { nodeId: string }[], narrowed: Narrowed | undefined): boolean {
  return held.length > 0 && (narrowed !== undefined || new Set(held.map((h) => h.nodeId)).size > 1);
}

/**
 * The held faults a walk's end turns into node faults (samples and breaker), in the order
 * they happened. Unserved: on one node, when that node was all the walk could try, they
 * count as before (a model only one node serves — nothing to tell them apart by); on two
 * nodes or more, or on one of a walk pinned or cut short (`Narrowed`), the request is the
 * likely cause and none counts. Not even the first: that is always the best-ranked node,
 * the very one an attacker would want out. A real outage is still found — by requests that
 * succeed elsewhere and by the health monitor's probes, which send their own request; when
 * every node tried fails at once, ejecting them would change nothing (a plan whose nodes are
 * all ejected tries them all).
 */
export function heldFaults<H extends { nodeId: string }>(held: readonly H[], end: WalkEnd, corroborated = false, narrowed?: Narrowed): readonly H[] {
  if (end === 'served') return held;
  if (end === 'callers') return [];
  return corroborated || !inconclusive(held, narrowed) ? held : [];
}

/** Distinct keys whose walks failing everywhere corroborate each other (`UnservedKeys`). */
export const CORROBORATING_KEYS = 3;
/** Within this long of each other. */
export const CORROBORATION_MS = 60_000;
const MAX_KEYS = 1_000;

/**
 * Keys whose requests failed on every node they tried, lately (one per isolate). One key's
 * requests failing everywhere may be its own doing; several keys' within a minute are the
 * nodes failing (a provider-wide outage of 5xx while its probes pass): then `heldFaults`
 * counts them as before, so the breaker, the colo's tables, `lastLiveError` and the
 * live-traffic alert see the outage. Pure: time is a parameter.
 */
export class UnservedKeys {
  /** Key id → when its last walk went unserved; in order of that time (re-inserted on each). */
  private readonly last = new Map<string, number>();

  /** Notes `keyId`'s unserved walk at `now`; whether `CORROBORATING_KEYS` distinct keys have had one within `CORROBORATION_MS`. */
  note(keyId: string, now: number): boolean {
    this.last.delete(keyId);
    this.last.set(keyId, now);
    for (const [key, at] of this.last) {
      if (now - at <= CORROBORATION_MS && this.last.size <= MAX_KEYS) break;
      this.last.delete(key);
    }
    return this.last.size >= CORROBORATING_KEYS;
  }
}
