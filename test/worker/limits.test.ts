/**
 * Exact per-key limits in the RateLimiter Durable Object, end to end, plus per-node quotas.
 * No sleeps for windows or alarms: storage is seeded and alarms run via cloudflare:test.
 */
import { env } from 'cloudflare:workers';
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import type { RateLimiter } from '../../src/limits/limiter-do';
import { admin, call, callWithConfig, CF, chatBody, eventually, newKey, nodeRequests, resetWorld, setNode, testConfig } from './helpers';

const COLOS = Object.values(CF);
beforeEach(resetWorld);

const limiter = (keyId: string) => env.RATE_LIMITER.getByName(`key:${keyId}`);

async function usage(id: string) {
  return (await admin(`/keys/${id}/usage`)).json<{
    limits: Record<string, number>;
    window: { requests: number; tokens: number };
    inFlight: number;
    totals: { requests: number; promptTokens: number; completionTokens: number; estimatedTokens: number };
  }>();
}


describe('requests per minute', () => {
  it('a burst of 20 concurrent requests from many colos against rpm 7 admits exactly 7', async () => {
    const { key } = await newKey({ limits: { rpm: 7 } });
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => call('/v1/chat/completions', { key, body: chatBody(), cf: COLOS[i % COLOS.length] })),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(7);
    expect(statuses.filter((s) => s === 429)).toHaveLength(13);
    const refused = responses.find((r) => r.status === 429)!;
    const body = await refused.json<{ error: { message: string; type: string; code: string } }>();
    expect(body.error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded' });
    expect(body.error.message).toContain('requests per minute (rpm)');
    expect(body.error.message).toContain('Limit 7, Used 7');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
    expect(Number(refused.headers.get('retry-after-ms'))).toBeGreaterThan(58_000);
    expect(refused.headers.get('x-ratelimit-limit-requests')).toBe('7');
    expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(refused.headers.get('x-ratelimit-reset-requests')).toMatch(/^(59|60)s$|^1m0s$/);
  });

  it('carries x-ratelimit headers on admitted responses, counting down', async () => {
    const { key } = await newKey({ limits: { rpm: 5, tpm: 100_000 } });
    const first = await call('/v1/chat/completions', { key, body: chatBody({ max_tokens: 10 }) });
    const second = await call('/v1/chat/completions', { key, body: chatBody({ max_tokens: 10 }) });
    expect(first.headers.get('x-ratelimit-limit-requests')).toBe('5');
    expect(first.headers.get('x-ratelimit-remaining-requests')).toBe('4');
    expect(second.headers.get('x-ratelimit-remaining-requests')).toBe('3');
    expect(first.headers.get('x-ratelimit-limit-tokens')).toBe('100000');
    expect(first.headers.get('x-ratelimit-reset-requests')).toBe('1m0s');
  });

  it('slides: requests 59.9 s old still count, 60.1 s old do not (no boundary burst)', async () => {
    const { key, id } = await newKey({ limits: { rpm: 3 } });
    const seed = (ageMs: number) =>
      runInDurableObject(limiter(id), async (_: RateLimiter, state: DurableObjectState) => {
        state.storage.sql.exec('DELETE FROM entries');
        for (let i = 0; i < 3; i++) {
          const at = Date.now() - ageMs;
          state.storage.sql.exec('INSERT INTO entries (id, at, tokens, reserved, end_at, expires) VALUES (?, ?, 1, 1, ?, ?)', `seed${i}`, at, at, at + 1);
        }
      });
    await seed(59_900);
    await evictDurableObject(limiter(id)); // reload the window from storage
    expect((await call('/v1/chat/completions', { key, body: chatBody() })).status).toBe(429);
    await seed(60_100);
    await evictDurableObject(limiter(id));
    expect((await call('/v1/chat/completions', { key, body: chatBody() })).status).toBe(200);
  });

  it('survives eviction of the object: the window is in SQLite', async () => {
    const { key, id } = await newKey({ limits: { rpm: 2 } });
    for (let i = 0; i < 2; i++) expect((await call('/v1/chat/completions', { key, body: chatBody() })).status).toBe(200);
    await evictDurableObject(limiter(id));
    expect((await call('/v1/chat/completions', { key, body: chatBody() })).status).toBe(429);
  });
});

describe('tokens per minute', () => {
  it('refuses when the reservation would pass the limit, naming tokens', async () => {
    const { key } = await newKey({ limits: { tpm: 500 } });
    const res = await call('/v1/chat/completions', { key, body: chatBody({ max_tokens: 1000 }) });
    expect(res.status).toBe(429);
    const { error } = await res.json<{ error: { type: string; message: string } }>();
    expect(error.type).toBe('tokens');
    expect(error.message).toContain('tokens per minute (tpm)');
  });

  for (const stream of [false, true]) {
    it(`settles the reservation to the real usage (${stream ? 'stream' : 'JSON'})`, async () => {
      const { key, id } = await newKey({ limits: { tpm: 100_000 } });
      const res = await call('/v1/chat/completions', { key, body: chatBody({ stream, max_tokens: 2000 }) });
      expect(res.status).toBe(200);
      const text = await res.text();
      if (stream) expect(text).not.toContain('"usage"'); // read by the router, not shown
      const after = await eventually(() => usage(id), (u) => u.window.tokens < 2000);
      // The fleet reports prompt_tokens ≈ len(messages JSON)/4 and 3 completion tokens.
      expect(after.window.tokens).toBe(after.totals.promptTokens + 3);
      expect(after.totals.completionTokens).toBe(3);
      expect(after.inFlight).toBe(0);
    });
  }

  it('settles at the estimate when usage never arrives (stream cut mid-way)', async () => {
    const { key, id } = await newKey({ limits: { tpm: 100_000 } });
    await setNode('n-us', { cutAfterChunks: 1, chunks: 3, chunkDelayMs: 50 });
    await (await call('/v1/chat/completions', { key, body: chatBody({ stream: true, max_tokens: 2000 }) })).text();
    const after = await eventually(() => usage(id), (u) => u.inFlight === 0);
    expect(after.window.tokens).toBeGreaterThan(2000);
    expect(after.totals.completionTokens).toBe(0);
    expect(after.totals.estimatedTokens).toBe(after.window.tokens);
  });

  it('a retry after a hung attempt of an exactly admitted request (leases off) asks the object: past tpm it stops with the tokens 429 and no other node generates', async () => {
    const config = testConfig();
    config.limits.leases = { enabled: false };
    const { key, id } = await newKey({ limits: { tpm: 1_000 } });
    await setNode('n-us', { hang: true });
    // ~610 tokens reserved; the hung attempt may be billed them, and a second would pass 1,000.
    const res = await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody({ max_tokens: 600 }), cf: CF.iad });
    expect(res.status).toBe(429);
    const { error } = await res.json<{ error: { type: string; code: string; message: string } }>();
    expect(error).toMatchObject({ type: 'tokens', code: 'rate_limit_exceeded' });
    expect(error.message).toContain('reserving another attempt');
    expect(await nodeRequests('n-eu')).toHaveLength(0);
    expect(await nodeRequests('n-ap')).toHaveLength(0);
    // What was spent is settled: the abandoned attempt at its reservation, nothing more.
    const after = await eventually(() => usage(id), (u) => u.inFlight === 0);
    expect(after.window.tokens).toBeGreaterThan(600);
    expect(after.window.tokens).toBeLessThanOrEqual(1_000);
  });

  it('frees the reservation of a request no upstream served', async () => {
    const { key, id } = await newKey({ limits: { tpm: 100_000 } });
    for (const n of ['n-us', 'n-eu', 'n-ap']) await setNode(n, { status: 500 });
    expect((await call('/v1/chat/completions', { key, body: chatBody({ max_tokens: 2000 }) })).status).toBe(502);
    const after = await eventually(() => usage(id), (u) => u.window.tokens === 0);
    expect(after.window).toMatchObject({ requests: 1, tokens: 0 });
  });
});

describe('concurrency', () => {
  it('holds a slot for the whole stream and frees it at the end', async () => {
    const { key, id } = await newKey({ limits: { concurrency: 2 } });
    await setNode('n-us', { chunks: 3, chunkDelayMs: 300 });
    const open = await Promise.all([0, 1].map(() => call('/v1/chat/completions', { key, body: chatBody({ stream: true }) })));
    const third = await call('/v1/chat/completions', { key, body: chatBody() });
    expect(third.status).toBe(429);
    expect((await third.json<{ error: { message: string } }>()).error.message).toContain('concurrent requests');
    expect(third.headers.get('x-ratelimit-remaining-concurrency')).toBe('0');
    await Promise.all(open.map((r) => r.text()));
    await eventually(() => usage(id), (u) => u.inFlight === 0);
    expect((await call('/v1/chat/completions', { key, body: chatBody() })).status).toBe(200);
  });

  it('frees the slot when the client disconnects mid-stream', async () => {
    const { key, id } = await newKey({ limits: { concurrency: 1 } });
    await setNode('n-us', { chunks: 20, chunkDelayMs: 200 });
    const res = await call('/v1/chat/completions', { key, body: chatBody({ stream: true }) });
    const reader = res.body!.getReader();
    await reader.read();
    expect((await usage(id)).inFlight).toBe(1);
    await reader.cancel();
    const after = await eventually(() => usage(id), (u) => u.inFlight === 0);
    expect(after.inFlight).toBe(0);
  });

  it('reclaims a slot whose holder died, by the alarm', async () => {
    const { key, id } = await newKey({ limits: { concurrency: 1 } });
    const stub = limiter(id);
    const held = (await stub.sync({ limits: { concurrency: 1 }, leaseMs: 60_000, ttlMs: 10_000, request: { tokens: 1 }, reports: [] })).decision!;
    expect(held.ok).toBe(true);
    expect((await call('/v1/chat/completions', { key, body: chatBody() })).status).toBe(429);
    // The holder never settles; make its lease overdue (memory and storage), then let the alarm run.
    await runInDurableObject(stub, async (instance: RateLimiter, state: DurableObjectState) => {
      const entry = (instance as unknown as { ledger: { log: { id: string; expires: number }[] } }).ledger.log.find((e) => e.id === held.id)!;
      entry.expires = Date.now() - 1;
      state.storage.sql.exec('UPDATE entries SET expires = ? WHERE id = ?', entry.expires, held.id);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await stub.usage()).inFlight).toBe(0);
    expect((await call('/v1/chat/completions', { key, body: chatBody() })).status).toBe(200);
  });
});

describe('upstream quotas per node', () => {
  it('skips a node at its quota (failover, not an error) while others can serve', async () => {
    const config = testConfig();
    config.nodes[0].limits = { rpm: 2 }; // n-us
    const { key } = await newKey();
    const send = () => callWithConfig(config, '/v1/chat/completions', { key, body: chatBody(), cf: CF.iad });
    const nodes = [];
    for (let i = 0; i < 4; i++) {
      const res = await send();
      expect(res.status).toBe(200);
      nodes.push(res.headers.get('x-router-node'));
    }
    expect(nodes).toEqual(['n-us', 'n-us', 'n-eu', 'n-eu']);
  });
});

describe('GET /admin/keys/:id/usage', () => {
  it('reports window counts, in-flight and totals', async () => {
    const { key, id } = await newKey({ limits: { rpm: 100 } });
    await call('/v1/chat/completions', { key, body: chatBody() });
    await call('/v1/embeddings', { key, body: { model: 'text-embedding-3-small', input: 'hello' } });
    const report = await eventually(() => usage(id), (u) => u.totals.promptTokens > 0 && u.inFlight === 0);
    expect(report.limits).toEqual({ rpm: 100 });
    expect(report.window.requests).toBe(2);
    expect(report.totals.requests).toBe(2);
    expect(report.totals.completionTokens).toBe(3);
  });

  it('counts totals for a key without limits too', async () => {
    const { key, id } = await newKey();
    await call('/v1/chat/completions', { key, body: chatBody() });
    const report = await eventually(() => usage(id), (u) => u.totals.requests === 1);
    expect(report.totals.requests).toBe(1);
  });

  it('404 for an unknown key id', async () => {
    expect((await admin('/keys/key_nope/usage')).status).toBe(404);
  });
});
