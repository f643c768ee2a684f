/**
 * The forwarding engine: walks the attempt plan until one upstream answers well, within
 * `retry.maxAttempts` and the total deadline, without retry storms.
 *
 * - A different node is tried at once (failing over costs no sleep); the same node again
 *   only after backoff with jitter, never shorter than its Retry-After, never past the deadline.
 * - Every retry is paid from the isolate's retry budget; node faults feed the isolate's
 *   circuit breaker, and a 429 cools its node (Retry-After, capped by `breaker.maxCooldownMs`).
 *   Faults the request itself may have caused (a 5xx, a timeout) wait for the walk's end: a
 *   request that fails on every node it tries does not count against them (`held.ts`).
 * - Each attempt is bounded by what can be observed of it (`upstream.ts`): a stream's first
 *   chunk within `firstByteMs`, a JSON answer whole within `responseMs`. A generation that
 *   finishes in time is awaited, never re-sent.
 * - An attempt abandoned after it was sent (timed out, or lost after a 2xx's headers) may still be billed: the next attempt
 *   first reserves its tokens again (`extend`), and the request settles with each abandoned
 *   attempt charged at its reservation — TPM stays exact when an upstream hangs.
 * - What callers see of failures names nodes, models and outcomes; upstream error text (it
 *   may name organisations and deployments) goes only to the structured log and the
 *   passive samples behind the admin views.
 */
import { timeoutsFor, type LoadedConfig } from '../config/load';
import type { NodeConfig } from '../config/schema';
import { RouterError } from '../errors/router-error';
import type { NodeReservation } from '../limits/admission';
import { ENDPOINTS } from '../openai/endpoints';
import type { ParsedRequest } from '../openai/requests';
import type { CallerLocation } from '../routing/geo';
import type { RouteTable } from '../routing/scores';
import { bodyBuilder, callerCap, defaultCap } from './attempt-body';
import { backoffDelay } from './backoff';
import { finalFailure } from './failure';
import { prepareAttempt } from '../providers/attempt';
import { classifyFor } from '../providers/verdict';
import { deliver } from './deliver';
import type { ResponseOwner } from '../openai/response-ids';
import { isolateState, liveScope } from './isolate-state';
import { answerWork, observer, timingSays } from './observe';
import { planAttempts, routeHeader } from './plan';
import { credentialFor, sendAttempt } from './upstream';
import type { Usage } from './usage';
import type { WalkEnd } from './held';
import { clientLeft, cutShort, logFailures, pause, recordFailure, settleHeld, stopReason, type Walk } from './walk';
import { schemaHash, schemaOf, schemaSeen } from '../routing/schema-sightings';

export interface ForwardInput {
  config: LoadedConfig;
  env: Record<string, unknown>;
  request: ParsedRequest;
  /** The caller's key id: stored responses are bound to it (`response-ids.ts`). */
  keyId: string;
  /**
   * A stateful follow-up: only this node holds the state, so only it is tried, and its
   * failure is a 503 rather than a reroute to a node that cannot know the state.
   */
  pinned?: {
    nodeId: string;
    what: string;
    previousResponseId?: string;
    /** Responses' `conversation` as the node knows it. */
    conversation?: unknown;
    /** Most tokens of stored context the node reads before it answers (Infinity: unknown, a conversation's items); its timings weigh by it (`timingSays`). */
    storedTokens: number;
  };
  /** Responses: how the response ids the node hands out are signed (`response-ids.ts`); absent: not tagged. */
  responseIds?: Omit<ResponseOwner, 'nodeId'>;
  /** Canonical model id asked for. */
  model: string;
  /** Whether the caller's key may use a model (fallbacks included). */
  allowed: (model: string) => boolean;
  caller: CallerLocation;
  /** The caller colo's routing table (null: none published yet — geo prior only). */
  table: RouteTable | null;
  /** Told of every attempt's outcome: the passive latency/failure samples. */
  observe?: (nodeId: string, latencyMs: number, ok: boolean, error?: string) => void;
  incomingHeaders: Headers;
  /** The caller's request id (logs). */
  requestId: string;
  /** The id nodes are sent (`http/request-id.ts`): never one the caller chose alone. */
  upstreamRequestId: string;
  /** Headers every answer carries (rate limits, the request id); `x-router-*` are added here. */
  answerHeaders: Record<string, string>;
  /** Reserve capacity on a node with a provider quota (undefined: the node has none). */
  reserveNode?: (node: NodeConfig) => Promise<NodeReservation | undefined>;
  /** Reserve another attempt for the key after an abandoned one (tokens, budget); an error: the request ends with it. */
  extend: () => Promise<RouterError | undefined>;
  /** Keeps background work (settling failed attempts' reservations) alive. */
  defer: (work: Promise<unknown>) => void;
  /**
   * Aborts when the caller disconnects (`request.signal`): the walk stops — no attempt after
   * it, a wait cut short, the attempt in flight let go and charged at its reservation — and
   * the request settles at once, not when a walk nobody reads would end (Workers keep it only
   * 30 s after the client leaves, then the slot would wait for the object's alarm).
   */
  gone?: AbortSignal;
}

interface Answered {
  node: string;
  model: string;
  attempts: number;
  /** `x-router-route`: ranked nodes with expected ms. */
  route: string;
  /** Attempts abandoned after they were sent (each charged at its reservation). */
  abandoned: number;
}

export interface ForwardSuccess extends Answered {
  ok: true;
  response: Response;
  /** Resolves when the body has been fully delivered (or abandoned), with its usage. */
  usage: Promise<Usage | undefined>;
  /** The answering node's quota reservation, to settle with the usage. */
  nodeReservation?: Extract<NodeReservation, { ok: true }>;
}

export interface ForwardFailure {
  ok: false;
  error: RouterError;
  abandoned: number;
}


export async function forward(input: ForwardInput): Promise<ForwardSuccess | ForwardFailure> {
  const { config, request } = input;
  const state = isolateState(config);
  const base = timeoutsFor(config, input.model);
  const deadline = Date.now() + base.totalMs;
  const spec = ENDPOINTS[request.endpoint];
  const says = timingSays(request, input.pinned?.storedTokens);
  // Only for a request that would be timed (a body past 64 KiB or caller-timed is not): hashing its schemas costs its size.
  // Read first, hashed only when there is one: no promise hop for the requests (most) that have none.
  const schema = request.kind === 'json' && !says.long && !says.callerTimed ? schemaOf(request.body) : undefined;
  if (schema !== undefined) says.schema = await schemaHash(schema);
  const observe = observer(input, state, says);
  const signal = says.firstByte || (says.generation && !says.long && !says.callerTimed);
  // The live view's levels are per model (`liveScope`): each model of the chain is ranked, and its attempts read, by its own.
  const planned = Date.now();
  const live = config.routing.live.enabled ? (m: string) => state.live.lens(liveScope(input.caller.colo, spec.group, m), planned, { explore: !input.pinned && signal, answer: says.generation }) : undefined;
  // Attempts out are evidence before they end (`routing/live-pending.ts`): first bytes, and JSON answers bounded by their cap.
  const callerSetCap = says.generation ? callerCap(request) : undefined;
  const plan = planAttempts(config, input.model, input.caller, input.table, (id) => state.breaker.blockedFor(id, Date.now()), {
    allowed: input.allowed,
    ...(live ? { live } : {}),
    group: spec.group,
    ...(input.pinned ? { pinned: input.pinned.nodeId } : {}),
  });
  const route = routeHeader(plan, input.model);
  // Chat-format streams always ask the upstream for usage (token settlement); the caller sees it only if asked.
  const callerWantsUsage = (request.body.stream_options as { include_usage?: unknown } | null | undefined)?.include_usage === true;
  const askUsage = request.stream && spec.stream === 'chat' && spec.charge === 'tokens' && request.kind === 'json' && !callerWantsUsage;
  const bodyFor = bodyBuilder(config, request, { askUsage, previousResponseId: input.pinned?.previousResponseId, conversation: input.pinned?.conversation });
  const walk: Walk = { verdicts: [], tried: plan.skipped.map((s) => ({ node: s.nodeId, model: s.model, outcome: s.reason })), abandoned: 0, extended: 0, why: '', failures: [], held: [], ...(input.pinned ? { narrowed: 'pinned' as const } : {}) };
  const fail = (error: RouterError, end: WalkEnd = 'unserved'): ForwardFailure => {
    settleHeld(state, observe, walk, end, input.keyId);
    logFailures(input, walk);
    return { ok: false, error, abandoned: walk.abandoned };
  };

  for (const [index, attempt] of plan.attempts.entries()) {
    if (input.gone?.aborted) return fail(clientLeft(), 'callers');
    const now = Date.now();
    const stop = stopReason(config, state, walk, deadline, base.totalMs, now);
    if (stop !== undefined) {
      walk.why = stop;
      walk.narrowed ??= cutShort(plan.attempts.slice(index), walk);
      break;
    }
    const { credential, missing } = credentialFor(attempt.node, input.env);
    if (missing) {
      walk.tried.push({ node: attempt.node.id, model: attempt.model, outcome: `secret ${missing} is not set` });
      continue;
    }
    // The node's provider: its URL, auth and body (translated when formats differ). A request
    // it cannot take (e.g. thinking blocks for an OpenAI-format node) skips it with the reason.
    // Each attempt its own id (the first the request's): an abandoned attempt may still run under its
    // id on the node (a proxy in front that does not pass the hang-up on), and vLLM refuses an id still running.
    const requestId = index === 0 ? input.upstreamRequestId : `${input.upstreamRequestId}.${index + 1}`;
    const prepared = await prepareAttempt({ config, request, bodyFor, incomingHeaders: input.incomingHeaders, requestId, credential }, attempt);
    if (!prepared.ok) {
      walk.tried.push({ node: attempt.node.id, model: attempt.model, outcome: `skipped: ${prepared.error.message}${prepared.error.param ? ` (${prepared.error.param})` : ''}` });
      // A credential the node could not get (Vertex token mint) is the node's fault, not the request's.
      if (prepared.error.reason !== 'node_credential') walk.untranslatable ??= prepared.error;
      continue;
    }
    if (attempt.repeat) {
      // Never sooner than the node's own pause (Retry-After cooling is recorded at once); its
      // held fault from the attempt before is not in the breaker yet, so it does not stretch the wait.
      const delay = backoffDelay(walk.verdicts.length - 1, config.retry, state.breaker.blockedFor(attempt.node.id, now));
      if (now + delay >= deadline) {
        walk.narrowed ??= cutShort(plan.attempts.slice(index), walk);
        break;
      }
      await pause(delay, input.gone);
      if (input.gone?.aborted) return fail(clientLeft(), 'callers');
    }
    // Reserved last, right before sending, so no exit path can strand the reservation.
    // A node at its provider quota is skipped like an ejected one: not an attempt, not an error.
    const reservation = await input.reserveNode?.(attempt.node);
    if (reservation && !reservation.ok) {
      walk.tried.push({ node: attempt.node.id, model: attempt.model, outcome: reservation.reason });
      continue;
    }
    if (walk.abandoned > walk.extended) {
      const refused = await input.extend();
      if (refused) {
        if (reservation) input.defer(reservation.settle({ unserved: true }));
        return fail(refused, 'callers');
      }
      walk.extended = walk.abandoned;
    }
    // Left while this attempt was being reserved: nothing was sent, nothing is charged for it.
    if (input.gone?.aborted) {
      if (reservation) input.defer(reservation.settle({ unserved: true }));
      return fail(clientLeft(), 'callers');
    }
    if (walk.verdicts.length === 0) state.budget.recordFirstAttempt(now);

    const timeouts = timeoutsFor(config, attempt.model);
    const limit = request.stream ? timeouts.firstByteMs : timeouts.responseMs;
    const cap = says.generation ? (callerSetCap ?? defaultCap(config, request, attempt.model)) : undefined;
    const firstSchema = says.schema !== undefined && !schemaSeen(attempt.node.id, attempt.model, says.schema);
    const out = live && signal && (!says.generation || cap !== undefined) && !firstSchema ? state.live.begin(liveScope(input.caller.colo, spec.group, attempt.model), attempt.node.id, Date.now(), request.raw.byteLength, cap === undefined ? undefined : { model: attempt.model, cap }) : undefined;
    let sent: Awaited<ReturnType<typeof sendAttempt>>;
    try {
      sent = await sendAttempt(
        attempt.node,
        spec.path,
        { url: prepared.value.url, headers: prepared.value.headers, body: prepared.value.body },
        request.stream,
        { timeoutMs: Math.max(1, Math.min(limit, deadline - Date.now())), maxBytes: config.limits.maxResponseBytes, ...(input.gone ? { gone: input.gone } : {}) },
      );
    } finally {
      out?.();
    }
    if (input.gone?.aborted && sent.outcome.kind !== 'response') {
      // Let go because the caller left (not the node's fault: no breaker, no sample): it was
      // sent, so it may be billed, and is charged at its reservation.
      walk.abandoned++;
      if (reservation) input.defer(reservation.settle({ abandoned: 1, unserved: true }));
      return fail(clientLeft(), 'callers');
    }
    const verdict = classifyFor(prepared.value.adapter, sent);
    walk.verdicts.push(verdict);
    const paidFor = verdict.action === 'fail' || (verdict.action === 'retry' && (verdict.timeout === true || verdict.billed === true));
    if (paidFor) walk.abandoned++;

    if (verdict.action === 'retry' || verdict.action === 'fail') {
      // A stream refused on its first event (`providers/verdict.ts`): its connection is let go.
      if (sent.stream) void sent.stream.reader.cancel().catch(() => {});
      // A node's reservation stands for an attempt it may have billed; otherwise it is freed.
      if (reservation) input.defer(reservation.settle(paidFor ? { abandoned: 1, unserved: true } : { unserved: true }));
      recordFailure(input, state, observe, walk, attempt, sent, verdict, credential);
      if (verdict.action === 'fail') {
        return fail(new RouterError(502, `Node ${attempt.node.id} (${attempt.model}) sent an ${verdict.reason}; it was not retried.`, {
          code: 'upstream_response_too_large',
          headers: { 'x-should-retry': 'false', 'x-router-attempts': String(walk.verdicts.length), 'x-router-route': route },
        }));
      }
      continue;
    }

    // Accepted, or a caller error (4xx) returned as it is.
    const own = { ...input.answerHeaders, 'x-router-node': attempt.node.id, 'x-router-model': attempt.model, 'x-router-attempts': String(walk.verdicts.length), 'x-router-route': route };
    const relay = { deadline, idleMs: timeouts.idleMs, stripUsage: askUsage, maxEventBytes: config.limits.maxEventBytes };
    const delivered = deliver(request, input.responseIds && { ...input.responseIds, nodeId: attempt.node.id }, sent, relay, own, prepared.value.shape);
    settleHeld(state, observe, walk, verdict.action === 'accept' ? 'served' : 'callers', input.keyId);
    if (verdict.action === 'accept') {
      // A JSON generation is a sample only with its completion tokens (read with the answer, before it is returned).
      if (!says.generation) observe(attempt.node.id, attempt.model, sent.latencyMs, true);
      else {
        void delivered.usage.then((u) => {
          const tokens = answerWork(says, u);
          if (tokens !== undefined) observe(attempt.node.id, attempt.model, sent.latencyMs, true, undefined, { model: attempt.model, tokens });
        }, () => {});
      }
      state.breaker.recordSuccess(attempt.node.id);
    }
    logFailures(input, walk);
    const answered: Answered = { node: attempt.node.id, model: attempt.model, attempts: walk.verdicts.length, route, abandoned: walk.abandoned };
    return { ok: true, ...answered, ...delivered, ...(reservation ? { nodeReservation: reservation } : {}) };
  }
  // Nothing was sent and some node could not take the request as written: that is the caller's to fix.
  if (walk.verdicts.length === 0 && walk.untranslatable) {
    const { message, param, reason } = walk.untranslatable;
    return fail(new RouterError(400, message, { code: reason, param, headers: { 'x-should-retry': 'false', 'x-router-route': route } }));
  }
  const failure = finalFailure(input.model, walk, route);
  if (!input.pinned) return fail(failure);
  return fail(
    new RouterError(503, `${input.pinned.what} is held by node ${input.pinned.nodeId}, which could not serve it; it cannot be served by another node. ${failure.message}`, {
      code: 'stateful_node_unavailable',
      headers: failure.headers,
    }),
  );
}
