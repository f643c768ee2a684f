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
export function heldFaults<H extends { nodeId: string }>(held: readonly H[], end: WalkEnd, corroborated: ReadonlySet<string> = NONE, narrowed?: Narrowed): readonly H[] {
  if (end === 'served') return held;
  if (end === 'callers') return [];
  return inconclusive(held, narrowed) ? held.filter((h) => corroborated.has(h.nodeId)) : held;
}

const NONE: ReadonlySet<string> = new Set();

/** Distinct keys whose inconclusive walks on a node corroborate each other (`UnservedKeys`). */
export const CORROBORATING_KEYS = 3;
/** Within this long of each other. */
export const CORROBORATION_MS = 60_000;
/** Keys remembered per node: past it the oldest go (a node then takes keys noted more recently). */
const MAX_KEYS = 1_000;

/**
 * Per node, the keys whose requests went unserved with a held fault on it, inconclusively
 * (`inconclusive`), lately (one per isolate). One key's such requests may be its own doing;
 * several keys' on the same node within a minute are that node failing (a provider-wide
 * outage of 5xx while its probes pass): then `heldFaults` counts that node's faults as before,
 * so the breaker, the colo's tables, `lastLiveError` and the live-traffic alert see the
 * outage. Per node, not per isolate: two keys failing on other nodes (another model's outage,
 * their own long generations) must not lend a poisoning key their corroboration. Bounded:
 * node ids come from the configuration, keys per node by `MAX_KEYS`. Pure: time is a parameter.
 */
export class UnservedKeys {
  /** Node id → key id → when its last such walk ended; in order of that time (re-inserted on each). */
  private readonly byNode = new Map<string, Map<string, number>>();

  /** Notes `keyId`'s inconclusive walk over `nodeIds` at `now`; the nodes of them `CORROBORATING_KEYS` distinct keys' have reached within `CORROBORATION_MS`. */
  note(keyId: string, nodeIds: Iterable<string>, now: number): Set<string> {
    const corroborated = new Set<string>();
    for (const nodeId of new Set(nodeIds)) {
      let last = this.byNode.get(nodeId);
      if (!last) this.byNode.set(nodeId, (last = new Map()));
      last.delete(keyId);
      last.set(keyId, now);
      for (const [key, at] of last) {
        if (now - at <= CORROBORATION_MS && last.size <= MAX_KEYS) break;
        last.delete(key);
      }
      if (last.size >= CORROBORATING_KEYS) corroborated.add(nodeId);
    }
    return corroborated;
  }
}
