/**
 * Admission on the request path: admit from this isolate's lease on the key, or ask the
 * key's RateLimiter object (`leases.ts`); turn the answer into OpenAI's rate-limit headers
 * or a 429, and hand back how to settle when the request ends. Per-node quotas use the
 * same mechanism, one object per capped node.
 */
import { longestDeadlineMs, type LoadedConfig } from '../config/load';
import type { NodeConfig } from '../config/schema';
import { RouterError } from '../errors/router-error';
import { isolateLeases, type Authority, type Defer, type Subject } from './leases';
import type { RateLimiter, SettleRequest } from './limiter-do';
import { recordUsage, takeDueBatch } from './usage-batch';
import { formatReset, type Decision, type LimitSet, type Snapshot } from './window';

export interface LimiterBindings {
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
}

export interface Admission {
  /** `x-ratelimit-*` headers for every response to this request. */
  headers: Record<string, string>;
  /** Reserve another attempt's tokens after an abandoned one; false when the key has no room. */
  extend(): Promise<boolean>;
  settle(result: SettleRequest): Promise<void>;
}

const LIMIT_NAMES = { requests: 'requests per minute (rpm)', tokens: 'tokens per minute (tpm)', concurrency: 'concurrent requests' };

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
  return h;
}

function hasLimits(limits: LimitSet): boolean {
  return limits.rpm !== undefined || limits.tpm !== undefined || limits.concurrency !== undefined;
}

/** Margin past a request's deadline before its slot is reclaimed (the relay's last read, settling). */
const LEASE_MARGIN_MS = 30_000;

/**
 * How long an entry stays open past its admitting time if its end is never reported (the
 * alarm frees it then): past the longest deadline of any model — a lease admits requests
 * for every model of its key — so no live request loses its slot.
 */
function longestLeaseMs(config: LoadedConfig): number {
  return Math.max(config.timeouts.totalMs, ...Object.keys(config.models).map((m) => longestDeadlineMs(config, m))) + LEASE_MARGIN_MS;
}

/**
 * A request that alone exceeds a token limit can never be admitted: OpenAI's "Request too
 * large" 429, at once, with `x-should-retry: false` and no retry-after (waiting cannot help).
 */
function tooLarge(max: number, requested: number, model: string, subject: string): RouterError {
  return new RouterError(
    429,
    `Request too large for ${model} on ${subject} on tokens per minute (tpm): Limit ${max}, Requested ${requested}. ` +
      'The input or output tokens must be reduced in order to run successfully.',
    { type: 'tokens', code: 'rate_limit_exceeded', headers: { 'x-should-retry': 'false' } },
  );
}

function refusal(decision: Extract<Decision, { ok: false }>, subject: string, requested: number): RouterError {
  const headers = {
    ...rateLimitHeaders(decision.snapshot),
    'retry-after': String(Math.ceil(decision.retryAfterMs / 1000)),
    'retry-after-ms': String(decision.retryAfterMs),
  };
  const asked = decision.limit === 'tokens' ? requested : 1;
  return new RouterError(
    429,
    `Rate limit reached for ${LIMIT_NAMES[decision.limit]} on ${subject}: Limit ${decision.max}, Used ${decision.used}, ` +
      `Requested ${asked}. Please try again in ${formatReset(decision.retryAfterMs)}.`,
    { type: decision.limit === 'tokens' ? 'tokens' : 'requests', code: 'rate_limit_exceeded', headers },
  );
}

export interface AdmitRequest {
  /** Canonical model id (names it in refusals; its chain sizes the lease). */
  model: string;
  /** Tokens one upstream attempt may cost: prompt estimate + completion cap × n. */
  tokens: number;
}

/** A subject's object, as the authority its leases come from. */
function limiter(env: LimiterBindings, name: string): Authority {
  const stub = env.RATE_LIMITER.getByName(name);
  return { sync: (request) => stub.sync(request), extend: (id, limits, tokens) => stub.extend(id, limits, tokens) };
}

/** A subject's leasing: entries stay open past admitting for the longest deadline any request of it may have. */
function subject(env: LimiterBindings, config: LoadedConfig, name: string, limits: LimitSet): Subject {
  return {
    name,
    authority: limiter(env, name),
    limits,
    ttlMs: config.limits.leases.ttlMs,
    leaseMs: longestLeaseMs(config),
    leases: config.limits.leases.enabled,
  };
}

/** Admit a request for a key, or throw its 429. Keys without limits skip the object. */
export async function admitKey(
  env: LimiterBindings,
  config: LoadedConfig,
  key: { id: string; name: string; limits?: LimitSet | undefined },
  request: AdmitRequest,
  defer: Defer,
): Promise<Admission> {
  const limits = { ...config.limits.defaults, ...key.limits };
  const name = `key '${key.name}'`;
  if (!hasLimits(limits)) {
    return { headers: {}, extend: async () => true, settle: (result) => recordUnlimited(env, key.id, result) };
  }
  if (limits.tpm !== undefined && request.tokens > limits.tpm) throw tooLarge(limits.tpm, request.tokens, request.model, name);
  const admitted = await isolateLeases.admit(subject(env, config, `key:${key.id}`, limits), request.tokens, defer);
  if (!admitted.ok) throw refusal(admitted, name, request.tokens);
  return {
    headers: rateLimitHeaders(admitted.snapshot),
    extend: () => admitted.extend(),
    settle: async (result) => admitted.settle(result),
  };
}

/** Keys without limits: count in the isolate's batch, flush the batch when it is due. */
async function recordUnlimited(env: LimiterBindings, keyId: string, result: SettleRequest): Promise<void> {
  recordUsage(keyId, result.usage);
  const batch = takeDueBatch(Date.now());
  if (!batch) return;
  await Promise.all([...batch].map(([id, delta]) => env.RATE_LIMITER.getByName(`key:${id}`).addTotals(delta)));
}

export type NodeReservation = { ok: true; settle(result: SettleRequest): Promise<void> } | { ok: false; reason: string };

/** Reserve capacity on a node with a provider quota, leased like a key's; nodes without one need nothing. */
export function nodeReserver(env: LimiterBindings, config: LoadedConfig, request: AdmitRequest, defer: Defer) {
  return async function reserveNode(node: NodeConfig): Promise<NodeReservation | undefined> {
    if (!node.limits || !hasLimits(node.limits)) return undefined;
    const admitted = await isolateLeases.admit(subject(env, config, `node:${node.id}`, node.limits), request.tokens, defer);
    if (!admitted.ok) {
      const why = admitted.tooLarge ? 'request larger than the node\'s tpm quota' : `node quota reached (${LIMIT_NAMES[admitted.limit]})`;
      return { ok: false, reason: why };
    }
    return { ok: true, settle: async (result) => admitted.settle(result) };
  };
}

/** The key's usage as its object counts it, after this isolate's leases on it have reported. */
export async function keyUsage(env: LimiterBindings, keyId: string) {
  const name = `key:${keyId}`;
  await isolateLeases.flush({ name, authority: limiter(env, name) });
  return env.RATE_LIMITER.getByName(name).usage();
}
