/**
 * The forwarding engine: walks the attempt plan until one upstream answers well, within
 * `retry.maxAttempts` and the total deadline, without retry storms.
 *
 * - A different node is tried at once (failing over costs no sleep); the same node again
 *   only after backoff with jitter, never shorter than its Retry-After, never past the deadline.
 * - Every retry is paid from the isolate's retry budget; node faults feed the isolate's
 *   circuit breaker, and a 429 with Retry-After cools its node for that long.
 * - Streams commit only after the upstream's status and first chunk arrived.
 */
import { timeoutsFor, type LoadedConfig } from '../config/load';
import { RouterError } from '../errors/router-error';
import type { CallerLocation } from '../routing/geo';
import { backoffDelay } from './backoff';
import { CircuitBreaker } from './breaker';
import { RetryBudget } from './budget';
import { classify, type Verdict } from './outcome';
import { planAttempts, routeHeader, type PlannedAttempt } from './plan';
import type { RouteTable } from '../routing/scores';
import type { NodeConfig } from '../config/schema';
import type { NodeReservation } from '../limits/admission';
import { relaySse, usageOf, type Usage } from './relay';
import { sendAttempt, upstreamHeaders, type SentAttempt } from './upstream';

export interface ForwardInput {
  config: LoadedConfig;
  env: Record<string, unknown>;
  /** `/chat/completions` or `/embeddings`, appended to the node's baseUrl. */
  path: string;
  body: Record<string, unknown>;
  /** The caller's bytes, resent as they are when nothing needs rewriting. */
  raw: Uint8Array;
  stream: boolean;
  model: string;
  caller: CallerLocation;
  /** The caller colo's routing table (null: none published yet — geo prior only). */
  table: RouteTable | null;
  /** Told of every attempt's outcome: the passive latency/failure samples. */
  observe?: (nodeId: string, ttfbMs: number, ok: boolean) => void;
  incomingHeaders: Headers;
  requestId: string;
  /** Reserve capacity on a node with a provider quota (undefined: the node has none). */
  reserveNode?: (node: NodeConfig) => Promise<NodeReservation | undefined>;
  /** Keeps background work (settling failed attempts' reservations) alive. */
  defer: (work: Promise<unknown>) => void;
}

export interface TriedNode {
  node: string;
  model: string;
  outcome: string;
  ms: number;
}

export interface ForwardResult {
  response: Response;
  node: string;
  model: string;
  attempts: number;
  tried: TriedNode[];
  /** `x-router-route`: ranked nodes with expected ms. */
  route: string;
  /** Resolves when the body has been fully delivered (or abandoned), with its usage. */
  usage: Promise<Usage | undefined>;
  /** The answering node's quota reservation, to settle with the usage. */
  nodeReservation?: Extract<NodeReservation, { ok: true }>;
}

interface IsolateState {
  config: LoadedConfig;
  breaker: CircuitBreaker;
  budget: RetryBudget;
}
let isolate: IsolateState | undefined;

/** Breaker and budget live for the isolate; a new config starts them afresh. */
function isolateState(config: LoadedConfig): IsolateState {
  if (!isolate || isolate.config !== config) {
    isolate = { config, breaker: new CircuitBreaker(config.retry.breaker), budget: new RetryBudget(config.retry.budget) };
  }
  return isolate;
}

/** Test hook: forget breaker and budget state. */
export function resetIsolateState(): void {
  isolate = undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The body for one upstream model name: the caller's own bytes unless something must change. */
function bodyBuilder(input: ForwardInput, askUsage: boolean): (attempt: PlannedAttempt) => BodyInit {
  const cache = new Map<string, BodyInit>();
  return (attempt) => {
    let built = cache.get(attempt.upstreamModel);
    if (built === undefined) {
      const unchanged = attempt.upstreamModel === input.body.model && !askUsage;
      built = unchanged
        ? input.raw
        : JSON.stringify({
            ...input.body,
            model: attempt.upstreamModel,
            ...(input.stream ? { stream_options: { ...(input.body.stream_options as object), include_usage: true } } : {}),
          });
      cache.set(attempt.upstreamModel, built);
    }
    return built;
  };
}

function describe(sent: SentAttempt, verdict: Verdict, credential: string | undefined): string {
  if (verdict.action !== 'retry') return 'ok';
  let detail = verdict.reason;
  const status = sent.outcome.kind === 'response' ? sent.outcome.status : 0;
  if (sent.text && status !== 401 && status !== 403) {
    try {
      const message = (JSON.parse(sent.text) as { error?: { message?: unknown } }).error?.message;
      if (typeof message === 'string') detail += `: ${redact(message, credential).slice(0, 160)}`;
    } catch {
      // not JSON: the status says enough
    }
  }
  return detail;
}

/** Upstream messages may quote credentials; none leaves the router. */
function redact(text: string, credential: string | undefined): string {
  let out = text.replace(/\bsk-[A-Za-z0-9_-]{4,}/g, 'sk-***');
  if (credential) out = out.split(credential).join('***');
  return out;
}

function finalFailure(
  input: ForwardInput,
  tried: TriedNode[],
  verdicts: Verdict[],
  retryAfter: number | undefined,
  why: string,
  route: string,
): never {
  const attempts = verdicts.length;
  const list = tried.map((t) => `${t.node} (${t.model}): ${t.outcome}`).join('; ');
  const headers: Record<string, string> = { 'x-should-retry': 'false', 'x-router-attempts': String(attempts), 'x-router-route': route };
  if (retryAfter !== undefined) {
    headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfter / 1000)));
    headers['retry-after-ms'] = String(Math.ceil(retryAfter));
  }
  const retries = verdicts.filter((v): v is Extract<Verdict, { action: 'retry' }> => v.action === 'retry');
  const message = `No upstream could serve model '${input.model}'${why}. ${attempts} attempt(s)${list ? `: ${list}` : ''}.`;
  if (attempts === 0) throw new RouterError(503, message, { code: 'no_available_upstream', headers });
  if (retries.every((v) => v.timeout)) throw new RouterError(504, message, { code: 'upstream_timeout', headers });
  if (retries.every((v) => v.rateLimited)) {
    throw new RouterError(429, message, { type: 'requests', code: 'upstream_rate_limited', headers });
  }
  throw new RouterError(502, message, { code: 'upstream_error', headers });
}

function responseHeaders(upstream: Response | undefined): Headers {
  const headers = new Headers();
  const type = upstream?.headers.get('content-type');
  if (type) headers.set('content-type', type);
  if (upstream?.headers.get('cache-control')) headers.set('cache-control', upstream.headers.get('cache-control')!);
  return headers;
}

export async function forward(input: ForwardInput): Promise<ForwardResult> {
  const { config } = input;
  const state = isolateState(config);
  const started = Date.now();
  const baseTimeouts = timeoutsFor(config, input.model);
  const deadline = started + baseTimeouts.totalMs;
  const plan = planAttempts(config, input.model, input.caller, input.table, (id) => state.breaker.blockedFor(id, Date.now()));
  const route = routeHeader(plan, input.model);
  // Streams always ask the upstream for usage (token settlement); the caller sees it only if asked.
  const callerWantsUsage = (input.body.stream_options as { include_usage?: unknown } | null | undefined)?.include_usage === true;
  const bodyFor = bodyBuilder(input, input.stream && !callerWantsUsage);
  const tried: TriedNode[] = plan.skipped.map((s) => ({ node: s.nodeId, model: s.model, outcome: s.reason, ms: 0 }));
  const verdicts: Verdict[] = [];
  let retryAfter: number | undefined;
  let why = '';

  for (const attempt of plan.attempts) {
    if (verdicts.length >= config.retry.maxAttempts) break;
    const now = Date.now();
    if (now >= deadline) {
      why = ` within the ${baseTimeouts.totalMs} ms deadline`;
      break;
    }
    const secretName = attempt.node.apiKeyEnv;
    const secret = secretName ? input.env[secretName] : undefined;
    const credential = typeof secret === 'string' ? secret : undefined;
    if (secretName && credential === undefined) {
      tried.push({ node: attempt.node.id, model: attempt.model, outcome: `secret ${secretName} is not set`, ms: 0 });
      continue;
    }
    if (verdicts.length > 0 && !state.budget.tryRetry(now)) {
      why = ' (retry budget exhausted)';
      break;
    }
    if (attempt.repeat) {
      const delay = backoffDelay(verdicts.length - 1, config.retry, state.breaker.blockedFor(attempt.node.id, now));
      if (now + delay >= deadline) break;
      await sleep(delay);
    }
    // Reserved last, right before sending, so no exit path can strand the reservation.
    // A node at its provider quota is skipped like an ejected one: not an attempt, not an error.
    const reservation = await input.reserveNode?.(attempt.node);
    if (reservation && !reservation.ok) {
      tried.push({ node: attempt.node.id, model: attempt.model, outcome: reservation.reason, ms: 0 });
      continue;
    }
    if (verdicts.length === 0) state.budget.recordFirstAttempt(now);
    const timeouts = timeoutsFor(config, attempt.model);
    const attemptTimeout = Math.max(1, Math.min(timeouts.firstByteMs, deadline - Date.now()));
    const sent = await sendAttempt(
      attempt.node,
      input.path,
      { headers: upstreamHeaders(input.incomingHeaders, credential, input.requestId), body: bodyFor(attempt) },
      input.stream,
      attemptTimeout,
    );
    const verdict = classify(sent.outcome);
    verdicts.push(verdict);
    // Samples: answers and node faults. A 429 or a caller error says nothing about latency.
    if (verdict.action === 'accept') input.observe?.(attempt.node.id, sent.elapsedMs, true);
    else if (verdict.action === 'retry' && verdict.nodeFault) input.observe?.(attempt.node.id, sent.elapsedMs, false);
    tried.push({ node: attempt.node.id, model: attempt.model, outcome: describe(sent, verdict, credential), ms: sent.elapsedMs });

    if (verdict.action === 'retry') {
      if (reservation) input.defer(reservation.settle({ unserved: true }));
      const at = Date.now();
      if (verdict.nodeFault) state.breaker.recordFailure(attempt.node.id, at, verdict.reason);
      // A rate-limited node is left alone for as long as it asked (or a default pause), so
      // the next requests go straight to other nodes instead of spending the retry budget.
      const pause = verdict.retryAfterMs ?? (verdict.rateLimited ? config.retry.rateLimitCooldownMs : undefined);
      if (pause !== undefined) {
        state.breaker.coolDown(attempt.node.id, at, pause);
        retryAfter = Math.min(retryAfter ?? Infinity, pause);
      }
      continue;
    }

    state.breaker.recordSuccess(attempt.node.id);
    const result = {
      node: attempt.node.id,
      model: attempt.model,
      attempts: verdicts.length,
      tried,
      route,
      ...(reservation ? { nodeReservation: reservation } : {}),
    };
    const headers = responseHeaders(sent.response);
    if (sent.stream) {
      const relay = relaySse(sent.stream.reader, sent.stream.first, {
        idleMs: timeouts.idleMs,
        deadline,
        stripUsage: !callerWantsUsage,
      });
      return {
        ...result,
        response: new Response(relay.body, { status: sent.response!.status, headers }),
        usage: relay.summary.then((s) => s.usage),
      };
    }
    let usage: Usage | undefined;
    try {
      usage = usageOf(JSON.parse(sent.text ?? ''));
    } catch {
      usage = undefined;
    }
    return {
      ...result,
      response: new Response(sent.text ?? null, { status: sent.response!.status, headers }),
      usage: Promise.resolve(usage),
    };
  }
  finalFailure(input, tried, verdicts, retryAfter, why, route);
}
