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

/**
 * Anthropic's 429 for a request a per-minute token bucket cannot hold: `rate_limit_error`,
 * `This request would exceed your organization's rate limit of L input tokens per minute …`
 * (earlier `… the rate limit for your organization (org) of L input tokens per minute`; output
 * tokens alike). Anthropic words it the same whether the request alone passes what the bucket
 * can hold or the organisation's traffic spent it; its headers tell which. With at least half
 * of that bucket still free (`anthropic-ratelimit-input-tokens-remaining` ≥ half of `-limit`)
 * every request up to that half still passes: what was refused is this request's size, not the
 * node's load — no pause for every key (`providers/verdict.ts`). Without the headers: false.
 */
const BUCKET = /would exceed .{0,120}? of [\d,]+ (input|output) tokens per minute/;

export function anthropicRequestTooLarge(headers: Headers, body: unknown): boolean {
  const error = (body as { error?: { type?: unknown; message?: unknown } } | null | undefined)?.error;
  if (error?.type !== 'rate_limit_error' || typeof error.message !== 'string') return false;
  const kind = BUCKET.exec(error.message)?.[1];
  if (kind === undefined) return false;
  const read = (name: string) => {
    const raw = headers.get(`anthropic-ratelimit-${kind}-tokens-${name}`);
    const n = raw === null || raw.trim() === '' ? NaN : Number(raw);
    return Number.isFinite(n) && n >= 0 ? n : undefined;
  };
  const limit = read('limit');
  const remaining = read('remaining');
  return limit !== undefined && remaining !== undefined && limit > 0 && remaining >= limit / 2;
}
