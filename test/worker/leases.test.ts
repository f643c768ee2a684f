/**
 * Leased admission in workerd: the Worker admitting from its leases, several isolates'
 * clients of one real RateLimiter object interleaved, the object evicted mid-lease, and
 * the limits acceptance (bursts of 200 against rpm 50, ten times) still exact.
 */
import { env } from 'cloudflare:workers';
import { evictDurableObject } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import { MIN_GRANT } from '../../src/limits/ledger';
import { isolateLeases, Leases, type Authority, type Subject } from '../../src/limits/leases';
import { admin, call, callWithConfig, CF, chatBody, eventually, newKey, resetWorld, testConfig } from './helpers';

beforeEach(resetWorld);

const embed = { model: 'text-embedding-3-small', input: 'hello' };
const limiter = (name: string) => env.RATE_LIMITER.getByName(name);

async function usage(id: string) {
  return (await admin(`/keys/${id}/usage`)).json<{ window: { requests: number; tokens: number }; inFlight: number; totals: { requests: number } }>();
}

/** Another isolate: its own Leases, the same object. */
function isolate(name: string, rpm: number): { leases: Leases; subject: Subject } {
  const stub = limiter(name);
  const authority: Authority = { sync: (r) => stub.sync(r), extend: (id, l, t, c) => stub.extend(id, l, t, c) };
  const leases = new Leases({ now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) });
  return { leases, subject: { name, authority, limits: { rpm }, ttlMs: 10_000, leaseMs: 60_000, leases: true } };
}
/** Background work runs on; `flush` waits for any sync under way before it reports. */
const defer = (p: Promise<unknown>) => void p.catch(() => undefined);

describe('the Worker admits from its lease', () => {
  it('asks the key\'s object for almost none of a steady run, and its headers count the key down exactly', async () => {
    const { key, id } = await newKey({ limits: { rpm: 10_000 } });
    const remaining: number[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await call('/v1/embeddings', { key, body: embed });
      expect(res.status).toBe(200);
      remaining.push(Number(res.headers.get('x-ratelimit-remaining-requests')));
      await res.arrayBuffer();
    }
    expect(isolateLeases.calls.local).toBeGreaterThanOrEqual(30);
    expect(isolateLeases.calls.awaited).toBeLessThanOrEqual(MIN_AWAITED);
    const metrics = await (await admin('/metrics')).text();
    expect(metrics).toContain(`llm_router_leased_admissions_total ${isolateLeases.calls.local}\n`);
    expect(metrics).toContain(`llm_router_limiter_calls_total{wait="awaited"} ${isolateLeases.calls.awaited}\n`);
    expect((await call('/admin/metrics')).status).toBe(401);
    // Exact admissions and leased ones alike tell the key's remainder: one isolate alone on the key knows it exactly.
    expect(remaining).toEqual(remaining.map((_, i) => 10_000 - (i + 1)));
    // The usage endpoint first has this isolate report, so its counts are exact.
    const report = await eventually(() => usage(id), (u) => u.inFlight === 0);
    expect(report.window.requests).toBe(40);
    expect(report.totals.requests).toBe(40);
  });

  it('keeps a key near its limit exact per request: headers count down one by one', async () => {
    const { key } = await newKey({ limits: { rpm: 6 } });
    const seen = [];
    for (let i = 0; i < 7; i++) {
      const res = await call('/v1/embeddings', { key, body: embed });
      seen.push(res.status === 200 ? res.headers.get('x-ratelimit-remaining-requests') : res.status);
    }
    expect(seen).toEqual(['5', '4', '3', '2', '1', '0', 429]);
  });

  it('leases a node quota the same way: exactly its rpm reaches it, the rest fails over', async () => {
    const config = testConfig();
    config.nodes[0].limits = { rpm: 24 }; // n-us
    const { key } = await newKey();
    const nodes: string[] = [];
    for (let i = 0; i < 30; i++) {
      const res = await callWithConfig(config, '/v1/embeddings', { key, body: embed, cf: CF.iad });
      expect(res.status).toBe(200);
      nodes.push(res.headers.get('x-router-node')!);
    }
    expect(nodes.filter((n) => n === 'n-us')).toHaveLength(24);
    expect(isolateLeases.calls.local).toBeGreaterThan(0); // some came from a lease
  });
});

const MIN_AWAITED = MIN_GRANT; // the first requests, before demand is known, ask one at a time

describe('honest x-ratelimit headers', () => {
  it('a fresh key with rpm 600 and concurrency 20 shows the key\'s remainder after leased admissions, not the lease\'s', async () => {
    const { key } = await newKey({ limits: { rpm: 600, concurrency: 20 } });
    const seen: { requests: number; concurrency: number }[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await call('/v1/embeddings', { key, body: embed });
      expect(res.status).toBe(200);
      seen.push({ requests: Number(res.headers.get('x-ratelimit-remaining-requests')), concurrency: Number(res.headers.get('x-ratelimit-remaining-concurrency')) });
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 20)); // its settlement (waitUntil) lands before the next request
    }
    expect(isolateLeases.calls.local).toBeGreaterThan(0); // some of them came from a lease
    expect(seen.map((s) => s.requests)).toEqual(seen.map((_, i) => 600 - (i + 1)));
    // Only the request itself is in flight: 19 of 20 slots remain, whatever the lease holds.
    for (const s of seen.slice(MIN_GRANT)) expect(s.concurrency).toBe(19);
  });
});

describe('reports are never stranded', () => {
  it('a request that ends while another sync is under way is reported right after it, even when that admission is refused', async () => {
    const name = `key:stranded-${crypto.randomUUID()}`;
    const stub = limiter(name);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let gated = false;
    // The link to the object holds one sync back until the test lets it go: the interleaving, made certain.
    const authority: Authority = {
      sync: async (r) => {
        if (gated) await gate;
        return stub.sync(r);
      },
      extend: (i, l, t, c) => stub.extend(i, l, t, c),
    };
    const leases = new Leases({ now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) });
    const subject: Subject = { name, authority, limits: { concurrency: 1 }, ttlMs: 10_000, leaseMs: 60_000, leases: true };
    const a = await leases.admit(subject, 10, defer);
    expect(a.ok).toBe(true);
    gated = true;
    const b = leases.admit(subject, 10, defer); // its sync waits on the link, carrying no report
    await new Promise((r) => setTimeout(r, 10));
    if (a.ok) a.settle({ usage: { prompt_tokens: 4, completion_tokens: 1 } }); // ends meanwhile
    gated = false;
    open();
    expect((await b).ok).toBe(false); // the object still held the slot of the first when the second arrived
    const after = await eventually(() => stub.usage(), (u) => u.inFlight === 0);
    expect(after.inFlight).toBe(0);
    expect(after.totals.requests).toBe(1);
  });
});

describe('several isolates, one object', () => {
  it('interleaved clients never admit more than the limit between them, and report back exactly', async () => {
    const name = `key:interleaved-${crypto.randomUUID()}`;
    const isolates = [isolate(name, 60), isolate(name, 60), isolate(name, 60)];
    let admitted = 0;
    const settles: (() => void)[] = [];
    for (let round = 0; round < 40; round++) {
      // Each round, every isolate takes a request at once; their round trips interleave at the object.
      const results = await Promise.all(isolates.map(({ leases, subject }) => leases.admit(subject, 10, defer)));
      for (const r of results) {
        if (!r.ok) continue;
        admitted++;
        settles.push(() => r.settle({ usage: { prompt_tokens: 4, completion_tokens: 1 } }));
      }
    }
    expect(admitted).toBeLessThanOrEqual(60);
    expect(admitted).toBeGreaterThanOrEqual(54); // what leases strand is returned as they close
    for (const s of settles) s();
    for (const { leases, subject } of isolates) await leases.flush(subject);
    const report = await limiter(name).usage();
    expect(report.window.requests).toBe(admitted);
    expect(report.totals.requests).toBe(admitted);
    expect(report.window.tokens).toBe(5 * admitted);
    expect(report.inFlight).toBe(0);
  });

  it('survives eviction of the object mid-lease: the lease and its report still count exactly', async () => {
    const name = `key:evicted-${crypto.randomUUID()}`;
    const { leases, subject } = isolate(name, 1_000);
    const held = [];
    for (let i = 0; i < 12; i++) held.push(await leases.admit(subject, 10, defer));
    expect(leases.calls.local).toBeGreaterThan(0);
    await evictDurableObject(limiter(name));
    // The object restarts from SQLite: the open lease counts all it was granted until it reports.
    const during = await limiter(name).usage();
    expect(during.window.requests).toBeGreaterThanOrEqual(12);
    for (const h of held) if (h.ok) h.settle({ usage: { prompt_tokens: 1, completion_tokens: 1 } });
    await leases.flush(subject);
    const after = await limiter(name).usage();
    expect(after.window).toMatchObject({ requests: 12, tokens: 24 });
    expect(after.inFlight).toBe(0);
  });
});

describe('the limits acceptance, with leases on', () => {
  it('admits exactly 50 of each burst of 200 against rpm 50, ten times', async () => {
    for (let burst = 0; burst < 10; burst++) {
      const { key } = await newKey({ limits: { rpm: 50 } });
      const statuses = await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const res = await call('/v1/embeddings', { key, body: embed, cf: Object.values(CF)[i % 3] });
          await res.arrayBuffer();
          return res.status;
        }),
      );
      expect({ burst, admitted: statuses.filter((s) => s === 200).length, refused: statuses.filter((s) => s === 429).length }).toEqual({
        burst,
        admitted: 50,
        refused: 150,
      });
    }
  });

  it('serves a streamed chat from a lease and frees its slot at the end', async () => {
    const { key, id } = await newKey({ limits: { rpm: 1_000, concurrency: 50 } });
    for (let i = 0; i < 12; i++) expect((await call('/v1/embeddings', { key, body: embed })).status).toBe(200);
    const res = await call('/v1/chat/completions', { key, body: chatBody({ stream: true }) });
    expect(res.status).toBe(200);
    await res.text();
    const report = await eventually(() => usage(id), (u) => u.inFlight === 0);
    expect(report.window.requests).toBe(13);
  });
});
