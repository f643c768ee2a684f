/**
 * Backoff before trying the same node again: exponential with full jitter
 * (sleep = random(0, min(cap, base · 2^n)), AWS Architecture Blog "Exponential Backoff and
 * Jitter"), never shorter than what the upstream asked for with Retry-After. Pure: the
 * random source is a parameter.
 */
export interface BackoffOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

export function backoffDelay(retry: number, options: BackoffOptions, retryAfterMs = 0, random = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, retry));
  return Math.max(Math.floor(random() * ceiling), retryAfterMs);
}
