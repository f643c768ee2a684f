/**
 * Admission on the request path: admit from this isolate's lease on the key, or ask the
 * key's RateLimiter object (`leases.ts`); turn the answer into OpenAI's rate-limit headers
 * or a 429, and hand back how to settle when the request ends. Per-node quotas use the
 * same mechanism, one object per capped node.
 */
import { longestDeadlineMs, type LoadedConfig } from '../config/load';
import type { NodeConfig } from '../config/schema';
import { RouterError } from '../errors/router-error';
import type { KeyLimits } from '../config/schema';
import { isolateLeases, type Authority, type Defer, type Leased, type SettleResult, type Subject } from './leases';
import type { RateLimiter } from './limiter-do';
import { flushTotalsWhenDue } from '../usage/totals-flush';
import { recordUsage } from './usage-batch';
import { LIMIT_NAMES, rateLimitHeaders, refusal, tooLarge } from './refusals';
import type { LimitSet } from './window';

export interface LimiterBindings {
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
}

export interface Admission {
  /** `x-ratelimit-*` headers for every response to this request. */
  headers: Record<string, string>;
  /**
   * Reserve another attempt after an abandoned one — its tokens and worst-case cost, checked
   * by the key's object like an admission. Undefined when reserved; else the error the
   * request ends with (the key's 429, or a 503 when its object could not be asked).
   */
  extend(): Promise<RouterError | undefined>;
  settle(result: SettleResult): Promise<void>;
}

function hasLimits(limits: LimitSet): boolean {
  return Object.values(limits).some((v) => v !== undefined);
}

/** A key's limits as the object counts them: budgets in nano-USD. */
export function keyLimitSet(config: LoadedConfig, own: KeyLimits | undefined): LimitSet {
  const l = { ...config.limits.defaults, ...own };
  const nano = (x: number | undefined) => (x === undefined ? undefined : Math.round(x * 1e9));
  return { rpm: l.rpm, tpm: l.tpm, concurrency: l.concurrency, dayNano: nano(l.dailyUsd), monthNano: nano(l.monthlyUsd) };
}

/** Margin past a request's deadline before its slot is reclaimed (the relay's last read, settling). */
const LEASE_MARGIN_MS = 30_000;

/**
 * How long an entry stays open past its admitting time if its end is never reported (the
 * alarm frees it then): past the longest deadline of any model — a lease admits requests
 * for every model of its key — so no live request loses its slot.
 */
const leaseMsOf = new WeakMap<LoadedConfig, number>();

/** Worked out once per configuration (a walk over every model), not per request. */
function longestLeaseMs(config: LoadedConfig): number {
  let ms = leaseMsOf.get(config);
  if (ms === undefined) {
    ms = Math.max(config.timeouts.totalMs, ...Object.keys(config.models).map((m) => longestDeadlineMs(config, m))) + LEASE_MARGIN_MS;
    leaseMsOf.set(config, ms);
  }
  return ms;
}

/** A subject's object could not be asked: the operator's log says which and why (the caller gets a 503 or a failover). */
function limiterDown(subject: string, err: unknown): null {
  console.warn(JSON.stringify({ event: 'limiter_unavailable', subject, error: String(err) }));
  return null;
}

export interface AdmitRequest {
  /** Canonical model id (names it in refusals; its chain sizes the lease). */
  model: string;
  /** Tokens one upstream attempt may cost: prompt estimate + completion cap × n. */
  tokens: number;
  /** What one upstream attempt may cost at most, USD (spend budgets). */
  worstCostUsd: number;
  /**
   * A class of requests whose worst case is not a true bound on what the upstream bills
   * (`reservation.ts` `serialClass`): a budgeted key runs one of them at a time.
   */
  serial?: string | undefined;
}

/**
 * A subject's object, as the authority its leases come from. The stub is got when a call is
 * made, not per request: most requests admit from a lease and call nothing, and `getByName`
 * (the name hashed to an id, a stub built) was ~2% of a limited key's CPU per request.
 */
function limiter(env: LimiterBindings, name: string): Authority {
  return {
    sync: (request) => env.RATE_LIMITER.getByName(name).sync(request),
    extend: (id, limits, tokens, cost) => env.RATE_LIMITER.getByName(name).extend(id, limits, tokens, cost),
  };
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

/**
 * The tokens a request holds in a window. Where `tpm` bounds the window, its reservation —
 * which refuses a request with no bound (`tokens_unbounded`). Without `tpm` nothing is bounded
 * by them (rpm, concurrency and budgets count otherwise): such a request holds none, and its
 * settlement records what the node billed.
 */
function heldTokens(request: AdmitRequest, tpm: boolean): number {
  if (tpm) return request.tokens;
  try {
    return request.tokens;
  } catch (err) {
    if (err instanceof RouterError && err.code === 'tokens_unbounded') return 0;
    throw err;
  }
}

/** Admit a request for a key, or throw its 429. Keys without limits skip the object. */
export async function admitKey(
  env: LimiterBindings,
  config: LoadedConfig,
  key: { id: string; name: string; limits?: KeyLimits | undefined },
  request: AdmitRequest,
  defer: Defer,
): Promise<Admission> {
  const limits = keyLimitSet(config, key.limits);
  const name = `key '${key.name}'`;
  if (!hasLimits(limits)) {
    return { headers: {}, extend: async () => undefined, settle: (result) => recordUnlimited(env, key.id, result) };
  }
  const tokens = heldTokens(request, limits.tpm !== undefined);
  if (limits.tpm !== undefined && tokens > limits.tpm) throw tooLarge(limits.tpm, tokens, request.model, name);
  const budgeted = limits.dayNano !== undefined || limits.monthNano !== undefined;
  const worst = budgeted ? Math.ceil(request.worstCostUsd * 1e9) : 0;
  const admitted = await isolateLeases.admit(subject(env, config, `key:${key.id}`, limits), tokens, defer, worst).catch((err: unknown) => {
    throw unreachable(`key:${key.id}`, name, err);
  });
  if (!admitted.ok) throw refusal(admitted, name, tokens);
  const serial = worst > 0 && request.serial !== undefined ? await admitSerial(env, config, key, request.serial, defer, admitted) : undefined;
  return {
    headers: rateLimitHeaders(admitted.snapshot),
    extend: async () => {
      const extension = await admitted.extend();
      if (extension.ok) return undefined;
      if (extension.refusal) return refusal(extension.refusal, name, request.tokens, true);
      return new RouterError(503, `The rate limiter of ${name} could not reserve another attempt after one that may have been billed; the request was stopped.`, {
        code: 'limiter_unavailable',
      });
    },
    settle: async (result) => {
      admitted.settle(result);
      serial?.settle(result);
    },
  };
}

/** Overloaded or unreachable: nothing was admitted, so nothing is sent — a retryable 503, not an opaque 500. */
function unreachable(subjectName: string, name: string, err: unknown): RouterError {
  limiterDown(subjectName, err);
  return new RouterError(503, `The rate limiter of ${name} could not be reached; the request was not sent. Please retry.`, {
    code: 'limiter_unavailable',
    headers: { 'retry-after': '1' },
  });
}

const SERIAL_NOTE: Record<string, string> = {
  'audio-length': 'audio uploads, whose length the router cannot bound before they run, one at a time under a spend budget',
};

/**
 * One request of a serial class at a time for a budgeted key: a concurrency of 1 on a subject
 * of its own, leased like any other. The excess of one such request over its hold is spent
 * before the next is admitted, so a burst cannot multiply it. Refused, or its object
 * unreachable: the key's admission is given back unserved, and the caller gets the 429 (503).
 */
async function admitSerial(env: LimiterBindings, config: LoadedConfig, key: { id: string; name: string }, cls: string, defer: Defer, admitted: Extract<Leased, { ok: true }>) {
  const name = `key '${key.name}' (${SERIAL_NOTE[cls] ?? cls})`;
  const slot = await isolateLeases.admit(subject(env, config, `key:${key.id}:${cls}`, { concurrency: 1 }), 0, defer).catch((err: unknown) => {
    admitted.settle({ unserved: true });
    throw unreachable(`key:${key.id}:${cls}`, name, err);
  });
  if (slot.ok) return slot;
  admitted.settle({ unserved: true });
  throw refusal(slot, name, 1);
}

/** Keys without limits: count in the isolate's batch, flush the batch when it is due. */
async function recordUnlimited(env: LimiterBindings, keyId: string, result: SettleResult): Promise<void> {
  recordUsage(keyId, result.usage);
  await flushTotalsWhenDue(env.RATE_LIMITER);
}

export type NodeReservation = { ok: true; settle(result: SettleResult): Promise<void> } | { ok: false; reason: string };

/** Reserve capacity on a node with a provider quota, leased like a key's; nodes without one need nothing. */
export function nodeReserver(env: LimiterBindings, config: LoadedConfig, request: AdmitRequest, defer: Defer) {
  return async function reserveNode(node: NodeConfig): Promise<NodeReservation | undefined> {
    if (!node.limits || !hasLimits(node.limits)) return undefined;
    // A quota object that cannot answer reserves nothing: the node is skipped like one at its
    // quota (nothing goes to it unreserved), and the request fails over rather than ending in a 500.
    let tokens: number;
    try {
      tokens = heldTokens(request, node.limits.tpm !== undefined);
    } catch (err) {
      // No bound for the node's tpm quota (`tokens_unbounded`): the node is skipped, as one whose quota it would pass.
      if (err instanceof RouterError && err.code === 'tokens_unbounded') return { ok: false, reason: 'request tokens have no bound for the node\'s tpm quota' };
      throw err;
    }
    const admitted = await isolateLeases.admit(subject(env, config, `node:${node.id}`, node.limits), tokens, defer).catch((err: unknown) => limiterDown(`node:${node.id}`, err));
    if (!admitted) return { ok: false, reason: 'node quota limiter unavailable' };
    if (!admitted.ok) {
      const why = admitted.tooLarge ? 'request larger than the node\'s tpm quota' : `node quota reached (${LIMIT_NAMES[admitted.limit]})`;
      return { ok: false, reason: why };
    }
    return { ok: true, settle: async (result) => admitted.settle(result) };
  };
}

/** The key's usage as its object counts it, after this isolate's leases on it have reported. */
export async function keyUsage(env: LimiterBindings, keyId: string, defer?: Defer) {
  const name = `key:${keyId}`;
  await isolateLeases.flush({ name, authority: limiter(env, name) }, defer);
  return env.RATE_LIMITER.getByName(name).usage();
}
