/**
 * One walk's bookkeeping, beside the engine that walks (`engine.ts`): what it has learnt,
 * why it stops, how a failed attempt is recorded (samples, breaker, cooling, the log) — at
 * once, or held until the walk ends when the request itself may have caused it (`held.ts`) —
 * and how it ends when its caller leaves (a wait cut short, nginx's 499 for the log).
 */
import type { LoadedConfig } from '../config/load';
import { RouterError } from '../errors/router-error';
import type { TranslationFailure } from '../providers/types';
import type { ForwardInput } from './engine';
import { upstreamMessage, type Tried } from './failure';
import { heldFaults, inconclusive, requestMayCause, type Narrowed, type WalkEnd } from './held';
import type { IsolateState } from './isolate-state';
import type { Observe } from './observe';
import type { Verdict } from './outcome';
import type { PlannedAttempt } from './plan';
import type { SentAttempt } from './upstream';

/** Sleeps `ms`, or until `gone` aborts. */
export function pause(ms: number, gone: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      gone?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    gone?.addEventListener('abort', done, { once: true });
  });
}

/** What a walk whose caller left ends with: nobody reads it; the log and rollups see nginx's 499. */
export const clientLeft = () => new RouterError(499, 'The client closed the request before it was answered.', { code: 'client_closed_request' });

/** What the walk has learnt so far. */
export interface Walk {
  verdicts: Verdict[];
  tried: Tried[];
  abandoned: number;
  /** Abandoned attempts whose successor's tokens are reserved already. */
  extended: number;
  retryAfter?: number;
  /** Why the walk stopped early, for the final message. */
  why: string;
  /** Upstream error text per failed attempt: for the log only. */
  failures: Record<string, unknown>[];
  /** The first request a node's provider could not take (`providers/attempt.ts`). */
  untranslatable?: TranslationFailure;
  /** Node faults the request may have caused, recorded or dropped when the walk ends (`settleHeld`). */
  held: HeldFault[];
  /** Set when the walk could not try every node its plan offered (`held.ts`): its held faults then need corroboration. */
  narrowed?: Narrowed;
}

/** A node fault as it would have been recorded, kept until the walk's end says whose it was. */
interface HeldFault {
  nodeId: string;
  /** The attempt's model (the live view's levels are per model). */
  model: string;
  latencyMs: number;
  error: string;
  at: number;
  reason: string;
}

function recordFault(state: IsolateState, observe: Observe, fault: HeldFault): void {
  observe(fault.nodeId, fault.model, fault.latencyMs, false, fault.error);
  state.breaker.recordFailure(fault.nodeId, fault.at, fault.reason);
}

/** Why no further attempt may start now, or undefined. */
export function stopReason(config: LoadedConfig, state: IsolateState, walk: Walk, deadline: number, totalMs: number, now: number): string | undefined {
  if (walk.verdicts.length >= config.retry.maxAttempts) return '';
  if (now >= deadline) return ` within the ${totalMs} ms deadline`;
  if (walk.verdicts.length > 0 && !state.budget.tryRetry(now)) return ' (retry budget exhausted)';
  return undefined;
}

/** `cut` when attempts the walk stops before would have tried a node other than those its held faults are on. */
export function cutShort(left: readonly PlannedAttempt[], walk: Walk): Narrowed | undefined {
  return left.some((a) => !walk.held.some((h) => h.nodeId === a.node.id)) ? 'cut' : undefined;
}

/** Record an attempt that did not answer well: samples and breaker (or held), cooling, the log. */
export function recordFailure(input: ForwardInput, state: IsolateState, observe: Observe, walk: Walk, attempt: PlannedAttempt, sent: SentAttempt, verdict: Verdict, credential: string | undefined) {
  const reason = verdict.action === 'retry' || verdict.action === 'fail' ? verdict.reason : 'ok';
  walk.tried.push({ node: attempt.node.id, model: attempt.model, outcome: reason });
  const message = upstreamMessage(sent.body, credential);
  walk.failures.push({ node: attempt.node.id, model: attempt.model, outcome: reason, ...(message ? { upstreamMessage: message } : {}) });
  if (verdict.action !== 'retry') return;
  const at = Date.now();
  if (verdict.nodeFault) {
    const fault = { nodeId: attempt.node.id, model: attempt.model, latencyMs: sent.latencyMs, error: message ?? reason, at, reason: verdict.reason };
    if (requestMayCause(sent.outcome, verdict)) walk.held.push(fault);
    else recordFault(state, observe, fault);
  }
  // A rate-limited node is left alone for as long as it asked (or a default pause) — never
  // longer than the breaker's longest cooldown — so later requests go straight elsewhere. At
  // once, even with a held fault: the pause is the node's own request.
  const asked = verdict.retryAfterMs ?? (verdict.rateLimited ? input.config.retry.rateLimitCooldownMs : undefined);
  if (asked !== undefined) {
    const pause = Math.min(asked, input.config.retry.breaker.maxCooldownMs);
    state.breaker.coolDown(attempt.node.id, at, pause);
    walk.retryAfter = Math.min(walk.retryAfter ?? Infinity, pause);
  }
}

/**
 * The walk's held faults, recorded as they would have been (their own times) or dropped, by
 * how it ended (`heldFaults`). Before the answering node's success, so a node tried twice
 * ends with its success last, as when faults were recorded at once.
 */
export function settleHeld(state: IsolateState, observe: Observe, walk: Walk, end: WalkEnd, keyId: string): void {
  const corroborated = end === 'unserved' && inconclusive(walk.held, walk.narrowed) ? state.unserved.note(keyId, walk.held.map((h) => h.nodeId), Date.now()) : undefined;
  for (const fault of heldFaults(walk.held, end, corroborated, walk.narrowed)) recordFault(state, observe, fault);
  walk.held = [];
}

export function logFailures(input: ForwardInput, walk: Walk): void {
  if (walk.failures.length === 0) return;
  console.warn(JSON.stringify({ event: 'upstream_attempts_failed', requestId: input.requestId, model: input.model, attempts: walk.failures }));
}
