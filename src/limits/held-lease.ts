/**
 * One lease as an isolate holds it (pure): what it was granted, what is left, and what its
 * requests cost so far — taking a request from it, another attempt's reservation, giving
 * back at a request's end, and its report to the authority. `lease-client.ts` chooses among
 * the leases it holds on a subject; a request admitted exactly is a lease of one here too.
 */
import { addTotals, noTotals, type LeaseReport, type Totals } from './ledger';
import type { Snapshot } from './window';

export interface HeldLease {
  id: string;
  /** Stops admitting then (local clock); a single request's is its birth. */
  admitUntil: number;
  ttlMs: number;
  granted: number;
  requestsLeft: number;
  /** null: no such limit. May go negative when usage passed its reservations. */
  tokensLeft: number | null;
  grantedTokens: number | null;
  slotsLeft: number | null;
  /** Nano-USD of spend left (budgets); null: granted none (no budget when granted). */
  costLeft: number | null;
  grantedCost: number | null;
  admitted: number;
  lastAdmit: number | null;
  /** Usage of ended requests + reservations of those in flight. */
  tokens: number;
  /** The same in nano-USD (budgets): real cost of ended requests + worst case of those in flight. */
  cost: number;
  inFlight: number;
  totals: Totals;
  /** The report of its end of admitting is sent (or not needed: a single request). */
  closeSent: boolean;
  snapshot: Snapshot;
  syncedAt: number;
}

export interface Ticket {
  lease: HeldLease;
  /** One attempt's reservation. */
  reserved: number;
  /** Reserved so far: one reservation per attempt. */
  charged: number;
  /** Worst-case cost of one attempt, nano-USD. */
  worstCost: number;
  /** Worst cases held so far, one per attempt. */
  chargedCost: number;
}

export interface EndResult {
  usage?: { prompt_tokens: number; completion_tokens: number } | undefined;
  /** Tokens it cost in all (`settledTokens`). */
  cost: number;
  /** Nano-USD it cost in all, by the same rule. */
  costNano?: number | undefined;
}

/** A lease as granted (or a single exact admission: `admitUntil` its birth, nothing granted). */
export function heldLease(
  id: string,
  admitUntil: number,
  ttlMs: number,
  requests: number,
  tokens: number | null,
  slots: number | null,
  cost: number | null,
  snapshot: Snapshot,
  now: number,
): HeldLease {
  return {
    id,
    admitUntil,
    ttlMs,
    granted: requests,
    requestsLeft: requests,
    tokensLeft: tokens,
    grantedTokens: tokens,
    slotsLeft: slots,
    costLeft: cost,
    grantedCost: cost,
    admitted: 0,
    lastAdmit: null,
    tokens: 0,
    cost: 0,
    inFlight: 0,
    totals: noTotals(),
    closeSent: false,
    snapshot,
    syncedAt: now,
  };
}

export function admitting(l: HeldLease, now: number): boolean {
  return l.admitUntil > now && l.requestsLeft > 0;
}

/** Whether it can admit a request of `tokens` and worst case `cost` now; `budgeted`: only a lease granted spend may. */
export function canTake(l: HeldLease, tokens: number, cost: number, budgeted: boolean, now: number): boolean {
  if (!admitting(l, now)) return false;
  if (l.tokensLeft !== null && l.tokensLeft < tokens) return false;
  if (l.slotsLeft !== null && l.slotsLeft < 1) return false;
  return !budgeted || (l.costLeft !== null && l.costLeft >= cost);
}

/** Take a request's share of what is left (`canTake` said it fits). */
export function take(l: HeldLease, tokens: number, cost: number): void {
  l.requestsLeft--;
  if (l.tokensLeft !== null) l.tokensLeft -= tokens;
  if (l.slotsLeft !== null) l.slotsLeft--;
  if (l.costLeft !== null) l.costLeft -= cost;
}

/** Another attempt's reservation and worst case count on the ticket and its lease. */
export function charge(t: Ticket): void {
  t.charged += t.reserved;
  t.lease.tokens += t.reserved;
  t.chargedCost += t.worstCost;
  t.lease.cost += t.worstCost;
}

export function uncharge(t: Ticket): void {
  t.charged -= t.reserved;
  t.lease.tokens -= t.reserved;
  t.chargedCost -= t.worstCost;
  t.lease.cost -= t.worstCost;
}

const count = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;

/**
 * What a request's end may be settled at: usage and cost (USD) only when every figure is a
 * finite number, not negative — whatever a provider's reader let through (a negative count
 * would give the lease back what no request freed; a string or NaN would poison its sums).
 * Otherwise no usage, no known cost: the request stays at its reservation and worst case.
 */
export function soundEnd<U extends { prompt_tokens: unknown; completion_tokens: unknown }>(usage: U | undefined, costUsd: number | null | undefined) {
  return {
    usage: usage && count(usage.prompt_tokens) && count(usage.completion_tokens) ? usage : undefined,
    costUsd: count(costUsd) ? costUsd : undefined,
  };
}

/** The request is over: its slot and unused reservation return to its lease (while it still admits). */
export function endRequest(t: Ticket, result: EndResult): void {
  const l = t.lease;
  l.tokens += result.cost - t.charged;
  l.cost += (result.costNano ?? t.chargedCost) - t.chargedCost;
  l.inFlight--;
  if (!l.closeSent) {
    if (l.tokensLeft !== null) l.tokensLeft += t.charged - result.cost;
    if (l.slotsLeft !== null) l.slotsLeft++;
    if (l.costLeft !== null) l.costLeft += t.chargedCost - (result.costNano ?? t.chargedCost);
  }
  const used = result.usage ? result.usage.prompt_tokens + result.usage.completion_tokens : 0;
  addTotals(l.totals, {
    requests: 1,
    promptTokens: result.usage?.prompt_tokens ?? 0,
    completionTokens: result.usage?.completion_tokens ?? 0,
    estimatedTokens: result.cost - used,
  });
}

/** What it used, for the authority: with its totals once its last request has ended. */
export function reportOf(l: HeldLease, now: number): LeaseReport {
  return {
    id: l.id,
    requests: l.admitted,
    lastAgoMs: l.lastAdmit === null ? null : now - l.lastAdmit,
    tokens: l.tokens,
    cost: l.cost,
    inFlight: l.inFlight,
    ...(l.inFlight === 0 ? { totals: l.totals } : {}),
  };
}
