/**
 * An attempt's verdict through its provider's error mapping: OpenAI nodes keep
 * `forward/outcome.ts`'s status rules; other providers' error answers are read by their
 * adapter (Anthropic: 529 `overloaded_error`, 402 billing and 404 model mapping are node
 * faults; Azure: 404 `DeploymentNotFound` is a node fault, a content-filter 400 the
 * caller's, 429 waits `retry-after-ms`). An Anthropic stream (Anthropic, Claude on Vertex)
 * whose first event is `error` — how Anthropic's overloads come after a 200 — is read the
 * same way: nothing of it has reached the caller, so it fails over like a 529; so is a
 * Bedrock event stream whose first frame is an exception (`throttlingException`, …), and an
 * OpenAI-format stream (OpenAI, Azure, vLLM, OpenRouter) whose first event is `data:
 * {"error": …}` — how vLLM reports an engine failure, and gateways an upstream's, after a
 * 200: a server error fails over, a rate limit is retried elsewhere, a caller's error (a
 * numeric 4xx code) is relayed as it came. Pure.
 */
import { classify, gatewayTimeout, type Verdict } from '../forward/outcome';
import type { SentAttempt } from '../forward/upstream';
import { parseJsonBytes } from '../http/json-top';
import { mapAnthropicStreamError } from './anthropic/errors';
import { anthropicRequestTooLarge } from './anthropic/rate-limit';
import { mapBedrockStreamException } from './bedrock/errors';
import { EventStreamDecoder } from './bedrock/event-stream';
import type { MappedError, ProviderAdapter } from './types';

const ERROR_FIRST = /^event: ?error\r?\n(?:data: ?(.*))?/;

/** The error of a stream whose first event is Anthropic's `error` event (read from the first chunk), or undefined. */
function firstEventError(first: Uint8Array): MappedError | undefined {
  const match = ERROR_FIRST.exec(new TextDecoder().decode(first.subarray(0, 4096)));
  if (!match) return undefined;
  let error: { type?: unknown; message?: unknown } | undefined;
  try {
    error = (JSON.parse(match[1] ?? '') as { error?: typeof error } | null)?.error;
  } catch {
    // A cut or odd data line: still an error event in place of the answer.
  }
  return mapAnthropicStreamError({ type: typeof error?.type === 'string' ? error.type : 'api_error', message: typeof error?.message === 'string' ? error.message : '' });
}

const DATA_ERROR_FIRST = /^data: ?(\{\s*"error"[^\n]*)/;
const decoder = new TextDecoder();

/** The error of an OpenAI-format stream whose first event is an error object (read from the first chunk), or undefined. */
function firstDataError(first: Uint8Array): MappedError | undefined {
  // Every OpenAI stream passes here: its first 24 bytes decide, the rest is read only for an error.
  if (!DATA_ERROR_FIRST.test(decoder.decode(first.subarray(0, 24)))) return undefined;
  const match = DATA_ERROR_FIRST.exec(decoder.decode(first.subarray(0, 4096)));
  if (!match) return undefined;
  let error: { type?: unknown; message?: unknown; code?: unknown } | undefined;
  try {
    error = (JSON.parse(match[1]!) as { error?: typeof error } | null)?.error;
  } catch {
    // A cut line: an error in place of the answer all the same.
  }
  const code = typeof error?.code === 'number' ? error.code : Number.NaN;
  const type = typeof error?.type === 'string' ? error.type : '';
  const rateLimited = code === 429 || /rate_limit/.test(type);
  const callers = !rateLimited && ((code >= 400 && code < 500) || type === 'invalid_request_error');
  const status = rateLimited ? 429 : callers ? (code >= 400 ? code : 400) : 502;
  const message = typeof error?.message === 'string' ? error.message : 'The upstream stream opened with an error.';
  return {
    status,
    fault: rateLimited ? 'rate-limited' : callers ? 'caller' : 'node',
    body: { error: { message, type: type || 'server_error', param: null, code: Number.isNaN(code) ? (type || 'upstream_error') : String(code) } },
  };
}

/** The exception a Bedrock event stream opens with (its first frame, in the first chunk), or undefined. */
function firstFrameException(first: Uint8Array): MappedError | undefined {
  let frame;
  try {
    frame = new EventStreamDecoder().push(first)[0];
  } catch {
    return undefined; // a corrupt frame: the relay's translator reports it
  }
  if (!frame || frame.messageType === 'event') return undefined;
  let body: unknown;
  try {
    body = JSON.parse(frame.body);
  } catch {
    body = undefined;
  }
  return mapBedrockStreamException(frame.type || 'internalServerException', body);
}

/** The error a stream opens with, read the way its provider sends errors inside a 200 stream. */
function openingError(adapter: ProviderAdapter, first: Uint8Array): MappedError | undefined {
  if (adapter.name === 'anthropic' || adapter.name === 'vertex') return firstEventError(first);
  return adapter.name === 'bedrock' ? firstFrameException(first) : firstDataError(first);
}

/**
 * OpenAI's answer to a request that alone passes the organisation's quota: HTTP 429, type
 * `tokens`, `Request too large for <model> … on tokens per min (TPM): Limit L, Requested R`.
 * Anthropic's is read from its rate-limit headers (`anthropicRequestTooLarge`).
 */
const TOO_LARGE = /^Request too large for /;

function requestTooLarge(adapter: ProviderAdapter, outcome: SentAttempt['outcome'], body: Uint8Array | undefined): boolean {
  if (outcome.kind !== 'response' || outcome.status !== 429 || !body || body.byteLength > 65_536) return false;
  const parsed = parseJsonBytes(body);
  // Anthropic's input- or output-tokens-per-minute 429 with half its bucket still free (`anthropic/rate-limit.ts`).
  if (adapter.name === 'anthropic') return anthropicRequestTooLarge(outcome.headers, parsed);
  const message = (parsed as { error?: { message?: unknown } } | null | undefined)?.error?.message;
  return typeof message === 'string' && TOO_LARGE.test(message);
}

export function classifyFor(adapter: ProviderAdapter, sent: Pick<SentAttempt, 'outcome' | 'body' | 'stream'>): Verdict {
  const base = classify(sent.outcome);
  const outcome = sent.outcome;
  // Not the node's pause: one key sending such requests would bench the node for every key (`forward/walk.ts` cools on a 429).
  if (requestTooLarge(adapter, outcome, sent.body)) return { action: 'retry', reason: 'HTTP 429 request too large for the node\'s quota', nodeFault: false, requestTooLarge: true };
  if (base.action === 'accept' && sent.stream) {
    const mapped = openingError(adapter, sent.stream.first);
    const what = `stream opened with an error (${String(mapped?.body.error.code ?? 'error')})`;
    const after = mapped?.retryAfterMs !== undefined ? { retryAfterMs: mapped.retryAfterMs } : {};
    if (mapped?.fault === 'rate-limited') return { action: 'retry', reason: what, nodeFault: false, rateLimited: true, ...after };
    if (mapped?.fault === 'node') return { action: 'retry', reason: what, nodeFault: true, ...after };
  }
  if (adapter.name === 'openai' || outcome.kind !== 'response' || base.action === 'accept' || (outcome.status >= 300 && outcome.status < 400)) return base;
  const mapped = adapter.mapError(outcome.status, outcome.headers, parseJsonBytes(sent.body));
  const after = mapped.retryAfterMs !== undefined ? { retryAfterMs: mapped.retryAfterMs } : {};
  switch (mapped.fault) {
    case 'caller':
      return { action: 'return' };
    case 'rate-limited':
      return { action: 'retry', reason: `HTTP ${outcome.status} rate limited`, nodeFault: false, rateLimited: true, ...after };
    case 'node':
      return {
        action: 'retry',
        reason: base.action === 'retry' ? base.reason : `HTTP ${outcome.status} (${adapter.name} node fault)`,
        nodeFault: true,
        ...after,
        // A gateway's timeout: the node behind it may still be generating, and billing (`forward/outcome.ts`).
        ...(gatewayTimeout(outcome.status) ? { billed: true } : {}),
      };
  }
}
