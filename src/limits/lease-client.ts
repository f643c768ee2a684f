/**
 * An isolate's side of admission, pure: the leases it holds on one subject (a key or a
 * capped node), admission from them with no await, and the reports that give back what
 * they did not use. `admission.ts` does the I/O; `ledger.ts` is the other side.
 *
 * - **Admit**: from the oldest lease still admitting that has a request, the request's
 *   tokens and a slot left. A lease admits until `ttlMs` after its sync was *sent*, by
 *   this isolate's clock: never after the authority stopped counting it as admitting,
 *   whatever the clocks of the two say.
 * - **Refill** before running dry: when the newest lease has used half of its requests,
 *   tokens or spend, or has less than 40% of its time left. Leases are sized by this
 *   isolate's own recent demand (`lease-demand.ts`).
 * - **Report**: once when a lease stops admitting (what it used, so the rest returns at
 *   once), and once more when its last request ends, with its totals. A request admitted
 *   exactly (no lease) is a lease of one that stopped admitting at birth.
 */
import { BudgetHold } from './budget-hold';
import { admitting, canTake, charge, heldLease, reportOf, take, type HeldLease, type Ticket } from './held-lease';
import { LeaseDemand } from './lease-demand';
import type { LeaseReport, LeaseWant, SyncResult } from './ledger';
import { windowAsKnown } from './lease-headers';
import type { LimitSet, Snapshot } from './window';

export class LeaseClient {
  private leases: HeldLease[] = [];
  private pendingRetry: LeaseReport[] = [];
  /** The sync that carries reports, one at a time, so reports and extensions arrive in the order taken. */
  syncing: Promise<unknown> | null = null;
  /** A call that asks for a lease, one at a time: requests without capacity wait for it rather than start their own. */
  leasing: Promise<unknown> | null = null;
  /** A budget refusal remembered for a moment: requests that cannot fit are refused without asking. */
  readonly budgetHold = new BudgetHold();
  private demand: LeaseDemand;
  /** The newest state of the subject's window this isolate has seen: at `at` by the authority's clock, received at `receivedAt` by this one's. */
  private known: { snapshot: Snapshot; at: number; receivedAt: number } | null = null;

  readonly ttlMs: number;
  /** The limits its leases were granted under. */
  readonly limits: LimitSet;

  constructor(ttlMs: number, limits: LimitSet = {}) {
    this.ttlMs = ttlMs;
    this.limits = limits;
    this.demand = new LeaseDemand(ttlMs);
  }

  /** Whether it serves a subject of this lease lifetime and these limits (a config change makes a new client). */
  serves(ttlMs: number, limits: LimitSet): boolean {
    const l = this.limits;
    return this.ttlMs === ttlMs && l.rpm === limits.rpm && l.tpm === limits.tpm && l.concurrency === limits.concurrency && l.dayNano === limits.dayNano && l.monthNano === limits.monthNano;
  }

  /**
   * Take one request of `tokens` and worst-case `cost` from a lease, or null: no lease can
   * give it now. No await. `budgeted`: the subject has a budget, so only a lease granted
   * spend may admit.
   */
  admit(tokens: number, now: number, cost = 0, budgeted = false): Ticket | null {
    const l = this.leases.find((x) => canTake(x, tokens, cost, budgeted, now));
    if (!l) return null;
    take(l, tokens, cost);
    return this.started(l, tokens, now, cost);
  }

  private started(l: HeldLease, tokens: number, now: number, worstCost = 0): Ticket {
    l.admitted++;
    l.lastAdmit = now;
    l.tokens += tokens;
    l.cost += worstCost;
    l.inFlight++;
    this.demand.started(tokens, worstCost, this.inFlight());
    return { lease: l, reserved: tokens, charged: tokens, worstCost, chargedCost: worstCost };
  }

  private inFlight(): number {
    return this.leases.reduce((n, l) => n + l.inFlight, 0);
  }

  /**
   * Another attempt's reservation with no round trip: when nothing limits it (`checked`
   * false: no `tpm`, no budget), or from the ticket's own lease while it still admits and
   * holds the tokens and the worst-case cost. A request admitted exactly has no grant to
   * draw on: false — ask the authority (`charge` first, `uncharge` if refused, so that no
   * report taken meanwhile counts less than the entry may hold).
   */
  extendLocal(t: Ticket, now: number, checked: { tokens: boolean; cost: boolean }): boolean {
    const l = t.lease;
    if ((checked.tokens || checked.cost) && !admitting(l, now)) return false;
    if (checked.tokens && (l.tokensLeft === null || l.tokensLeft < t.reserved)) return false;
    if (checked.cost && (l.costLeft === null || l.costLeft < t.worstCost)) return false;
    if (checked.tokens) l.tokensLeft! -= t.reserved;
    if (checked.cost) l.costLeft! -= t.worstCost;
    charge(t);
    return true;
  }

  /** Count a request asked for, admitted or not: leases are sized by demand. */
  asked(now: number): void {
    this.demand.asked(now);
  }

  /** What to ask for (`LeaseDemand.want`): nothing while demand is below `MIN_GRANT`. */
  want(now: number, tokens: number, cost = 0): LeaseWant | undefined {
    return this.demand.want(now, tokens, cost, this.inFlight());
  }

  /** Time to ask for the next lease: the newest half used, or 60% through its time. */
  needsRefill(now: number): boolean {
    if (this.leasing) return false;
    const newest = this.leases.filter((l) => admitting(l, now)).at(-1);
    if (!newest) return false; // the next request asks, with itself at hand
    const lowOn = (left: number | null, granted: number | null) => left !== null && granted !== null && left < granted / 2;
    return (
      lowOn(newest.requestsLeft, newest.granted) ||
      lowOn(newest.tokensLeft, newest.grantedTokens) ||
      lowOn(newest.costLeft, newest.grantedCost) ||
      newest.admitUntil - now < newest.ttlMs * 0.4
    );
  }

  /**
   * Reports due now, taken (the caller sends them, or hands them back with `retry`): each
   * lease that stopped admitting, once; then once more when its last request has ended.
   */
  takeReports(now: number, closeAll = false): LeaseReport[] {
    // A report whose call failed goes again as its lease is now, when it is still held: the
    // authority takes a report's tokens and cost as they are, and another attempt's reservation
    // may have reached it since (`Leases.extend`) — sent as first taken, it would undo that.
    // A lease no longer held has ended: its report is final as it was.
    const resend = new Set<string>();
    const out: LeaseReport[] = [];
    for (const r of this.pendingRetry) {
      if (this.leases.some((l) => l.id === r.id)) resend.add(r.id);
      else out.push(r);
    }
    this.pendingRetry = [];
    for (const l of this.leases) {
      if (closeAll && l.admitUntil > now) l.admitUntil = now;
      const closed = l.admitUntil <= now || (l.requestsLeft === 0 && l.inFlight === 0);
      if (!closed) continue;
      if (l.closeSent && l.inFlight > 0 && !resend.has(l.id)) continue;
      out.push(reportOf(l, now));
      l.admitUntil = Math.min(l.admitUntil, now);
      l.closeSent = true;
    }
    this.leases = this.leases.filter((l) => !(l.closeSent && l.inFlight === 0));
    return out;
  }

  /** Holds nothing and owes nothing: may be forgotten. */
  idle(): boolean {
    return this.leases.length === 0 && this.pendingRetry.length === 0 && this.syncing === null && this.leasing === null;
  }

  /** A report is due: a lease stopped admitting, or the last request of one that did has ended. */
  hasReports(now: number): boolean {
    return this.pendingRetry.length > 0 || this.leases.some((l) => (l.closeSent ? l.inFlight === 0 : l.admitUntil <= now || (l.requestsLeft === 0 && l.inFlight === 0)));
  }

  /** Reports that could not be sent go back, to be sent with the next sync (the authority ignores repeats). */
  retry(reports: LeaseReport[]): void {
    this.pendingRetry.push(...reports);
  }

  /**
   * Take in the authority's answer. With a request at hand that was admitted, the ticket
   * for it: from the new lease, or a single exact admission.
   */
  accept(result: SyncResult, sentAt: number, now: number, request?: { tokens: number; cost?: number | undefined }): Ticket | null {
    const d = result.decision;
    const g = result.lease;
    if (result.snapshot && result.at !== undefined) this.learn(result.snapshot, result.at, now);
    const admitted = request && d?.ok ? request : undefined;
    if (g) {
      // Granted beyond the request at hand, which is the lease's first.
      const l = this.hold(g.id, sentAt + g.ttlMs, g.ttlMs, g.requests, g.tokens, g.slots, g.cost ?? null, g.snapshot, now);
      return admitted ? this.started(l, admitted.tokens, now, admitted.cost ?? 0) : null;
    }
    if (!admitted) return null;
    const single = this.hold(d!.id, now, 0, 0, null, null, null, d!.snapshot, now);
    single.closeSent = true; // the authority counts it as one admitted request already
    return this.started(single, admitted.tokens, now, admitted.cost ?? 0);
  }

  private hold(...args: Parameters<typeof heldLease>): HeldLease {
    const l = heldLease(...args);
    this.leases.push(l);
    return l;
  }

  /** Keep the authority's newest answer about the window (answers may arrive out of order). */
  learn(snapshot: Snapshot, at: number, now: number): void {
    if (this.known && this.known.at > at) return;
    this.known = { snapshot, at, receivedAt: now };
  }

  /** `x-ratelimit-*` state (`lease-headers.ts`): the window as last heard, this isolate's unreported leases' unused part counted free. */
  snapshot(limits: LimitSet, now: number): Snapshot {
    const open = this.leases.filter((l) => !l.closeSent);
    const sum = (f: (l: HeldLease) => number | null) => open.reduce((n, l) => n + (f(l) ?? 0), 0);
    const unused = { requests: sum((l) => l.requestsLeft), tokens: sum((l) => l.tokensLeft), slots: sum((l) => l.slotsLeft), cost: sum((l) => l.costLeft) };
    return windowAsKnown(limits, this.known?.snapshot ?? {}, now - (this.known?.receivedAt ?? now), unused);
  }
}
