/**
 * Bytes of large request bodies one isolate holds at once (`limits.isolateBodyBytes`). An
 * isolate has 128 MB, and a body is held more than once while its request runs — the
 * caller's bytes (resent on failover), a parsed form or JSON, a form written anew — so two
 * 25 MiB uploads at once could end the isolate and every request on it. A body past
 * `LARGE_BODY_BYTES` holds its size here (its declared length, or the cap when it declares
 * none) until its request ends; one that does not fit waits for others to end, up to
 * `waitMs`, then is refused with a 503 the SDKs retry. One body alone always fits, however
 * large the budget's rest. Small bodies are not counted (no bookkeeping on the hot path).
 */

import { RouterError } from '../errors/router-error';

/**
 * Bodies under this are not counted. At 1 MiB, bodies just under it went uncounted while
 * their requests ran — a hundred long Claude Code sessions (~0.5–1 MiB each) waiting on slow
 * answers, or a caller stalling a hundred uploads that declared 1 MiB, held ~100 MB beside
 * the budget; at 64 KiB (where the JSON shape check starts, `json-shape.ts`) what goes
 * uncounted is bounded by the chat traffic an isolate holds, and the bookkeeping one await
 * costs is small beside reading and parsing 64 KiB.
 */
export const LARGE_BODY_BYTES = 65_536;

let held = 0;
const queue: { bytes: number; admit: () => void }[] = [];

function admitWaiting(budget: number): void {
  while (queue.length > 0 && (held === 0 || held + queue[0]!.bytes <= budget)) {
    const next = queue.shift()!;
    held += next.bytes;
    next.admit();
  }
}

/**
 * Holds `bytes` of the isolate's body budget: the release to call when the request ends
 * (at most once), or undefined when it did not fit within `waitMs`.
 */
export async function holdBody(bytes: number, budget: number, waitMs: number): Promise<(() => void) | undefined> {
  if (bytes < LARGE_BODY_BYTES) return () => {};
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    held -= bytes;
    admitWaiting(budget);
  };
  // First come, first served: a body does not pass one already waiting.
  if (queue.length === 0 && (held === 0 || held + bytes <= budget)) {
    held += bytes;
    return release;
  }
  return new Promise((resolve) => {
    const entry = { bytes, admit: () => (clearTimeout(timer), resolve(release)) };
    const timer = setTimeout(() => {
      queue.splice(queue.indexOf(entry), 1);
      resolve(undefined);
      admitWaiting(budget); // one behind it may fit
    }, waitMs);
    queue.push(entry);
  });
}

/** What the isolate holds now (tests, metrics). */
export const heldBodyBytes = () => held;

/** What a request's body holds of the budget: its declared length, or the cap when it declares none (or lies past it). */
export function heldSize(contentLength: string | undefined, cap: number): number {
  const declared = Number(contentLength ?? NaN);
  return Number.isFinite(declared) && declared >= 0 ? Math.min(declared, cap) : cap;
}

/** The answer to a large body that found no room in time: a 503 the SDKs retry. */
export function bodyBudgetFull(): RouterError {
  return new RouterError(503, 'The router is holding as many large request bodies as it can; retry in a moment.', {
    type: 'server_error',
    code: 'server_overloaded',
    headers: { 'retry-after': '1' },
  });
}

/** What `withBodyBudget` hands its work: call it with a promise that settles when the request truly ends (a body still streaming). */
export type EndsWith = (end: Promise<unknown>) => void;

const ignoreEnd: EndsWith = () => undefined;

/**
 * Runs `work` with the request body's share of the budget held (`heldSize` of its declared
 * length): a small body at once, with no await and no bookkeeping (nearly every request); a
 * large one once it fits, or the 503 (`bodyBudgetFull`) after `waitMs`. The share is given back
 * when `work` settles, or later, when the promise it passes to its `EndsWith` does (an answer
 * still streaming holds the body it may resend). Every route that reads a body goes through here.
 */
export function withBodyBudget<T>(
  contentLength: string | undefined,
  cap: number,
  limits: { isolateBodyBytes: number; bodyWaitMs: number },
  work: (endsWith: EndsWith) => Promise<T>,
): Promise<T> {
  const size = heldSize(contentLength, cap);
  if (size < LARGE_BODY_BYTES) return work(ignoreEnd);
  return heldWhile(size, limits, work);
}

async function heldWhile<T>(size: number, limits: { isolateBodyBytes: number; bodyWaitMs: number }, work: (endsWith: EndsWith) => Promise<T>): Promise<T> {
  const release = await holdBody(size, limits.isolateBodyBytes, limits.bodyWaitMs);
  if (!release) throw bodyBudgetFull();
  let ended: Promise<unknown> | undefined;
  try {
    return await work((end) => (ended = end));
  } finally {
    if (ended) void ended.then(release, release);
    else release();
  }
}
