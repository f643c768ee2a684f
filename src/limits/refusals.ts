/**
 * What a limit says to the caller, in OpenAI's words — pure: the `x-ratelimit-*` headers of an
 * admission, and the 429s of a refusal (`rate_limit_exceeded` for rpm, tpm and concurrency,
 * with `retry-after`; `insufficient_quota` for a spent budget; "Request too large" for a
 * request no window can hold). `admission.ts` answers with them.
 */
import { RouterError } from '../errors/router-error';
import { formatReset, type Decision, type Snapshot } from './window';

export const LIMIT_NAMES = { requests: 'requests per minute (rpm)', tokens: 'tokens per minute (tpm)', concurrency: 'concurrent requests', day: 'daily budget', month: 'monthly budget' };

const usd = (nano: number) => `$${(nano / 1e9).toFixed(nano % 1e7 === 0 ? 2 : 6)}`;

/** OpenAI's `x-ratelimit-*` headers (plus `-concurrency`, which OpenAI does not have). */
export function rateLimitHeaders(s: Snapshot): Record<string, string> {
  const h: Record<string, string> = {};
  for (const kind of ['requests', 'tokens'] as const) {
    const w = s[kind];
    if (!w) continue;
    h[`x-ratelimit-limit-${kind}`] = String(w.limit);
    h[`x-ratelimit-remaining-${kind}`] = String(w.remaining);
    h[`x-ratelimit-reset-${kind}`] = formatReset(w.resetMs);
  }
  if (s.concurrency) {
    h['x-ratelimit-limit-concurrency'] = String(s.concurrency.limit);
    h['x-ratelimit-remaining-concurrency'] = String(Math.max(0, s.concurrency.limit - s.concurrency.inFlight));
  }
  // Spend budgets, in USD: what remains after the worst case of requests still running.
  for (const kind of ['day', 'month'] as const) {
    const w = s[kind];
    if (!w) continue;
    h[`x-ratelimit-limit-budget-${kind}-usd`] = String(w.limit / 1e9);
    h[`x-ratelimit-remaining-budget-${kind}-usd`] = String(Math.max(0, w.remaining) / 1e9);
    h[`x-ratelimit-reset-budget-${kind}`] = formatReset(w.resetMs);
  }
  return h;
}

/**
 * A request that alone exceeds a token limit can never be admitted: OpenAI's "Request too
 * large" 429, at once, with `x-should-retry: false` and no retry-after (waiting cannot help).
 */
export function tooLarge(max: number, requested: number, model: string, subject: string): RouterError {
  return new RouterError(
    429,
    `Request too large for ${model} on ${subject} on tokens per minute (tpm): Limit ${max}, Requested ${requested}. ` +
      'The input or output tokens must be reduced in order to run successfully.',
    { type: 'tokens', code: 'rate_limit_exceeded', headers: { 'x-should-retry': 'false' } },
  );
}

/** Said of a refusal to reserve another attempt, in place of the request's own admission. */
const RETRY_NOTE = 'another attempt, after one that may have been billed,';

export function refusal(decision: Extract<Decision, { ok: false }>, subject: string, requested: number, retry = false): RouterError {
  if (decision.limit === 'day' || decision.limit === 'month') return overBudget(decision, subject, retry);
  const headers = {
    ...rateLimitHeaders(decision.snapshot),
    'retry-after': String(Math.ceil(decision.retryAfterMs / 1000)),
    'retry-after-ms': String(decision.retryAfterMs),
  };
  const asked = decision.limit === 'tokens' ? requested : 1;
  return new RouterError(
    429,
    `Rate limit reached for ${LIMIT_NAMES[decision.limit]} on ${subject}${retry ? ` reserving ${RETRY_NOTE}` : ''}: Limit ${decision.max}, Used ${decision.used}, ` +
      `Requested ${asked}. Please try again in ${formatReset(decision.retryAfterMs)}.`,
    { type: decision.limit === 'tokens' ? 'tokens' : 'requests', code: 'rate_limit_exceeded', headers },
  );
}

/**
 * Over a spend budget: OpenAI's `insufficient_quota` 429 (what it answers when billing
 * runs out), naming the budget and when it resets; not worth retrying before then.
 */
function overBudget(decision: Extract<Decision, { ok: false }>, subject: string, retry = false): RouterError {
  // The period ends on a whole second; the object decided a few ms before this clock reads.
  const resetAt = new Date(Math.round((Date.now() + decision.retryAfterMs) / 1000) * 1000).toISOString();
  const why = decision.tooLarge
    ? `this request's worst-case cost alone exceeds the ${LIMIT_NAMES[decision.limit]} of ${usd(decision.max)}`
    : `${usd(decision.used)} of ${usd(decision.max)} is spent or held by requests in flight${retry ? `, and ${RETRY_NOTE} would pass it` : ''}`;
  return new RouterError(
    429,
    `You exceeded the ${LIMIT_NAMES[decision.limit]} of ${subject}: ${why}. It resets in ${formatReset(decision.retryAfterMs)} (${resetAt}).`,
    {
      type: 'insufficient_quota',
      code: 'insufficient_quota',
      headers: { ...rateLimitHeaders(decision.snapshot), 'retry-after': String(Math.ceil(decision.retryAfterMs / 1000)), 'x-should-retry': 'false' },
    },
  );
}
