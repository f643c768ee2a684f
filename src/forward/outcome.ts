/**
 * What one upstream attempt's outcome means for the request: keep it, return it as is, or
 * try elsewhere. Pure.
 *
 * Retryable on another node: connection refused/reset, DNS failure, timeout before the
 * first byte, 408, 429, 5xx, and 401/403 — an upstream 401/403 means *the node's*
 * credential is broken (the caller's key is never sent upstream), so it is a node fault.
 * Other 4xx (400, 404, 413, 422, …) are the caller's: returned at once, unchanged.
 * A redirect is a node fault (never followed: it would carry the node's credential away).
 * A gateway's timeout in front of the node (504; Cloudflare's 524, sent after 100 s without
 * an answer) is retried too, but paid for: the gateway gave up on a node that was still
 * generating, and may bill it, as when the router's own timeout fires.
 */

export type AttemptOutcome =
  | { kind: 'response'; status: number; headers: Headers }
  /** Sent, then nothing observable in time: a stream's first chunk, a JSON answer whole. */
  | { kind: 'timeout'; afterMs: number; stream: boolean }
  /** `answering`: it failed after the answer's headers came (reading the body): the node generated it, and bills it. */
  | { kind: 'network'; message: string; answering?: boolean }
  /** A 200 stream that ended or failed before its first chunk. */
  | { kind: 'empty-stream' }
  /** An answer larger than `limits.maxResponseBytes`. */
  | { kind: 'too-large'; limit: number; status: number };

export type Verdict =
  | { action: 'accept' }
  | { action: 'return' }
  /** Stop: no other node would do better, and the attempt was paid for (an answer too large to hold). */
  | { action: 'fail'; reason: string }
  | {
      action: 'retry';
      reason: string;
      nodeFault: boolean;
      retryAfterMs?: number;
      /** Abandoned after it was sent: the upstream may still be generating, and billing, it. */
      timeout?: boolean;
      /** Lost after the node began answering: it generated, and bills, the answer the router never got. */
      billed?: boolean;
      rateLimited?: boolean;
      /**
       * A 429 saying this request alone passes the node's own quota (OpenAI's `Request too
       * large … on tokens per min`): the request's doing, not a pause the node asks for.
       * Retried elsewhere (another organisation's quota may hold it), the node not cooled.
       */
      requestTooLarge?: boolean;
    };

/**
 * Delay an upstream asked for: `retry-after-ms` (OpenAI's, ms) wins over `retry-after`
 * (RFC 9110 §10.2.3: delay-seconds or an HTTP-date). Undefined if absent or unparsable.
 */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.has('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** A gateway in front of the node timed out waiting for it (module header): the node may still be generating. */
export const gatewayTimeout = (status: number) => status === 504 || status === 524;

export function classify(outcome: AttemptOutcome): Verdict {
  switch (outcome.kind) {
    case 'timeout': {
      const what = outcome.stream ? 'no first chunk' : 'no complete answer';
      return { action: 'retry', reason: `timeout (${what} within ${outcome.afterMs} ms)`, nodeFault: true, timeout: true };
    }
    case 'too-large':
      return { action: 'fail', reason: `answer larger than the ${outcome.limit}-byte limit (HTTP ${outcome.status})` };
    case 'network':
      if (outcome.answering) return { action: 'retry', reason: `connection lost mid-answer (${outcome.message})`, nodeFault: true, billed: true };
      return { action: 'retry', reason: `connection failed (${outcome.message})`, nodeFault: true };
    case 'empty-stream':
      return { action: 'retry', reason: 'stream ended before its first chunk', nodeFault: true };
    case 'response': {
      const { status, headers } = outcome;
      if (status >= 200 && status < 300) return { action: 'accept' };
      if (status >= 300 && status < 400) {
        return { action: 'retry', reason: `HTTP ${status} redirect (not followed)`, nodeFault: true };
      }
      if (status === 401 || status === 403) {
        return { action: 'retry', reason: `node credential rejected (HTTP ${status})`, nodeFault: true };
      }
      if (status === 429) {
        const after = retryAfterMs(headers);
        return { action: 'retry', reason: 'HTTP 429 rate limited', nodeFault: false, rateLimited: true, ...(after !== undefined ? { retryAfterMs: after } : {}) };
      }
      if (status === 408 || status >= 500) {
        const after = retryAfterMs(headers);
        return { action: 'retry', reason: `HTTP ${status}`, nodeFault: true, ...(after !== undefined ? { retryAfterMs: after } : {}), ...(gatewayTimeout(status) ? { billed: true } : {}) };
      }
      return { action: 'return' };
    }
  }
}
