/**
 * Leased admission, as a protocol: the authority's pure core (`Ledger`), the isolate's
 * (`LeaseClient`), and many isolates running the router's own `Leases` against one
 * authority over links with real latency, with random interleavings, isolate deaths and
 * object restarts (`bench/admission-world.ts`). Over-admission must be zero in every run.
 */
import { describe, expect, it } from 'vitest';
import { overAdmission, overSpend, runWorld, type Colo } from '../../bench/admission-world';
import { rng } from '../../bench/rng';
import { endRequest } from '../../src/limits/held-lease';
import { LeaseClient } from '../../src/limits/lease-client';
import { Leases, type Authority, type Subject } from '../../src/limits/leases';
import { Ledger, MIN_GRANT, type SyncRequest } from '../../src/limits/ledger';
import { dayOf, monthOf, usageAt, WINDOW_MS, type LimitSet } from '../../src/limits/window';

const TTL = 10_000;
const LEASE = 60_000;
let ids = 0;
const newId = () => `e${ids++}`;
const sync = (limits: LimitSet, extra: Partial<SyncRequest>): SyncRequest => ({ limits, leaseMs: LEASE, ttlMs: TTL, reports: [], ...extra });
const want = (requests: number, tokens = requests * 100, slots = 4) => ({ requests, tokens, slots });

describe('the authority (Ledger)', () => {
  it('grants what is wanted when it fits in half of what is free, and counts the whole grant until it is reported', () => {
    const ledger = new Ledger([]);
    const r = ledger.sync(sync({ rpm: 100, tpm: 10_000 }, { request: { tokens: 100 }, want: want(49, 4_900) }), 0, newId);
    expect(r.decision?.ok).toBe(true);
    expect(r.lease).toMatchObject({ requests: 49, tokens: 4_900 }); // (100 − 1) / 2 = 49.5
    expect(usageAt(ledger.log, 1)).toMatchObject({ requests: 50, tokens: 5_000 });
  });

  it('grants no lease when the demand would take more than half of what is free: the request is admitted alone, exactly', () => {
    for (const w of [want(50, 100), want(10, 5_000), want(MIN_GRANT - 1, 10)]) {
      const ledger = new Ledger([]);
      const r = ledger.sync(sync({ rpm: 100, tpm: 10_000 }, { request: { tokens: 1 }, want: w }), 0, newId);
      expect(r.decision?.ok).toBe(true);
      expect(r.lease).toBeUndefined();
      expect(usageAt(ledger.log, 1).requests).toBe(1);
    }
  });

  it('grants slots up to half of those free, and no lease when none is left to half', () => {
    const ledger = new Ledger([]);
    expect(ledger.sync(sync({ concurrency: 9 }, { request: { tokens: 1 }, want: want(10, 10, 100) }), 0, newId).lease?.slots).toBe(4); // (9 − 1) / 2
    expect(ledger.sync(sync({ concurrency: 9 }, { request: { tokens: 1 }, want: want(10, 10, 100) }), 0, newId).lease?.slots).toBe(1); // (9 − 6) / 2
    const last = ledger.sync(sync({ concurrency: 9 }, { request: { tokens: 1 }, want: want(10, 10, 100) }), 0, newId);
    expect(last.decision?.ok).toBe(true); // the 9th slot, alone
    expect(last.lease).toBeUndefined();
  });

  it('gives back what a report says was unused, at once', () => {
    const ledger = new Ledger([]);
    const { lease } = ledger.sync(sync({ rpm: 1_000 }, { want: want(100) }), 0, newId);
    expect(usageAt(ledger.log, 1).requests).toBe(100);
    ledger.sync(sync({ rpm: 1_000 }, { reports: [{ id: lease!.id, requests: 7, lastAgoMs: 500, tokens: 700, inFlight: 2 }] }), 1_000, newId);
    expect(usageAt(ledger.log, 1_000)).toMatchObject({ requests: 7, tokens: 700, inFlight: 2 });
    // Its requests count until W after its last admission (at 500), its tokens until W after its end.
    expect(usageAt(ledger.log, 500 + WINDOW_MS).requests).toBe(0);
    expect(usageAt(ledger.log, 500 + WINDOW_MS).tokens).toBe(700);
  });

  it('reclaims a lease whose holder died at its expiry, and ignores a report that comes after', () => {
    const ledger = new Ledger([]);
    const leaseMs = 30_000;
    const { lease } = ledger.sync(sync({ concurrency: 100 }, { want: want(10, 1_000, 20), leaseMs }), 0, newId);
    expect(usageAt(ledger.log, 1).inFlight).toBe(20);
    ledger.tidy(TTL + leaseMs);
    expect(usageAt(ledger.log, TTL + leaseMs).inFlight).toBe(0);
    ledger.sync(sync({}, { reports: [{ id: lease!.id, requests: 0, lastAgoMs: null, tokens: 0, inFlight: 0 }] }), TTL + leaseMs + 1, newId);
    expect(usageAt(ledger.log, TTL + leaseMs + 1).requests).toBe(10); // the late report frees nothing
  });

  it('restarts from what it wrote: a reloaded ledger decides the same', () => {
    const ledger = new Ledger([]);
    ledger.sync(sync({ rpm: 100 }, { request: { tokens: 1 }, want: want(40) }), 0, newId);
    const reloaded = new Ledger(structuredClone(ledger.log));
    const a = ledger.sync(sync({ rpm: 100 }, { request: { tokens: 1 }, want: want(40) }), 10, () => 'x');
    const b = reloaded.sync(sync({ rpm: 100 }, { request: { tokens: 1 }, want: want(40) }), 10, () => 'x');
    expect(b).toEqual(a);
  });
});

describe('spend budgets in the authority', () => {
  const midnight = Date.UTC(2026, 10, 23);
  const budget = { dayNano: 100 };

  it('holds the worst case while open, keeps the real cost in the day of admission, and starts the next day empty', () => {
    const ledger = new Ledger([]);
    const admit = (at: number, cost: number) => ledger.sync(sync(budget, { request: { tokens: 1, cost } }), at, newId).decision!;
    const a = admit(midnight - 1_000, 60);
    expect(a.ok).toBe(true);
    expect(admit(midnight - 900, 60).ok).toBe(false); // 60 held + 60 > 100
    // It ends after midnight having cost 30: that stays yesterday's.
    ledger.sync(sync(budget, { reports: [{ id: a.id, requests: 1, lastAgoMs: 1_500, tokens: 1, cost: 30, inFlight: 0 }] }), midnight + 500, newId);
    expect(ledger.spent(midnight - 1)).toEqual({ day: 30, month: 30 });
    expect(ledger.spent(midnight + 1).day).toBe(0);
    expect(admit(midnight + 600, 100).ok).toBe(true);
  });

  it('leases spend up to half of what the day and month have left: a larger want is cut to that slice', () => {
    const at = midnight + 3_600_000;
    const ledger = new Ledger([], new Map([[`d:${dayOf(at)}`, 400], [`m:${monthOf(at)}`, 400]]));
    const limits = { dayNano: 1_000, monthNano: 5_000, rpm: 1_000 };
    // 1,000 − 400 spent − 10 for the request at hand: 590 left, so a want of 296 is cut to 295 (its requests alike).
    const cut = ledger.sync(sync(limits, { request: { tokens: 1, cost: 10 }, want: { ...want(10), cost: 296 } }), at, newId);
    expect(cut.lease).toMatchObject({ cost: 295, requests: 9 });
    ledger.sync(sync(limits, { reports: [{ id: cut.decision!.id, requests: 1, lastAgoMs: 0, tokens: 1, cost: 0, inFlight: 0 }] }), at, newId);
    const { lease, decision } = ledger.sync(sync(limits, { request: { tokens: 1, cost: 10 }, want: { ...want(10), cost: 280 } }), at, newId);
    expect(lease).toMatchObject({ cost: 280 });
    // Held at its whole grant until it reports: spent + held + in flight never passes the budget.
    expect(lease!.snapshot.day!.remaining).toBe(1_000 - 400 - 10 - 280);
    expect(ledger.sync(sync(limits, { request: { tokens: 1, cost: 311 } }), at, newId).decision!.ok).toBe(false);
    // Its report returns what it did not spend.
    ledger.sync(sync(limits, { reports: [{ id: decision!.id, requests: 3, lastAgoMs: 0, tokens: 3, cost: 25, inFlight: 0 }] }), at + 1, newId);
    expect(ledger.sync(sync(limits, { request: { tokens: 1, cost: 311 } }), at + 2, newId).decision!.ok).toBe(true);
  });

  it('near the budget, divides half of what is left among the leases still admitting, and grants none smaller than MIN_GRANT worst cases', () => {
    const at = midnight + 3_600_000;
    const ledger = new Ledger([]);
    const limits = { dayNano: 10_000 };
    const ask = (cost: number) => ledger.sync(sync(limits, { request: { tokens: 1, cost: 10 }, want: { ...want(100), cost } }), at, newId).lease;
    // 10,000 − 10 at hand: the first asker alone gets half of 9,990; the next shares half of the rest with it.
    expect(ask(100 * 10)?.cost).toBe(1_000);
    expect(ask(100 * 100)?.cost).toBe(Math.floor((10_000 - 1_010 - 10) / 2 / 2));
    const held = 10_000 - ledger.log.reduce((n, e) => n + e.cost, 0);
    expect(held).toBeGreaterThanOrEqual(0);
    // Once a share holds fewer than MIN_GRANT of the asker's worst cases, no lease: exact per request.
    const tiny = ledger.sync(sync(limits, { request: { tokens: 1, cost: 10 }, want: { ...want(MIN_GRANT), cost: MIN_GRANT * 2_000 } }), at, newId);
    expect(tiny.decision!.ok).toBe(true);
    expect(tiny.lease).toBeUndefined();
  });

  it('grants no spend that could be admitted past the end of the UTC day: a lease\'s cost belongs to the day of its grant', () => {
    const ledger = new Ledger([]);
    const limits = { dayNano: 1_000_000, rpm: 1_000 };
    expect(ledger.sync(sync(limits, { request: { tokens: 1, cost: 1 }, want: { ...want(10), cost: 10 } }), midnight - TTL - 1, newId).lease).toBeDefined();
    expect(ledger.sync(sync(limits, { request: { tokens: 1, cost: 1 }, want: { ...want(10), cost: 10 } }), midnight - TTL + 1, newId).lease).toBeUndefined();
    expect(ledger.sync(sync(limits, { request: { tokens: 1, cost: 1 }, want: want(10) }), midnight + 1, newId).lease).toBeUndefined(); // no worst cases known: none
  });
});

describe('the isolate (LeaseClient)', () => {
  const granted = (client: LeaseClient, requests: number, tokens: number | null = null, slots: number | null = null, sentAt = 0) =>
    client.accept({ lease: { id: 'L', requests, tokens, slots, ttlMs: TTL, snapshot: {} } }, sentAt, sentAt);

  it('admits from its lease with no round trip until the lease is spent, then asks', () => {
    const client = new LeaseClient(TTL);
    granted(client, 3, 300);
    expect([1, 2, 3, 4].map(() => client.admit(100, 5) !== null)).toEqual([true, true, true, false]);
  });

  it('admits nothing after ttl from when its sync was sent, by its own clock', () => {
    const client = new LeaseClient(TTL);
    granted(client, 100, null, null, 1_000);
    expect(client.admit(1, 1_000 + TTL - 1)).not.toBeNull();
    expect(client.admit(1, 1_000 + TTL)).toBeNull();
  });

  it('reports a lease once when it stops admitting, and again when its last request ends, with totals', () => {
    const client = new LeaseClient(TTL);
    granted(client, 10, 1_000);
    const t = client.admit(100, 1)!;
    client.admit(100, 2);
    endRequest(t, { cost: 40, usage: { prompt_tokens: 30, completion_tokens: 10 } });
    expect(client.takeReports(TTL - 1)).toEqual([]);
    const [closing] = client.takeReports(TTL);
    expect(closing).toMatchObject({ requests: 2, lastAgoMs: TTL - 2, tokens: 140, inFlight: 1 });
    expect(closing!.totals).toBeUndefined();
    expect(client.takeReports(TTL + 1)).toEqual([]);
  });

  it("tells the key's window in its headers: the authority's answer with its own unused lease counted free, less what it admitted since", () => {
    const client = new LeaseClient(TTL);
    const known = { requests: { limit: 600, remaining: 590, resetMs: 60_000 }, concurrency: { limit: 20, inFlight: 3 } };
    // The answer that granted 6 requests and 2 slots beyond the request at hand (4 admitted before it).
    client.accept({ lease: { id: 'L', requests: 6, tokens: null, slots: 2, ttlMs: TTL, snapshot: known }, snapshot: known, at: 0 }, 0, 0);
    expect(client.snapshot({ rpm: 600, concurrency: 20 }, 0)).toMatchObject({ requests: { remaining: 596 }, concurrency: { inFlight: 1 } });
    const t = client.admit(1, 10)!;
    expect(client.snapshot({ rpm: 600, concurrency: 20 }, 10)).toMatchObject({ requests: { remaining: 595, resetMs: 59_990 }, concurrency: { inFlight: 2 } });
    endRequest(t, { cost: 1 });
    expect(client.snapshot({ rpm: 600, concurrency: 20 }, 20).concurrency!.inFlight).toBe(1);
    // An older answer arriving late does not replace a newer one.
    client.learn({ requests: { limit: 600, remaining: 10, resetMs: 0 } }, -5, 30);
    expect(client.snapshot({ rpm: 600 }, 30).requests!.remaining).toBe(595);
  });

  it('asks for no lease while its own demand is below the smallest grant', () => {
    const client = new LeaseClient(TTL);
    for (let i = 0; i < MIN_GRANT - 1; i++) client.asked(i);
    expect(client.want(10, 100)).toBeUndefined();
    client.asked(11);
    expect(client.want(12, 100)?.requests).toBeGreaterThanOrEqual(MIN_GRANT);
  });

  it('asks for a refill when half of the newest lease is used', () => {
    const client = new LeaseClient(TTL);
    granted(client, 10);
    for (let i = 0; i < 5; i++) client.admit(1, 1);
    expect(client.needsRefill(1)).toBe(false);
    client.admit(1, 1);
    expect(client.needsRefill(1)).toBe(true);
  });
});

describe("the isolate's leases (Leases) on a config change", () => {
  it('closes and reports the old leases when the lease lifetime changes, so what they did not use goes back at once', async () => {
    const ledger = new Ledger([]);
    let now = 0;
    const authority: Authority = {
      sync: async (req) => structuredClone(ledger.sync(structuredClone(req), now, newId)),
      extend: async (id, limits, tokens, cost) => ledger.extend(id, limits, tokens, cost, now),
    };
    const defer = (work: Promise<unknown>) => void work.catch(() => undefined);
    // The authority answers at once: a few turns of the event loop let background calls land.
    const settleBackground = async () => {
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0));
    };
    // Timers never fire here: only the change itself can give a lease back before its expiry.
    const leases = new Leases({ now: () => now, sleep: () => new Promise(() => undefined) });
    const subject = (ttlMs: number): Subject => ({ name: 'key:k', authority, limits: { rpm: 1_000 }, ttlMs, leaseMs: LEASE, leases: true });
    let admitted = 0;
    const serve = async (ttlMs: number) => {
      const r = await leases.admit(subject(ttlMs), 1, defer);
      if (!r.ok) throw new Error('refused');
      admitted++;
      r.settle({ usage: { prompt_tokens: 1, completion_tokens: 0 } });
      await settleBackground();
    };
    for (let i = 0; i < 20; i++, now += 100) await serve(TTL);
    expect(leases.calls.local).toBeGreaterThan(0); // a lease was granted and used
    expect(usageAt(ledger.log, now).requests).toBeGreaterThan(admitted); // and it holds more than it served

    await serve(TTL / 2); // the lifetime changed: a new client, the old one closed out
    expect(usageAt(ledger.log, now).requests).toBe(admitted);
  });
});

describe("a key's spent budget held in the isolate (Leases, budget-hold.ts)", () => {
  it('refuses from the hold without asking, and asks again at once when an operator changed the budget', async () => {
    const ledger = new Ledger([]);
    let asked = 0;
    const authority: Authority = {
      sync: async (req) => {
        asked++;
        return structuredClone(ledger.sync(structuredClone(req), 0, newId));
      },
      extend: async (id, limits, tokens, cost) => ledger.extend(id, limits, tokens, cost, 0),
    };
    const defer = (work: Promise<unknown>) => void work.catch(() => undefined);
    const leases = new Leases({ now: () => 0, sleep: () => new Promise(() => undefined) });
    const subject = (dayNano: number): Subject => ({ name: 'key:k', authority, limits: { dayNano }, ttlMs: TTL, leaseMs: LEASE, leases: true });
    const spent = await leases.admit(subject(100), 1, defer, 60);
    if (!spent.ok) throw new Error('refused');
    spent.settle({ usage: { prompt_tokens: 1, completion_tokens: 0 }, costUsd: 60e-9 });
    expect((await leases.admit(subject(100), 1, defer, 60)).ok).toBe(false); // 60 spent + 60 > 100: the object refuses
    const before = asked;
    expect(await leases.admit(subject(100), 1, defer, 60)).toMatchObject({ ok: false, limit: 'day' });
    expect(asked).toBe(before); // refused from the hold
    expect((await leases.admit(subject(1_000), 1, defer, 60)).ok).toBe(true); // the budget was raised: asked, admitted
    expect(asked).toBeGreaterThan(before);
  });
});

describe('reports reach the authority without waiting for a later request', () => {
  it("a report whose call fails is sent again from the same request's background work", async () => {
    const ledger = new Ledger([]);
    let failures = 0;
    const authority: Authority = {
      sync: async (req) => {
        if (failures > 0 && req.reports.length > 0) {
          failures--;
          throw new Error('Durable Object reset');
        }
        return structuredClone(ledger.sync(structuredClone(req), 0, newId));
      },
      extend: async (id, limits, tokens, cost) => ledger.extend(id, limits, tokens, cost, 0),
    };
    const work: Promise<unknown>[] = [];
    const defer = (p: Promise<unknown>) => void work.push(p.catch(() => undefined));
    const leases = new Leases({ now: () => 0, sleep: () => Promise.resolve() });
    const subject: Subject = { name: 'key:k', authority, limits: { concurrency: 1 }, ttlMs: TTL, leaseMs: LEASE, leases: true };
    const a = await leases.admit(subject, 1, defer);
    if (!a.ok) throw new Error('refused');
    failures = 2; // the object restarts twice while the report is on its way
    a.settle({ usage: { prompt_tokens: 1, completion_tokens: 0 } });
    for (let i = 0; i < work.length; i++) await work[i];
    expect(usageAt(ledger.log, 0).inFlight).toBe(0);
  });
});

// Simulated minutes take real seconds on a busy machine: a generous bound, not a timing assertion.
describe('many isolates, one authority, real latency', { timeout: 120_000 }, () => {
  const COLOS: Colo[] = [
    { name: 'IAD', rttMs: 2, ratePerS: 12, isolates: 3 },
    { name: 'FRA', rttMs: 88, ratePerS: 8, isolates: 2 },
    { name: 'NRT', rttMs: 150, ratePerS: 6 },
    { name: 'SYD', rttMs: 200, ratePerS: 4 },
  ];

  it('never admits past a limit in any window: random limits, interleavings, isolate deaths and object restarts', async () => {
    const random = rng(2026);
    for (let run = 0; run < 12; run++) {
      const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
      const limits: LimitSet = {
        ...(random() < 0.8 ? { rpm: pick([20, 200, 900, 1_500, 5_000]) } : {}),
        ...(random() < 0.6 ? { tpm: pick([50_000, 400_000, 1_000_000]) } : {}),
        ...(random() < 0.5 ? { concurrency: pick([3, 20, 60]) } : {}),
      };
      const result = await runWorld({ seed: run + 1, limits, colos: COLOS, durationMs: 90_000, leases: true, deaths: run % 3, restarts: run % 2 + 1 });
      const over = overAdmission(result.admitted, limits);
      expect({ run, limits, ...over }).toEqual({
        run,
        limits,
        requests: expect.toSatisfy((n: number) => n <= 0),
        tokens: expect.toSatisfy((n: number) => n <= 0),
        concurrency: expect.toSatisfy((n: number) => n <= 0),
      });
    }
  });

  it('never spends past a budget nor tokens past tpm when hung attempts retry: random budgets, worst cases, interleavings, deaths, restarts, a UTC day and month rollover', async () => {
    const random = rng(1831);
    // 45 s before the new year: both periods roll over mid-run.
    const start = Date.UTC(2026, 11, 31, 23, 59, 15);
    let stopped = 0;
    let leasedSpend = 0;
    for (let run = 0; run < 8; run++) {
      const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
      const budgeted = run % 4 !== 3; // every fourth run leases (no budget): its retries draw on the lease or the object
      const limits: LimitSet = {
        ...(random() < 0.5 ? { rpm: pick([200, 1_500]) } : {}),
        ...(random() < 0.6 ? { tpm: pick([50_000, 400_000, 1_000_000]) } : {}),
        ...(random() < 0.3 ? { concurrency: pick([20, 60]) } : {}),
        // Demand is ~$7 a side of midnight: some budgets bind early, some late, some never.
        ...(budgeted && random() < 0.8 ? { dayNano: pick([3e8, 2e9, 6e9, 3e10]) } : {}),
        ...(budgeted ? { monthNano: pick([1e9, 5e9, 1e11]) } : {}),
      };
      const result = await runWorld({
        seed: 100 + run,
        limits,
        colos: COLOS,
        durationMs: 90_000,
        leases: true,
        deaths: run % 3,
        restarts: (run % 2) + 1,
        start,
        cost: [1e6, 1e7],
        hang: 0.25,
      });
      stopped += result.stopped;
      if (limits.dayNano !== undefined || limits.monthNano !== undefined) leasedSpend += result.calls.local;
      const over = { ...overAdmission(result.admitted, limits), ...overSpend(result.admitted, limits) };
      const none = expect.toSatisfy((n: number) => n <= 0);
      expect({ run, limits, ...over }).toEqual({ run, limits, requests: none, tokens: none, concurrency: none, day: none, month: none, periods: 4 });
      expect(result.abandoned).toBeGreaterThan(0);
    }
    expect(stopped).toBeGreaterThan(0); // some retries were refused: the limits did bind on extensions
    expect(leasedSpend).toBeGreaterThan(1_000); // budgeted keys were admitted from leases of spend, not only one by one
  });

  it('strands little: saturated by many isolates, leases admit within 5% of exact admission (no deaths)', async () => {
    for (const seed of [1, 2, 3]) {
      const limits = { rpm: 1_200, tpm: 1_500_000 };
      const run = (leases: boolean) => runWorld({ seed, limits, colos: COLOS, durationMs: 180_000, leases });
      const [exact, leased] = await Promise.all([run(false), run(true)]);
      expect(leased.admitted.length).toBeGreaterThanOrEqual(0.95 * exact.admitted.length);
    }
  });

  it('admits almost every request with no round trip when the key is far from its limits', async () => {
    const r = await runWorld({ seed: 7, limits: { rpm: 100_000, tpm: 100_000_000 }, colos: COLOS, durationMs: 120_000, leases: true });
    expect(r.calls.awaited / r.requests).toBeLessThanOrEqual(0.02);
    expect((r.calls.awaited + r.calls.background) / r.requests).toBeLessThanOrEqual(0.2);
  });
});
