/**
 * What `x-ratelimit-remaining-*` tells after any admission, pure: the subject's window as
 * the authority last told this isolate, with the unused part of this isolate's leases that
 * the authority still counts at their whole grant (not yet reported) counted as free. Every
 * lease held was granted at or before that answer, so what this isolate admitted from them
 * since is taken off and what its requests gave back since is added.
 *
 * The bound (README "Leased admission"): it overstates what remains by at most what other
 * isolates took since that answer; it understates by what left the window since, by other
 * isolates' unused lease slices, and by this isolate's own ends not yet reported.
 */
import type { LimitSet, Snapshot } from './window';

/** The unused part of this isolate's unreported leases on one subject (cost in nano-USD). */
export interface Unused {
  requests: number;
  tokens: number;
  slots: number;
  cost: number;
}

/** `known`: the authority's newest snapshot; `ageMs`: since it arrived (reset times count down by it). */
export function windowAsKnown(limits: LimitSet, known: Snapshot, ageMs: number, unused: Unused): Snapshot {
  const window = (limit: number, w: { remaining: number; resetMs: number } | undefined, own: number) => ({
    limit,
    remaining: Math.min(limit, Math.max(0, (w?.remaining ?? 0) + own)),
    resetMs: Math.max(0, (w?.resetMs ?? 0) - ageMs),
  });
  return {
    ...(limits.rpm ? { requests: window(limits.rpm, known.requests, unused.requests) } : {}),
    ...(limits.tpm ? { tokens: window(limits.tpm, known.tokens, unused.tokens) } : {}),
    ...(limits.concurrency ? { concurrency: { limit: limits.concurrency, inFlight: Math.max(0, (known.concurrency?.inFlight ?? 0) - unused.slots) } } : {}),
    ...(limits.dayNano && known.day ? { day: window(limits.dayNano, known.day, unused.cost) } : {}),
    ...(limits.monthNano && known.month ? { month: window(limits.monthNano, known.month, unused.cost) } : {}),
  };
}
