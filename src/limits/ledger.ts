/**
 * The authority's side of admission, pure: one subject's window (`window.ts`) with exact
 * admissions and leases. The RateLimiter object is this plus SQLite; the protocol tests
 * drive many isolates against it with random interleavings, expiry and restarts.
 *
 * A **lease** (Doorman, Envoy's rate-limit quota service) is a slice of the subject's
 * remaining requests, tokens and slots handed to one isolate, which then admits from it
 * with no round trip. The entry of a lease counts everything it was granted until the
 * holder reports what it really used:
 * - requests until W after `last`, which is the end of the time it may admit in
 *   (`ttlMs`), then the time of its real last admission;
 * - tokens until W after it ends, at its grant while open, then at what its requests
 *   really cost (used + reserved for those still in flight);
 * - slots while open, then as many as its requests still in flight.
 * So what all isolates admitted plus what they still hold never passes a limit in any
 * window: over-admission is zero by construction. The price is capacity held in leases:
 * a grant is what the isolate's own demand over one ttl calls for, and only when that fits
 * in half of what is free (`grantFor`): a key near its limit is admitted one request at a
 * time, exactly. Spend budgets likewise: a lease's cost (its slice of a budget) is held at
 * its whole grant in the day and month of the grant until it reports, so spent + held by
 * leases + in flight never passes a budget in any period.
 */
import { budgetUse, dayOf, decide, decideMore, periodEnd, expired, monthOf, singleEntry, snapshot, usageAt, type Decision, type LimitSet, type LogEntry, type Snapshot, type Spent } from './window';

/** Fewer requests than this in a grant is no lease: the key is near its limit. */
export const MIN_GRANT = 4;

export interface Totals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  /** Tokens charged at a reservation because no usage arrived. */
  estimatedTokens: number;
}

export const noTotals = (): Totals => ({ requests: 0, promptTokens: 0, completionTokens: 0, estimatedTokens: 0 });

export function addTotals(into: Totals, delta: Totals): void {
  into.requests += delta.requests;
  into.promptTokens += delta.promptTokens;
  into.completionTokens += delta.completionTokens;
  into.estimatedTokens += delta.estimatedTokens;
}

/** What an isolate would like to hold for the next `ttlMs`, sized by its own recent rate. */
export interface LeaseWant {
  requests: number;
  tokens: number;
  slots: number;
  /** Nano-USD of spend (budgets): its requests at the isolate's recent worst cases. */
  cost?: number | undefined;
}

/** An isolate's account of one of its entries (a lease or a single request) once it admits no more from it. */
export interface LeaseReport {
  id: string;
  /** Requests admitted from it. */
  requests: number;
  /** Ms since its last admission, at the time of sending; null when it admitted none. */
  lastAgoMs: number | null;
  /** Tokens its requests cost: usage of those that ended, reservations of those in flight. */
  tokens: number;
  /** Nano-USD its requests cost (budgets), with the same rule; absent: unchanged. */
  cost?: number | undefined;
  /** Requests still in flight; 0 ends the entry. */
  inFlight: number;
  /** Totals of its requests, sent once: with the report that ends it. */
  totals?: Totals | undefined;
}

export interface SyncRequest {
  limits: LimitSet;
  /** How long past its admitting time an entry may stay open (the longest deadline + margin). */
  leaseMs: number;
  /** How long a lease may admit in. */
  ttlMs: number;
  /** A request at hand, decided exactly; when a lease is granted too, it is the lease's first. `cost`: its worst case, nano-USD. */
  request?: { tokens: number; cost?: number | undefined } | undefined;
  want?: LeaseWant | undefined;
  reports: LeaseReport[];
}

export interface LeaseGrant {
  id: string;
  /** Granted beyond the request at hand; `null`: the subject has no such limit. */
  requests: number;
  tokens: number | null;
  slots: number | null;
  /** Nano-USD of spend; `null`: the subject has no budget. */
  cost?: number | null | undefined;
  ttlMs: number;
  /** The subject's window after the grant (for reset times). */
  snapshot: Snapshot;
}

export interface SyncResult {
  /** The request at hand: refused, or admitted alone (no `lease`) or as the lease's first (`id` the lease's). */
  decision?: (Decision & { id: string }) | undefined;
  lease?: LeaseGrant | undefined;
  /** The subject's window once this sync was applied (reports, request, grant), and when, by the authority's clock. */
  snapshot?: Snapshot | undefined;
  at?: number | undefined;
}

/** Free capacity after what the window holds (Infinity where there is no limit). */
function free(log: readonly LogEntry[], limits: LimitSet, now: number) {
  const u = usageAt(log, now);
  return {
    requests: limits.rpm === undefined ? Infinity : limits.rpm - u.requests,
    tokens: limits.tpm === undefined ? Infinity : limits.tpm - u.tokens,
    slots: limits.concurrency === undefined ? Infinity : limits.concurrency - u.inFlight,
  };
}

/**
 * What to grant: what the isolate wants, if that fits in half of what is free (so other
 * isolates find as much again), with at least `MIN_GRANT` requests; slots up to half of
 * those free. Nothing otherwise: a key whose free capacity this isolate's own demand
 * would take most of is near its limit, and is admitted one request at a time, exactly —
 * a lease there would only hold capacity that a burst of requests is refused for.
 *
 * Spend (budgets): the isolate's recent worst cases for the requests it wants, cut to its
 * share of half of what the day and the month have left (`spendSlice`). A lease's cost
 * belongs to the period of its grant, so none is granted that could admit past the end of
 * the UTC day (`now + ttlMs`): its requests are all admitted in that day.
 */
export function grantFor(log: readonly LogEntry[], limits: LimitSet, wanted: LeaseWant, now: number, ttlMs: number, spent: Spent) {
  const budgeted = limits.dayNano !== undefined || limits.monthNano !== undefined;
  if (budgeted && (wanted.cost === undefined || now + ttlMs > periodEnd('day', now))) return null;
  const want = budgeted ? spendSlice(log, limits, wanted, now, spent) : wanted;
  const f = free(log, limits, now);
  const fits = (x: number, w: number) => w <= Math.floor(x / 2);
  if (want.requests < MIN_GRANT || !fits(f.requests, want.requests) || !fits(f.tokens, want.tokens)) return null;
  const slots = limits.concurrency === undefined ? null : Math.min(want.slots, Math.floor(f.slots / 2));
  if (slots !== null && slots < 1) return null;
  return { requests: want.requests, tokens: limits.tpm === undefined ? null : want.tokens, slots, cost: budgeted ? want.cost! : null };
}

/**
 * The spend a lease may carry: what the isolate wants, up to an equal share of half of what
 * the day and the month have left after what is spent and held, divided among the leases
 * still admitting and this one. Far from the budget that is the whole want; near it, a
 * smaller slice (its requests and tokens scaled alike) — so a busy key keeps admitting from
 * leases until a slice holds fewer than `MIN_GRANT` of its worst cases, rather than asking
 * once per request as soon as its whole want no longer fits. Any slice within what is left
 * keeps spent + held + in flight ≤ budget; halving it leaves as much again for the others.
 */
function spendSlice(log: readonly LogEntry[], limits: LimitSet, want: LeaseWant, now: number, spent: Spent): LeaseWant {
  const used = budgetUse(log, spent, now);
  const left = Math.min(limits.dayNano === undefined ? Infinity : limits.dayNano - used.day, limits.monthNano === undefined ? Infinity : limits.monthNano - used.month);
  const holders = 1 + log.reduce((n, e) => (e.end === null && e.last > now && e.cost > 0 && e.requests > 1 ? n + 1 : n), 0);
  const share = Math.floor(Math.max(0, left) / 2 / holders);
  const cost = want.cost ?? 0;
  if (cost <= share) return want;
  const scale = share / cost;
  return { requests: Math.floor(want.requests * scale), tokens: Math.floor(want.tokens * scale), slots: want.slots, cost: share };
}

export class Ledger {
  /** Entries in admission order. */
  log: LogEntry[];
  /** Changed since the last `takeChanges()`: the object writes them through. */
  private changed = new Set<LogEntry>();
  private removed: string[] = [];
  private totals = noTotals();
  /** Nano-USD of ended entries by the period of their admission (`d:2026-11-22`, `m:2026-11`). */
  readonly spend: Map<string, number>;
  private spendDelta = new Map<string, number>();

  constructor(entries: LogEntry[], spend: Map<string, number> = new Map()) {
    this.log = entries;
    this.spend = spend;
  }

  /** What to persist since the last call: entries to upsert, ids dropped, totals and spend to add. */
  takeChanges() {
    const out = { upserts: [...this.changed], removed: this.removed, totals: this.totals, spend: this.spendDelta };
    this.changed = new Set();
    this.removed = [];
    this.totals = noTotals();
    this.spendDelta = new Map();
    return out;
  }

  spent(now: number): Spent {
    return { day: this.spend.get(`d:${dayOf(now)}`) ?? 0, month: this.spend.get(`m:${monthOf(now)}`) ?? 0 };
  }

  /** An entry ended: what it cost stays spent in the day and month it was admitted in. */
  private ended(e: LogEntry, at: number): void {
    e.end = at;
    if (e.cost === 0) return;
    for (const period of [`d:${dayOf(e.at)}`, `m:${monthOf(e.at)}`]) {
      this.spend.set(period, (this.spend.get(period) ?? 0) + e.cost);
      this.spendDelta.set(period, (this.spendDelta.get(period) ?? 0) + e.cost);
    }
  }

  private touch(e: LogEntry): void {
    this.changed.add(e);
  }

  /** Reclaim entries whose holder died, drop those that count for nothing; the next expiry. */
  tidy(now: number): number | undefined {
    let next: number | undefined;
    for (const e of this.log) {
      if (e.end !== null) continue;
      if (e.expires <= now) {
        this.ended(e, e.expires);
        this.touch(e);
      } else if (next === undefined || e.expires < next) next = e.expires;
    }
    if (this.log.some((e) => expired(e, now))) {
      for (const e of this.log) if (expired(e, now)) this.removed.push(e.id);
      this.log = this.log.filter((e) => !expired(e, now));
    }
    return next;
  }

  private push(e: LogEntry): void {
    this.log.push(e);
    this.touch(e);
  }

  /** Apply an isolate's reports, decide its request at hand, and grant a lease if it wants one and there is room. */
  sync(req: SyncRequest, now: number, newId: () => string): SyncResult {
    this.tidy(now);
    for (const r of req.reports) this.report(r, now);
    const id = newId();
    let decision: SyncResult['decision'];
    let entry: LogEntry | undefined;
    if (req.request) {
      const cost = req.request.cost ?? 0;
      const d = decide(this.log, req.limits, req.request.tokens, now, req.leaseMs, id, cost, this.spent(now));
      decision = { ...d, id };
      if (!d.ok) return { decision, snapshot: d.snapshot, at: now };
      entry = singleEntry(id, now, req.request.tokens, now + req.leaseMs, cost);
      this.push(entry);
    }
    const grant = req.want && grantFor(this.log, req.limits, req.want, now, req.ttlMs, this.spent(now));
    if (!grant) return { decision, snapshot: decision?.snapshot ?? snapshot(this.log, req.limits, now, this.spent(now)), at: now };
    // The request at hand (if any) becomes the lease's first: one entry holds both.
    const first = req.request ? 1 : 0;
    entry ??= singleEntry(id, now, 0, 0);
    if (!req.request) this.push(entry);
    entry.requests = first + grant.requests;
    entry.last = now + req.ttlMs;
    entry.tokens = (req.request?.tokens ?? 0) + (grant.tokens ?? 0);
    entry.reserved = 0;
    entry.slots = first + (grant.slots ?? req.want!.slots);
    entry.cost = (req.request?.cost ?? 0) + (grant.cost ?? 0);
    entry.expires = now + req.ttlMs + req.leaseMs;
    const snap = snapshot(this.log, req.limits, now, this.spent(now));
    return {
      decision: decision && { ...decision, snapshot: snap },
      lease: { id, ...grant, ttlMs: req.ttlMs, snapshot: snap },
      snapshot: snap,
      at: now,
    };
  }

  /**
   * What an entry really held replaces its grant. An entry already ended (reclaimed at
   * expiry, or reported ended before) keeps what it counts: a report arrives at most once
   * in time, and a late one must not free capacity someone else may have taken.
   */
  private report(r: LeaseReport, now: number): void {
    const e = this.log.find((x) => x.id === r.id);
    if (!e || e.end !== null) return;
    e.requests = Math.min(e.requests, r.requests);
    e.last = r.lastAgoMs === null ? e.at : Math.min(e.last, now - r.lastAgoMs);
    e.tokens = r.tokens;
    if (r.cost !== undefined) e.cost = r.cost;
    e.slots = Math.min(e.slots, r.inFlight);
    if (r.inFlight === 0) this.ended(e, now);
    if (r.totals) addTotals(this.totals, r.totals);
    this.touch(e);
  }

  /**
   * Reserve `tokens` and `cost` (nano-USD) more for an open entry: another attempt after an
   * abandoned one, which the provider may bill as well. Checked like an admission — tokens
   * against the window, cost against the budgets of the entry's own day and month — and
   * refused with the limit that has no room; null when the entry is no longer open.
   */
  extend(id: string, limits: LimitSet, tokens: number | undefined, cost: number | undefined, now: number): (Decision & { at: number }) | null {
    this.tidy(now);
    const e = this.log.find((x) => x.id === id && x.end === null);
    if (!e) return null;
    const more = tokens ?? e.reserved;
    const extra = cost ?? 0;
    const d = decideMore(this.log, limits, more, extra, e.at, now, { at: this.spent(e.at), now: this.spent(now) });
    if (!d.ok) return { ...d, at: now };
    e.tokens += more;
    e.cost += extra;
    this.touch(e);
    return { ok: true, snapshot: snapshot(this.log, limits, now, this.spent(now)), at: now };
  }
}
