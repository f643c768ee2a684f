/**
 * An attempt's verdict through its provider's error mapping: OpenAI nodes keep
 * `forward/outcome.ts`'s status rules; other providers' error answers are read by their
 * adapter (Anthropic: 529 `overloaded_error`, 402 billing and 404 model mapping are node
 * faults; Azure: 404 `DeploymentNotFound` is a node fault, a content-filter 400 the
 * caller's, 429 waits `retry-after-ms`). An Anthropic stream (Anthropic, Claude on Vertex)
 * whose first event is `error` — how Anthropic's overloads come after a 200 — is read the
 * same way: nothing of it has reached the caller, so it fails over like a 529. Pure.
 */
import { classify, type Verdict } from '../forward/outcome';
import type { SentAttempt } from '../forward/upstream';
import { parseJsonBytes } from '../http/json-top';
import { mapAnthropicStreamError } from './anthropic/errors';
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

export function classifyFor(adapter: ProviderAdapter, sent: Pick<SentAttempt, 'outcome' | 'body' | 'stream'>): Verdict {
  const base = classify(sent.outcome);
  const outcome = sent.outcome;
  if (base.action === 'accept' && sent.stream && (adapter.name === 'anthropic' || adapter.name === 'vertex')) {
    const mapped = firstEventError(sent.stream.first);
    if (mapped?.fault === 'rate-limited') return { action: 'retry', reason: 'stream opened with a rate_limit_error event', nodeFault: false, rateLimited: true };
    if (mapped?.fault === 'node') return { action: 'retry', reason: `stream opened with an error event (${String(mapped.body.error.code ?? 'error')})`, nodeFault: true };
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
      return { action: 'retry', reason: base.action === 'retry' ? base.reason : `HTTP ${outcome.status} (${adapter.name} node fault)`, nodeFault: true, ...after };
  }
}
