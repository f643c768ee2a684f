/**
 * This isolate's rollup rows, summed in memory and sent in one call to this isolate's
 * UsageRollups shard when a flush is due: `FLUSH_MS` since the last, or `MAX_ROWS` rows
 * pending. Never a storage write per request. Each isolate picks its shard at random once
 * (`shards.ts`): every shard takes 1/`usage.shards` of the isolates' calls and rows, even
 * when one key has most of the traffic (a shard by key would take every isolate's call).
 *
 * Nothing waits for a later request: each request's own `waitUntil` runs
 * `flushRollupsWhenDue`, which flushes at once when due and otherwise sleeps until the
 * batch's flush time (at most `FLUSH_MS`, well inside the 30 s `waitUntil` allows after the
 * response), so the last request before an isolate goes idle still sends its rows. One
 * request's `waitUntil` holds the batch's timer; requests that add rows while it is
 * scheduled hand nothing to their own (the scheduled run loops while rows are pending, so it
 * sends theirs too), and their contexts end with their responses instead of idling up to
 * `FLUSH_MS` each (in the bench: 4% of the router's CPU per request at concurrency 1, 9% at 8). A call that fails keeps its batch —
 * the same rows, id and shard — and it is sent again after 1, 2, 4… s within
 * `WAIT_BUDGET_MS`, then by the next request's flush: re-queued, never dropped, and never
 * counted twice (the object applies a batch id once: a call can fail after its write landed).
 * Rows added meanwhile wait in `pending` and go in the next batch.
 */
import { onIsolateReset } from '../isolate';
import { HeldFlush } from './held-flush';
import { HOUR_MS, type RollupRow, type UsageRollups } from './rollups-do';
import { pickShard, shardName } from './shards';

const FLUSH_MS = 10_000;
const MAX_ROWS = 200;
/** How long one request's `waitUntil` may spend on rollups after its response (Workers allow 30 s). */
const WAIT_BUDGET_MS = 25_000;
const RETRY_MS = 1_000;

let pending = new Map<string, RollupRow>();
/** A batch cut from `pending` and not yet acknowledged: sent again as it is, never re-merged. */
interface Batch {
  id: string;
  shard: number;
  rows: RollupRow[];
}
let unsent: Batch | null = null;
let lastFlush = -Infinity;
const scheduled = new HeldFlush(WAIT_BUDGET_MS);
/** This isolate's shard, picked for the shard count it was picked under. */
let mine: { of: number; index: number } | null = null;
onIsolateReset(() => {
  pending = new Map();
  unsent = null;
  lastFlush = -Infinity;
  scheduled.reset();
  mine = null;
});

function myShard(shards: number): number {
  if (mine?.of !== shards) mine = { of: shards, index: pickShard(shards, Math.random()) };
  return mine.index;
}

export interface Settled {
  at: number;
  key: string;
  model: string;
  node: string;
  error: boolean;
  usage?: { prompt_tokens: number; completion_tokens: number; cached_tokens?: number } | undefined;
  cost: number | null;
}

const SUMMED = ['requests', 'errors', 'inputTokens', 'cachedTokens', 'outputTokens', 'costNano', 'unpriced'] as const;

/** Add a row's counts onto the pending row of its hour × key × model × node. */
function merge(row: RollupRow): void {
  const id = `${row.hour}\u0000${row.key}\u0000${row.model}\u0000${row.node}`;
  const into = pending.get(id);
  if (!into) return void pending.set(id, { ...row });
  for (const f of SUMMED) into[f] += row[f];
}

export function addToRollup(s: Settled): void {
  merge({
    hour: s.at - (s.at % HOUR_MS),
    key: s.key,
    model: s.model,
    node: s.node,
    requests: 1,
    errors: s.error ? 1 : 0,
    inputTokens: s.usage?.prompt_tokens ?? 0,
    cachedTokens: s.usage?.cached_tokens ?? 0,
    outputTokens: s.usage?.completion_tokens ?? 0,
    costNano: s.cost === null ? 0 : Math.round(s.cost * 1e9),
    unpriced: s.cost === null ? 1 : 0,
  });
}

/** Rows waiting to be sent: the unacknowledged batch's and the pending ones. */
const waiting = () => (unsent?.rows.length ?? 0) + pending.size;

/**
 * Send what is waiting now if a flush is due (or `force`): the batch a failed call left, as
 * it was, then the pending rows as a new batch. A failed call keeps its batch for the next
 * try and throws.
 */
export async function flushRollups(ns: DurableObjectNamespace<UsageRollups>, shards: number, now: number, force = false): Promise<void> {
  if (waiting() === 0 || (!force && now - lastFlush < FLUSH_MS && waiting() < MAX_ROWS)) return;
  lastFlush = now;
  const leftover = unsent !== null;
  await send(ns, (unsent ??= cut(shards)));
  if (leftover && pending.size > 0) await send(ns, (unsent ??= cut(shards)));
}

async function send(ns: DurableObjectNamespace<UsageRollups>, batch: Batch): Promise<void> {
  await ns.getByName(shardName(batch.shard)).record(batch.rows, batch.id);
  // Another flush may have sent it too (the object applied it once) and cut the next one.
  if (unsent === batch) unsent = null;
}

function cut(shards: number): Batch {
  return { id: crypto.randomUUID(), shard: myShard(shards), rows: take() };
}

function take(): RollupRow[] {
  const rows = [...pending.values()];
  pending = new Map();
  return rows;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * For a request's `waitUntil`: flush now if due, else wait for the batch's flush time and
 * flush then; retry failed shards with backoff within `WAIT_BUDGET_MS`. Undefined when there
 * is nothing for this request to keep alive: no rows, or a flush already scheduled (held by
 * the `waitUntil` of the request that scheduled it) that will send them — one whose rows fall
 * due after that run's budget ends schedules its own, or they would wait for a later request.
 */
export function flushRollupsWhenDue(ns: DurableObjectNamespace<UsageRollups>, shards: number): Promise<void> | undefined {
  if (waiting() === 0) return undefined;
  // The scheduled run sends these rows only if they fall due within its budget; else this request schedules its own.
  if (waiting() < MAX_ROWS && scheduled.covers(lastFlush + FLUSH_MS)) return undefined;
  return scheduled.start(async (started) => {
    let retry = 0; // the pause before trying again after a failed call; 0: none failed
    // Loop while rows are pending: rows that arrive while a call is in flight ride on this
    // timer (their requests were handed it), so they are sent by the next round, not left.
    for (;;) {
      if (waiting() === 0) return;
      const wait = retry || (waiting() < MAX_ROWS ? lastFlush + FLUSH_MS - Date.now() : 0);
      if (wait > 0) {
        if (Date.now() + wait - started > WAIT_BUDGET_MS) return; // still pending: the next request's flush sends them
        await sleep(wait);
      }
      try {
        await flushRollups(ns, shards, Date.now(), true);
        retry = 0;
      } catch (err) {
        retry = retry ? retry * 2 : RETRY_MS;
        if (Date.now() + retry - started > WAIT_BUDGET_MS) throw err; // re-queued: the next request's flush sends them
      }
    }
  });
}
