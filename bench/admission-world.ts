/**
 * A simulated world for admission: isolates in colos, each with the router's own `Leases`
 * (the same code as the Worker's hot path), talking over links with real latency to one
 * authority — the pure `Ledger` the RateLimiter object runs. Time is simulated: events
 * run in time order, and between two events every promise the code awaits settles.
 *
 * It records the truth (when each request was admitted, when it ended, what it cost) so
 * that a run can be checked against the limits in every window, and what admission cost
 * each request in added latency. Used by the protocol tests (`test/unit/lease-protocol`)
 * and by `npm run sim:admission`.
 */
import { Ledger, type SyncRequest, type SyncResult } from '../src/limits/ledger.ts';
import { Leases, type Authority, type Subject } from '../src/limits/leases.ts';
import { dayOf, monthOf, WINDOW_MS, type LimitSet } from '../src/limits/window.ts';
import { rng } from './rng.ts';

export interface Colo {
  name: string;
  /** Round trip to the colo the object lives in. */
  rttMs: number;
  /** Requests per second arriving in this colo (Poisson). */
  ratePerS: number;
  /** Isolates serving the colo; requests spread over them at random. */
  isolates?: number;
}

export interface WorldOptions {
  seed: number;
  limits: LimitSet;
  colos: Colo[];
  durationMs: number;
  leases: boolean;
  ttlMs?: number;
  /** Upstream time of a request, uniform in [min, max] ms. */
  requestMs?: [number, number];
  /** Reservation of a request; its real cost is drawn below it. */
  tokens?: [number, number];
  /** Isolates that die (at random times), losing their leases and never reporting. */
  deaths?: number;
  /** Restarts of the object (state reloaded from storage; calls arriving meanwhile fail). */
  restarts?: number;
  /** Wall-clock time the run starts at (epoch ms; default 0): near midnight UTC to cross a budget period. */
  start?: number;
  /** Worst-case cost of a request, nano-USD, uniform in [min, max] (budgets); its real cost is drawn below it. */
  cost?: [number, number];
  /** Chance that an attempt hangs and is abandoned (it may be billed); the next attempt reserves again through `extend`. */
  hang?: number;
}

export interface Admitted {
  at: number;
  end: number;
  /** What upstreams may have billed: each abandoned attempt at its reservation, plus the final attempt's usage. */
  tokens: number;
  /** Nano-USD, by the same rule. */
  cost: number;
}

export interface WorldResult {
  admitted: Admitted[];
  refused: number;
  failed: number;
  /** Requests stopped because another attempt after an abandoned one was refused. */
  stopped: number;
  /** Attempts abandoned, and those whose next attempt was reserved. */
  abandoned: number;
  /** Added admission latency per request, by colo. */
  latency: Map<string, number[]>;
  calls: { awaited: number; background: number; local: number };
  /** Calls that reached the authority, per second of simulated time (index: seconds since the start). */
  callsPerS: number[];
  requests: number;
}

class Loop {
  now: number;
  private queue: { at: number; seq: number; run: () => void }[] = [];
  private seq = 0;

  constructor(start: number) {
    this.now = start;
  }

  at(time: number, run: () => void): void {
    const item = { at: time, seq: this.seq++, run };
    let i = this.queue.length;
    while (i > 0 && (this.queue[i - 1]!.at > time || (this.queue[i - 1]!.at === time && this.queue[i - 1]!.seq > item.seq))) i--;
    this.queue.splice(i, 0, item);
  }

  sleep = (ms: number) => new Promise<void>((resolve) => this.at(this.now + ms, resolve));

  async run(until: number): Promise<void> {
    while (this.queue.length > 0 && this.queue[0]!.at <= until) {
      const next = this.queue.shift()!;
      this.now = next.at;
      next.run();
      await new Promise((resolve) => setImmediate(resolve)); // every microtask the event started settles first
    }
    this.now = until;
  }
}

/** Run one world; deterministic for its seed. */
export async function runWorld(o: WorldOptions): Promise<WorldResult> {
  const random = rng(o.seed);
  const start = o.start ?? 0;
  const loop = new Loop(start);
  const ttlMs = o.ttlMs ?? 10_000;
  const leaseMs = 60_000;
  const [reqMin, reqMax] = o.requestMs ?? [200, 3_000];
  const [tokMin, tokMax] = o.tokens ?? [100, 2_000];
  let ledger = new Ledger([]);
  let restartingUntil = -1;
  let ids = 0;
  /** When the authority decided each entry: an exact admission's time. */
  const decided = new Map<string, number>();

  const between = (a: number, b: number) => a + random() * (b - a);
  const oneWay = (c: Colo) => (c.rttMs / 2) * between(0.9, 1.2);
  const clone = <T>(x: T): T => structuredClone(x);

  function authorityFor(c: Colo): Authority {
    const call = <T>(work: () => T) =>
      new Promise<T>((resolve, reject) => {
        loop.at(loop.now + oneWay(c), () => {
          if (loop.now < restartingUntil) return reject(new Error('Durable Object reset'));
          const second = Math.floor((loop.now - start) / 1000);
          result.callsPerS[second] = (result.callsPerS[second] ?? 0) + 1;
          const out = clone(work());
          loop.at(loop.now + oneWay(c), () => resolve(out));
        });
      });
    return {
      sync: (req: SyncRequest) =>
        call((): SyncResult => {
          const r = ledger.sync(clone(req), loop.now, () => `e${ids++}`);
          if (r.decision?.ok) decided.set(r.decision.id, loop.now);
          return r;
        }),
      extend: (id, limits, tokens, cost) => call(() => ledger.extend(id, limits, tokens, cost, loop.now)),
    };
  }

  const result: WorldResult = { admitted: [], refused: 0, failed: 0, stopped: 0, abandoned: 0, latency: new Map(), calls: { awaited: 0, background: 0, local: 0 }, callsPerS: [], requests: 0 };
  const defer = (work: Promise<unknown>) => void work.catch(() => undefined);

  interface Isolate {
    leases: Leases;
    colo: Colo;
    subject: Subject;
  }
  const spawn = (colo: Colo): Isolate => ({
    leases: new Leases({ now: () => loop.now, sleep: loop.sleep }),
    colo,
    subject: { name: 'key:k', authority: authorityFor(colo), limits: o.limits, ttlMs, leaseMs, leases: o.leases },
  });
  const isolates = o.colos.map((colo) => Array.from({ length: colo.isolates ?? 1 }, () => spawn(colo)));
  const retired: Leases[] = [];

  async function request(iso: Isolate): Promise<void> {
    result.requests++;
    const arrived = loop.now;
    const reserved = Math.round(between(tokMin, tokMax));
    const worst = o.cost ? Math.round(between(o.cost[0], o.cost[1])) : 0;
    const leased = await iso.leases.admit(iso.subject, reserved, defer, worst).catch(() => null);
    const lat = result.latency.get(iso.colo.name) ?? [];
    lat.push(loop.now - arrived);
    result.latency.set(iso.colo.name, lat);
    if (!leased) return void result.failed++;
    if (!leased.ok) return void result.refused++;
    const at = leased.local ? loop.now : decided.get(leased.entry)!;
    // Attempts that hang are abandoned (the upstream may bill them); each next one must be reserved again.
    let abandoned = 0;
    while (o.hang && random() < o.hang && abandoned < 3) {
      await loop.sleep(between(reqMin, reqMax));
      abandoned++;
      result.abandoned++;
      const more = await leased.extend();
      if (!more.ok) {
        result.stopped++;
        result.admitted.push({ at, end: loop.now, tokens: abandoned * reserved, cost: abandoned * worst });
        return leased.settle({ unserved: true, abandoned });
      }
    }
    await loop.sleep(between(reqMin, reqMax));
    const used = Math.round(between(0.2, 1) * reserved);
    const real = Math.round(between(0.2, 1) * worst);
    result.admitted.push({ at, end: loop.now, tokens: abandoned * reserved + used, cost: abandoned * worst + real });
    leased.settle({ usage: { prompt_tokens: used, completion_tokens: 0 }, abandoned, ...(o.cost ? { costUsd: real / 1e9 } : {}) });
  }

  for (const [c, colo] of o.colos.entries()) {
    const arrive = (t: number) => {
      if (t >= o.durationMs) return;
      loop.at(start + t, () => {
        const pool = isolates[c]!;
        void request(pool[Math.floor(random() * pool.length)]!);
        arrive(t - Math.log(1 - random()) * (1000 / colo.ratePerS));
      });
    };
    arrive(-Math.log(1 - random()) * (1000 / colo.ratePerS));
  }
  for (let i = 0; i < (o.deaths ?? 0); i++) {
    loop.at(start + between(0, o.durationMs), () => {
      const pool = isolates[Math.floor(random() * isolates.length)]!;
      const k = Math.floor(random() * pool.length);
      retired.push(pool[k]!.leases);
      pool[k] = spawn(pool[k]!.colo); // the old one's leases and in-flight reports are lost with it
    });
  }
  for (let i = 0; i < (o.restarts ?? 0); i++) {
    loop.at(start + between(0, o.durationMs), () => {
      ledger = new Ledger(clone(ledger.log), new Map(ledger.spend)); // the object reloads what it wrote through
      restartingUntil = loop.now + 5;
    });
  }
  await loop.run(start + o.durationMs + 4 * reqMax + ttlMs + leaseMs);
  for (const l of [...isolates.flat().map((i) => i.leases), ...retired]) {
    result.calls.awaited += l.calls.awaited;
    result.calls.background += l.calls.background;
    result.calls.local += l.calls.local;
  }
  return result;
}

/**
 * The most any window held beyond each limit (≤ 0: never over). A request counts toward
 * `rpm` in every 60 s window holding its admission, toward `tpm` in every window its span
 * from admission to end overlaps, and toward `concurrency` while it runs.
 */
export function overAdmission(admitted: readonly Admitted[], limits: LimitSet) {
  const starts = admitted.map((a) => a.at).sort((a, b) => a - b);
  let requests = -Infinity;
  for (let i = 0, j = 0; i < starts.length; i++) {
    while (starts[j]! <= starts[i]! - WINDOW_MS) j++;
    requests = Math.max(requests, i - j + 1);
  }
  let tokens = -Infinity;
  for (const t of [...new Set([...starts, ...admitted.map((a) => a.end)])]) {
    const held = admitted.reduce((n, a) => (a.at <= t && a.end > t - WINDOW_MS ? n + a.tokens : n), 0);
    tokens = Math.max(tokens, held);
  }
  const edges = admitted.flatMap((a) => [{ t: a.at, d: 1 }, { t: a.end, d: -1 }]).sort((a, b) => a.t - b.t || a.d - b.d);
  let running = 0;
  let concurrency = 0;
  for (const e of edges) concurrency = Math.max(concurrency, (running += e.d));
  return {
    requests: requests - (o(limits.rpm)),
    tokens: tokens - o(limits.tpm),
    concurrency: concurrency - o(limits.concurrency),
  };
}

const o = (limit: number | undefined) => limit ?? Infinity;

/**
 * The most any UTC day and month spent beyond its budget (≤ 0: never over): each request's
 * cost (abandoned attempts at their worst case, the final one at its real cost) belongs
 * to the period it was admitted in.
 */
export function overSpend(admitted: readonly Admitted[], limits: LimitSet) {
  const sums = new Map<string, number>();
  for (const a of admitted) {
    for (const period of [`d:${dayOf(a.at)}`, `m:${monthOf(a.at)}`]) sums.set(period, (sums.get(period) ?? 0) + a.cost);
  }
  let day = -Infinity;
  let month = -Infinity;
  for (const [period, nano] of sums) {
    if (period.startsWith('d:')) day = Math.max(day, nano - o(limits.dayNano));
    else month = Math.max(month, nano - o(limits.monthNano));
  }
  return { day, month, periods: sums.size };
}
