/**
 * Leased admission on the request path: this isolate's `LeaseClient` per subject, and the
 * round trips to the subject's RateLimiter object — awaited only when no lease can admit
 * the request (the first request, a key near its limit), otherwise in the background
 * (refills, reports). One sync per subject is under way at a time, so reports and
 * extensions reach the object in the order they were taken.
 */
import { onIsolateReset } from '../isolate';
import type { LeaseReport, SyncRequest, SyncResult } from './ledger';
import { charge, endRequest, soundEnd, uncharge, type Ticket } from './held-lease';
import { LeaseClient } from './lease-client';
import { settledTokens, type Decision, type LimitSet, type Snapshot } from './window';

/** The subject's authority as the isolate sees it: its RateLimiter object's RPC (or a simulated one). */
export interface Authority {
  sync(request: SyncRequest): Promise<SyncResult>;
  /** Reserve another attempt (`tokens`, `cost` nano-USD) for an open entry; null: the entry is no longer open. */
  extend(id: string, limits: LimitSet, tokens?: number, cost?: number): Promise<(Decision & { at: number }) | null>;
}

export interface Subject {
  /** `key:<id>` or `node:<id>`: the object's name. */
  name: string;
  authority: Authority;
  limits: LimitSet;
  ttlMs: number;
  /** How long an entry may stay open past its admitting time: the longest deadline it may serve + margin. */
  leaseMs: number;
  /** `limits.leases.enabled`: off, every request is one exact round trip (and its report one more). */
  leases: boolean;
}

/** Pauses before sending again reports whose call failed (they are re-queued meanwhile; the next call carries them too). */
const REPORT_RETRIES = [100, 1_000, 5_000];

/**
 * How long a budget refusal is remembered (`budget-hold.ts`), as a share of the lease ttl
 * (2.5 s at the default 10 s): each isolate asks a spent key's object at most once per hold.
 */
const BUDGET_HOLD = 0.25;

/** Subjects an isolate keeps clients for before it forgets those that hold nothing. */
const MAX_CLIENTS = 5_000;

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<unknown>;
}

export type Defer = (work: Promise<unknown>) => void;

export type Leased =
  | {
      ok: true;
      snapshot: Snapshot;
      /** Admitted from a lease this isolate held, with no round trip. */
      local: boolean;
      /** The authority's entry it counts in: its lease, or its own. */
      entry: string;
      extend(): Promise<Extension>;
      settle(result: SettleResult): void;
    }
  | (Extract<Decision, { ok: false }> & { ok: false });

/** Another attempt's reservation: taken, or refused by the limit with no room (null: the authority could not be asked, or the entry is gone). */
export type Extension = { ok: true } | { ok: false; refusal: Extract<Decision, { ok: false }> | null };

export interface SettleResult {
  usage?: { prompt_tokens: number; completion_tokens: number } | undefined;
  /** What the final attempt cost in USD, when known. */
  costUsd?: number | null | undefined;
  unserved?: boolean | undefined;
  abandoned?: number | undefined;
}

/** One isolate's leases on every subject it admits for. */
export class Leases {
  /** Durable Object calls: awaited by a request, or in the background; and requests admitted with none. */
  readonly calls = { awaited: 0, background: 0, local: 0 };
  private clients = new Map<string, LeaseClient>();

  private readonly clock: Clock;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  private clientFor(s: Subject, defer: Defer): LeaseClient {
    let c = this.clients.get(s.name);
    if (c?.serves(s.ttlMs, s.limits)) return c;
    // The lease lifetime or the limits changed (a config change): the old client's leases stop
    // admitting now and are reported, so what they did not use goes back at once — a slice
    // granted under a higher budget or tpm must not admit past a lowered one. Requests they
    // admitted still end on it, and its `tend` reports them.
    if (c) defer(this.closeOut(s, c, false));
    if (this.clients.size >= MAX_CLIENTS) {
      for (const [name, other] of this.clients) if (other.idle()) this.clients.delete(name);
    }
    this.clients.set(s.name, (c = new LeaseClient(s.ttlMs, s.limits)));
    return c;
  }

  /**
   * One round trip: the request at hand (if any), a lease if wanted, and — when no other
   * sync carrying reports is under way — the reports due, so that those reach the object
   * in the order they were taken. At most one call asking for a lease is under way.
   */
  private call(s: Subject, c: LeaseClient, awaited: boolean, request?: { tokens: number; cost?: number | undefined }) {
    const sentAt = this.clock.now();
    const carries = c.syncing === null;
    const asks = s.leases && c.leasing === null && (request !== undefined || c.needsRefill(sentAt));
    const want = asks ? c.want(sentAt, request?.tokens ?? 0, request?.cost ?? 0) : undefined;
    const reports = carries ? c.takeReports(sentAt) : [];
    this.calls[awaited ? 'awaited' : 'background']++;
    const run = s.authority
      .sync({ limits: s.limits, leaseMs: s.leaseMs, ttlMs: s.ttlMs, request, want, reports })
      .then((result) => ({ result, ticket: c.accept(result, sentAt, this.clock.now(), request) }))
      .catch((err: unknown) => {
        c.retry(reports);
        throw err;
      })
      .finally(() => {
        if (c.syncing === run) c.syncing = null;
        if (c.leasing === run) c.leasing = null;
      });
    if (carries) c.syncing = run;
    if (want) c.leasing = run;
    return run;
  }

  /** Background work a subject may need now (a refill, or reports that give capacity back), kept alive by `defer`. */
  private tend(s: Subject, c: LeaseClient, defer: Defer): void {
    const work = this.tending(s, c, defer, 0);
    if (work) defer(work);
  }

  /**
   * The work `tend` keeps alive. A report due now that cannot ride the call under way (that
   * call took its reports when it was sent) is sent right after it, by this same work — so
   * from the waitUntil of the request that made it due, never left for a later request
   * that may not come. A report whose call fails is re-queued and tried again a few times.
   */
  private tending(s: Subject, c: LeaseClient, defer: Defer, failures: number): Promise<unknown> | undefined {
    const now = this.clock.now();
    const reports = c.hasReports(now);
    if (!(reports || c.needsRefill(now))) return undefined;
    const busy = c.syncing ?? c.leasing;
    if (busy) return reports ? busy.catch(() => undefined).then(() => this.tending(s, c, defer, failures)) : undefined;
    return this.call(s, c, false).then(
      ({ result }) => this.comeBack(s, c, result, defer),
      async (err: unknown) => {
        if (failures >= REPORT_RETRIES.length) throw err;
        await this.clock.sleep(REPORT_RETRIES[failures]!);
        return this.tending(s, c, defer, failures + 1);
      },
    );
  }

  /** A lease stops admitting after its ttl: come back then to give back what it did not use. */
  private comeBack(s: Subject, c: LeaseClient, result: SyncResult, defer: Defer): void {
    if (result.lease) defer(this.clock.sleep(result.lease.ttlMs + 1).then(() => this.tend(s, c, defer)));
  }

  /**
   * Admit one request of `tokens` on a subject: from this isolate's lease with no await when
   * it can; else one round trip that decides it exactly and brings a lease back if there is room.
   */
  async admit(s: Subject, tokens: number, defer: Defer, worstCost = 0): Promise<Leased> {
    const c = this.clientFor(s, defer);
    c.asked(this.clock.now());
    const budgeted = s.limits.dayNano !== undefined || s.limits.monthNano !== undefined;
    let ticket = c.admit(tokens, this.clock.now(), worstCost, budgeted);
    if (!ticket && c.leasing) {
      await c.leasing.catch(() => undefined);
      ticket = c.admit(tokens, this.clock.now(), worstCost, budgeted);
    }
    const held = ticket || !s.leases || !budgeted ? null : c.budgetHold.refuse(worstCost, this.clock.now());
    if (held) return held;
    let snapshot: Snapshot;
    let local = ticket !== null;
    if (ticket) {
      this.calls.local++;
      snapshot = c.snapshot(s.limits, this.clock.now());
    } else {
      const { result, ticket: t } = await this.call(s, c, true, { tokens, ...(worstCost ? { cost: worstCost } : {}) }).catch((err: unknown) => {
        this.tend(s, c, defer); // the reports it carried are re-queued: send them again from this request's waitUntil
        throw err;
      });
      const d = result.decision;
      if (!d) throw new Error('limiter answered a request without a decision');
      // Refused by the object: a lease that arrived meanwhile may still hold what this needs.
      const late = d.ok ? null : c.admit(tokens, this.clock.now(), worstCost, budgeted);
      if (!d.ok && !late) {
        if (s.leases) c.budgetHold.remember(d, this.clock.now(), s.ttlMs * BUDGET_HOLD);
        return d;
      }
      if (d.ok) c.budgetHold.clear();
      ticket = late ?? t!;
      local = late !== null;
      this.comeBack(s, c, result, defer);
      snapshot = c.snapshot(s.limits, this.clock.now());
    }
    this.tend(s, c, defer);
    const admitted = ticket;
    let ended = false;
    return {
      ok: true,
      snapshot,
      local,
      entry: admitted.lease.id,
      extend: () => this.extend(s, c, admitted),
      settle: (result) => {
        // Once: a second end would give its slot and reservation back twice.
        if (ended) return;
        ended = true;
        const { usage, costUsd } = soundEnd(result.usage, result.costUsd);
        const used = usage ? usage.prompt_tokens + usage.completion_tokens : undefined;
        const cost = settledTokens({ reserved: admitted.reserved }, { used, unserved: result.unserved, abandoned: result.abandoned });
        // Cost by the same rule: abandoned attempts and a served answer without usage at their worst case.
        const real = costUsd === undefined ? undefined : Math.round(costUsd * 1e9);
        const costNano = settledTokens({ reserved: admitted.worstCost }, { used: real, unserved: result.unserved, abandoned: result.abandoned });
        endRequest(admitted, { usage, cost, costNano });
        c.budgetHold.gaveBack(admitted.chargedCost - costNano);
        this.tend(s, c, defer);
      },
    };
  }

  /**
   * Reserve another attempt after an abandoned one: its tokens and worst-case cost. From the
   * request's own lease while it admits and holds them (nothing to check without `tpm` or a
   * budget); else through the authority, like an admission — so a request admitted exactly
   * always asks.
   */
  private async extend(s: Subject, c: LeaseClient, t: Ticket): Promise<Extension> {
    const checked = { tokens: s.limits.tpm !== undefined, cost: t.worstCost > 0 && (s.limits.dayNano !== undefined || s.limits.monthNano !== undefined) };
    if (c.extendLocal(t, this.clock.now(), checked)) return { ok: true };
    // After any report already taken, so it cannot undo this: charged with no call carrying reports under way.
    while (c.syncing) await c.syncing.catch(() => undefined);
    charge(t);
    this.calls.awaited++;
    const d = await s.authority.extend(t.lease.id, s.limits, t.reserved, checked.cost ? t.worstCost : 0).catch(() => null);
    if (d) c.learn(d.snapshot, d.at, this.clock.now());
    if (d?.ok) return { ok: true };
    uncharge(t);
    return { ok: false, refusal: d };
  }

  /**
   * Close this isolate's leases on a subject now and send their reports, so that the
   * object's counts are exact for what this isolate served (the admin usage endpoint).
   */
  async flush(s: Pick<Subject, 'name' | 'authority'>, defer?: Defer): Promise<void> {
    const c = this.clients.get(s.name);
    if (c) await this.closeOut(s, c, true, 0, defer);
  }

  /**
   * Stop a client's leases admitting and send every report it holds — as the subject's one
   * call carrying reports (`syncing`), like any other: an extension waits for it, so this
   * report, taken before that extension's charge, cannot land after it and undo it.
   */
  private async closeOut(s: Pick<Subject, 'authority'>, c: LeaseClient, awaited: boolean, failures = 0, defer?: Defer): Promise<void> {
    await c.leasing?.catch(() => undefined);
    while (c.syncing) await c.syncing.catch(() => undefined);
    const reports: LeaseReport[] = c.takeReports(this.clock.now(), true);
    if (reports.length === 0) return;
    this.calls[awaited ? 'awaited' : 'background']++;
    let failed = false;
    const run: Promise<unknown> = s.authority
      .sync({ limits: {}, leaseMs: 0, ttlMs: 0, reports })
      .catch(() => {
        failed = true;
        c.retry(reports);
      })
      .finally(() => {
        if (c.syncing === run) c.syncing = null;
      });
    c.syncing = run;
    await run;
    // Its leases admit no more, so no later request may come to carry the reports (a client
    // closed out for a change of limits is forgotten): they are sent again, as `tending` sends
    // others — within this work, or for an awaited flush (the admin usage view) in the background.
    if (!failed || failures >= REPORT_RETRIES.length) return;
    const again = this.clock.sleep(REPORT_RETRIES[failures]!).then(() => this.closeOut(s, c, false, failures + 1));
    if (!awaited) await again;
    else if (defer) defer(again);
  }
}

const realClock: Clock = { now: () => Date.now(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };

/** This isolate's leases. */
export let isolateLeases = new Leases(realClock);
onIsolateReset(() => {
  isolateLeases = new Leases(realClock);
});
