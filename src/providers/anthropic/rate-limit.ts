/**
 * Anthropic's rate-limit response headers (docs: "Rate limits" → response headers):
 * `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-remaining` and
 * `retry-after` (seconds). What a node has left, for node quotas and honest
 * `x-ratelimit-*` headers once providers are wired in.
 */
import { retryAfterMs } from '../../forward/outcome';

export interface AnthropicRateLimit {
  remainingRequests?: number;
  remainingTokens?: number;
  remainingInputTokens?: number;
  remainingOutputTokens?: number;
  retryAfterMs?: number;
}

const FIELDS = [
  ['remainingRequests', 'anthropic-ratelimit-requests-remaining'],
  ['remainingTokens', 'anthropic-ratelimit-tokens-remaining'],
  ['remainingInputTokens', 'anthropic-ratelimit-input-tokens-remaining'],
  ['remainingOutputTokens', 'anthropic-ratelimit-output-tokens-remaining'],
] as const;

export function anthropicRateLimit(headers: Headers): AnthropicRateLimit {
  const out: AnthropicRateLimit = {};
  for (const [key, name] of FIELDS) {
    const raw = headers.get(name);
    const n = raw === null || raw.trim() === '' ? NaN : Number(raw);
    if (Number.isFinite(n) && n >= 0) out[key] = n;
  }
  const after = retryAfterMs(headers);
  if (after !== undefined) out.retryAfterMs = after;
  return out;
}
