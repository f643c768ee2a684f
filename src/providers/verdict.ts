/**
 * An attempt's verdict through its provider's error mapping: OpenAI nodes keep
 * `forward/outcome.ts`'s status rules; other providers' error answers are read by their
 * adapter (Anthropic: 529 `overloaded_error`, 402 billing and 404 model mapping are node
 * faults; Azure: 404 `DeploymentNotFound` is a node fault, a content-filter 400 the
 * caller's, 429 waits `retry-after-ms`). Pure.
 */
import { classify, type Verdict } from '../forward/outcome';
import type { SentAttempt } from '../forward/upstream';
import { parseJsonBytes } from '../http/json-top';
import type { ProviderAdapter } from './types';

export function classifyFor(adapter: ProviderAdapter, sent: Pick<SentAttempt, 'outcome' | 'body'>): Verdict {
  const base = classify(sent.outcome);
  const outcome = sent.outcome;
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
