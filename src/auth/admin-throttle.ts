/**
 * Wrong admin tokens are throttled per client address and in all (README "Admin API"):
 * an address that sent `admin.maxFailures` wrong tokens in `admin.failureWindowSeconds` is
 * answered 429 with `Retry-After` — right token or wrong, so a refusal says nothing about
 * the token — until its oldest counted failure leaves the window. While more than
 * `admin.globalFailures` wrong tokens arrived from everywhere in the window (many addresses:
 * a botnet, an IPv6 block), each address may send only `admin.pressuredFailures`.
 *
 * Nothing is ever refused to an address for what other addresses sent: the right token keeps
 * working from any address that has not itself failed, so no attacker can lock the operator
 * out. The cost: an operator behind the attacker's address (a shared NAT) is refused with it,
 * and one who mistypes the token during a distributed attack waits out the window.
 *
 * Hops: the counts live in `AuthThrottle` objects (`throttle-do.ts`). A wrong token costs
 * one call to its address's object (the global count is told in the background); the right
 * token asks its address's object whether it is refusing at most once a minute per isolate
 * and address (`CLEAN_MS`), so the console's polling makes no call; /v1/* never comes here.
 * This isolate remembers the refusals it has heard of, and answers those with no call at all.
 */
import type { AdminConfig } from '../config/schema';
import type { RouterError } from '../errors/router-error';
import { onIsolateReset } from '../isolate';
import type { FailResult } from './throttle-do';
import { attemptsThrottled, type ThrottleState } from './throttle-policy';

/** How long an address the object said was not refusing is let in with the right token without asking again. */
const CLEAN_MS = 60_000;
const MEMO_MAX = 10_000;
/** Subject → until when it is refusing (ms), as this isolate last heard. */
const refusing = new Map<string, number>();
/** Subject → until when the right token from it needs no call. */
const clean = new Map<string, number>();
/** Until when the global count was past `globalFailures`, as this isolate last heard. */
let pressureUntil = 0;

type ThrottleNamespace = DurableObjectNamespace<import('./throttle-do').AuthThrottle>;

function remember(map: Map<string, number>, subject: string, until: number): void {
  if (map.size >= MEMO_MAX && !map.has(subject)) map.clear();
  map.set(subject, until);
}

function limitNow(settings: AdminConfig, now: number): number {
  return pressureUntil > now ? Math.min(settings.pressuredFailures, settings.maxFailures) : settings.maxFailures;
}

/** The 429 an address refused for wrong admin tokens gets. */
export const throttled = (retryAfterMs: number): RouterError => attemptsThrottled(retryAfterMs, 'wrong admin tokens', 'admin_auth_throttled');

/** A refusal this isolate already knows of for `subject` (ms left), or 0 — no call. */
export function knownRefusal(subject: string, now: number): number {
  const until = refusing.get(subject) ?? 0;
  return until > now ? until - now : 0;
}

function heard(subject: string, state: ThrottleState, now: number): void {
  if (state.retryAfterMs > 0) {
    remember(refusing, subject, now + state.retryAfterMs);
    clean.delete(subject);
  }
}

/**
 * The right token from `subject`: throws the 429 if its address is refusing. Asks the
 * address's object only when this isolate has not heard within `CLEAN_MS` that it is not; if
 * the object cannot be reached, the token is let in (an attacker must not be able to lock
 * the operator out by making the throttle fail).
 */
export async function admitRightToken(ns: ThrottleNamespace, subject: string, settings: AdminConfig, now: number): Promise<void> {
  if ((clean.get(subject) ?? 0) > now) return;
  let state: ThrottleState;
  try {
    state = await ns.getByName(`addr:${subject}`).status(limitNow(settings, now), settings.failureWindowSeconds * 1000);
  } catch (err) {
    console.error(JSON.stringify({ event: 'admin_throttle_unavailable', error: String(err) }));
    return;
  }
  heard(subject, state, now);
  if (state.retryAfterMs > 0) throw throttled(state.retryAfterMs);
  remember(clean, subject, now + CLEAN_MS);
}

/**
 * A wrong token from `subject`: counted at its address's object (and, in the background,
 * the global one). The error to answer: the 429 if the address was already refusing (this
 * token was not counted, and its answer must not differ from the right token's), else the
 * caller's 401 — the failure that reaches the limit is still a 401; the next is refused.
 */
export async function countWrongToken(
  ns: ThrottleNamespace,
  subject: string,
  settings: AdminConfig,
  now: number,
  invalid: RouterError,
  defer: (work: Promise<unknown>) => void,
): Promise<RouterError> {
  clean.delete(subject);
  const windowMs = settings.failureWindowSeconds * 1000;
  let state: FailResult;
  try {
    state = await ns.getByName(`addr:${subject}`).fail(limitNow(settings, now), windowMs);
  } catch (err) {
    console.error(JSON.stringify({ event: 'admin_throttle_unavailable', error: String(err) }));
    return invalid;
  }
  heard(subject, state, now);
  if (!state.counted) return throttled(state.retryAfterMs);
  defer(
    ns
      .getByName('global')
      .fail(settings.globalFailures, windowMs)
      .then((global) => {
        if (global.retryAfterMs > 0) pressureUntil = Math.max(pressureUntil, now + global.retryAfterMs);
      }),
  );
  return invalid;
}

onIsolateReset(() => {
  refusing.clear();
  clean.clear();
  pressureUntil = 0;
});
