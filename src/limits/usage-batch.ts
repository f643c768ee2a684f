/**
 * Usage totals for keys without limits, summed per isolate and flushed in batches, so
 * such keys cost no Durable Object round trip per request (measured: a per-request
 * totals write took the router from 1.1× to 1.75× a bare pass-through under load).
 * Keys with limits settle per request instead — their slots and reservations need it.
 *
 * A batch is due on the first request of an isolate, then when `FLUSH_MS` has passed
 * since the last flush or `MAX_KEYS` keys are pending. Totals of such keys therefore lag
 * by up to `FLUSH_MS` plus the time to the isolate's next request. Pure, but for the clock.
 *
 * Each key's batch carries this isolate's tag and a number. A batch whose call failed may
 * still have been taken (its reply lost), so it is sent again as it was — same number,
 * nothing merged in — and the key's object takes a number once; what the key gained
 * meanwhile waits for the next batch, sent once that one is taken.
 */
import { onIsolateReset } from '../isolate';

export interface TotalsDelta {
  requests: number;
  promptTokens: number;
  completionTokens: number;
}

/** Which isolate sent a batch, and its number there: `addTotals` takes each once. */
export interface BatchOrigin {
  isolate: string;
  seq: number;
}

export interface SentBatch {
  delta: TotalsDelta;
  from: BatchOrigin;
}

const FLUSH_MS = 5_000;
const MAX_KEYS = 100;
/** This isolate's tag, made on first use: workerd allows no random values in global scope. */
let isolate: string | undefined;
let seq = 0;
let pending = new Map<string, TotalsDelta>();
/** Batches sent and not yet known taken, by key: sent again, as they are, until they are. */
let unacked = new Map<string, SentBatch>();
let lastFlush = -Infinity;

export function recordUsage(keyId: string, usage: { prompt_tokens: number; completion_tokens: number } | undefined): void {
  const d = pending.get(keyId) ?? { requests: 0, promptTokens: 0, completionTokens: 0 };
  d.requests++;
  d.promptTokens += usage?.prompt_tokens ?? 0;
  d.completionTokens += usage?.completion_tokens ?? 0;
  pending.set(keyId, d);
}

const waiting = () => pending.size + unacked.size;

/**
 * The batches to send if a flush is due, else null: a key's batch not yet known taken, as
 * it was; else what is pending for it, numbered. A key's pending deltas wait while its
 * earlier batch is not taken.
 */
export function takeDueBatch(now: number): Map<string, SentBatch> | null {
  if (waiting() === 0 || (now - lastFlush < FLUSH_MS && pending.size < MAX_KEYS)) return null;
  const batch = new Map(unacked);
  for (const [keyId, delta] of pending) {
    if (batch.has(keyId)) continue;
    const sent = { delta, from: { isolate: (isolate ??= crypto.randomUUID()), seq: ++seq } };
    unacked.set(keyId, sent);
    batch.set(keyId, sent);
    pending.delete(keyId);
  }
  lastFlush = now;
  return batch;
}

/** ms until a batch is due (0: now); null when nothing waits. */
export function msUntilDue(now: number): number | null {
  if (waiting() === 0) return null;
  // Many new keys: at once. Batches sent again wait the interval, so an outage is not a busy loop.
  return pending.size >= MAX_KEYS ? 0 : Math.max(0, lastFlush + FLUSH_MS - now);
}

/** A key's batch was taken by its object: the key's next batch may go. */
export function taken(keyId: string, sent: SentBatch): void {
  if (unacked.get(keyId) === sent) unacked.delete(keyId);
}

/** Test hook: forget pending totals; the next request flushes at once. */
export function resetUsageBatch(): void {
  pending = new Map();
  unacked = new Map();
  lastFlush = -Infinity;
}
onIsolateReset(resetUsageBatch);
