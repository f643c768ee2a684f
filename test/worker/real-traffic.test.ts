/**
 * Real traffic shapes the first suite never sent: long JSON generations, callers without a
 * completion cap, images, CJK, tools, key restrictions across fallbacks, hostile bodies,
 * failing KV, redirecting nodes and oversized answers. One contract per test (README
 * "Real-traffic contracts"); each failed on the router before these contracts existed.
 */
import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import type { RateLimiter } from '../../src/limits/limiter-do';
import { admin, call, callWithConfig, CF, chatBody, eventually, newKey, nodeRequests, resetWorld, setNode, testConfig, wipeObjects } from './helpers';

beforeEach(resetWorld);

/** Wipe the monitor and the named colos' stats (storage and alarms), as a fresh deployment has them. */
async function forgetRouting(colos: string[]): Promise<void> {
  await wipeObjects([env.HEALTH_MONITOR.getByName('global'), ...colos.map((c) => env.COLO_STATS.getByName(c))]);
}

interface UsageReport {
  window: { requests: number; tokens: number };
  inFlight: number;
  totals: { promptTokens: number; completionTokens: number; estimatedTokens: number };
}
const usage = async (id: string) => (await admin(`/keys/${id}/usage`)).json<UsageReport>();
const posts = async (id: string) => (await nodeRequests(id)).filter((r) => r.body !== null);
/**
 * Tokens reserved at admission, read off the rate-limit headers — of an exact admission:
 * under a lease the headers tell what the lease has left, not the key (`exact()`).
 */
const exact = () => {
  const config = testConfig();
  config.limits.leases = { enabled: false };
  return config;
};
const reserved = (res: Response) => Number(res.headers.get('x-ratelimit-limit-tokens')) - Number(res.headers.get('x-ratelimit-remaining-tokens'));

/** A `size`-byte PNG (valid header, then filler) as a data URL, built without Node's Buffer. */
function pngDataUrl(width: number, height: number, size: number): string {
  const b = new Uint8Array(size);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  new DataView(b.buffer).setUint32(16, width);
  new DataView(b.buffer).setUint32(20, height);
  let bin = '';
  for (let i = 0; i < b.length; i += 8192) bin += String.fromCharCode(...b.subarray(i, i + 8192));
  return `data:image/png;base64,${btoa(bin)}`;
}

describe('1. timeouts by what can be observed', () => {
  it('awaits a JSON answer slower than firstByteMs once, never re-sending it', async () => {
    const config = testConfig();
    config.timeouts = { firstByteMs: 200, responseMs: 4000, idleMs: 600, totalMs: 5000 };
    const { key } = await newKey();
    await setNode('n-us', { latencyMs: 1200 });
    const res = await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody() });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('n-us');
    expect(res.headers.get('x-router-attempts')).toBe('1');
    expect(await posts('n-us')).toHaveLength(1);
    expect(await posts('n-eu')).toHaveLength(0);
  });

  it('abandons a hung JSON node after responseMs, fails over, and charges the abandoned attempt its reservation', async () => {
    const { key, id } = await newKey({ limits: { tpm: 100_000 } });
    await setNode('n-us', { hang: true });
    const started = Date.now();
    const res = await callWithConfig(exact(), '/v1/chat/completions', { key, body: chatBody({ max_tokens: 500 }) });
    const answer = await res.json<{ usage: { total_tokens: number } }>();
    expect(Date.now() - started).toBeGreaterThanOrEqual(950); // responseMs 1000 in the test config
    expect(res.headers.get('x-router-node')).toBe('n-eu');
    expect(res.headers.get('x-router-attempts')).toBe('2');
    const reservation = reserved(res);
    const after = await eventually(() => usage(id), (u) => u.inFlight === 0);
    expect(after.window.tokens).toBe(reservation + answer.usage.total_tokens);
  });
});

describe('2. TPM is exact on real usage', () => {
  it('caps uncapped callers at the reservation: upstream tokens in the minute stay within tpm', async () => {
    const { key } = await newKey({ limits: { tpm: 5_000 } });
    for (const n of ['n-us', 'n-eu', 'n-ap']) await setNode(n, { completionTokens: 4_000 }); // writes 4,000 unless capped
    const responses = await Promise.all(Array.from({ length: 8 }, () => call('/v1/chat/completions', { key, body: chatBody() })));
    const served = responses.filter((r) => r.status === 200);
    expect(served.length).toBeGreaterThan(0);
    const produced = (await Promise.all(served.map((r) => r.json<{ usage: { total_tokens: number } }>()))).reduce((s, a) => s + a.usage.total_tokens, 0);
    expect(produced).toBeLessThanOrEqual(5_000);
    for (const r of await posts('n-us')) expect(r.body.max_tokens).toBe(1024);
  });

  it('sends an o-series model its cap as max_completion_tokens, renaming a caller\'s max_tokens', async () => {
    const config = testConfig();
    config.nodes[1].models.push('o4-mini'); // n-eu; the fleet refuses max_tokens for o-series like OpenAI
    config.models['o4-mini'] = { defaultMaxTokens: 4096 };
    const { key } = await newKey();
    const uncapped = await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody({ model: 'o4-mini' }) });
    expect(uncapped.status).toBe(200);
    const capped = await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody({ model: 'o4-mini', max_tokens: 300 }) });
    expect(capped.status).toBe(200);
    const [first, second] = await posts('n-eu');
    expect(first!.body).toMatchObject({ max_completion_tokens: 4096 });
    expect(second!.body).toMatchObject({ max_completion_tokens: 300 });
    expect('max_tokens' in second!.body).toBe(false);
  });

  it('lands a long request\'s real usage in the window even when it was admitted more than 60 s ago', async () => {
    const { id } = await newKey({ limits: { tpm: 10_000 } });
    const stub = env.RATE_LIMITER.getByName(`key:${id}`);
    const admitted = (await stub.sync({ limits: { tpm: 10_000 }, leaseMs: 600_000, ttlMs: 10_000, request: { tokens: 500 }, reports: [] })).decision!;
    await runInDurableObject(stub, async (instance: RateLimiter, state: DurableObjectState) => {
      const entry = (instance as unknown as { ledger: { log: { id: string; at: number; last: number }[] } }).ledger.log.find((e) => e.id === admitted.id)!;
      entry.at = entry.last = Date.now() - 90_000; // a 90-second generation
      state.storage.sql.exec('UPDATE entries SET at = ?, last_at = ? WHERE id = ?', entry.at, entry.last, admitted.id);
    });
    // Its isolate reports it ended, having used 3,000 tokens.
    const totals = { requests: 1, promptTokens: 1_000, completionTokens: 2_000, estimatedTokens: 0 };
    await stub.sync({ limits: {}, leaseMs: 0, ttlMs: 0, reports: [{ id: admitted.id, requests: 1, lastAgoMs: 90_000, tokens: 3_000, inFlight: 0, totals }] });
    const report = await stub.usage();
    expect(report.window.tokens).toBe(3_000);
    expect(report.window.requests).toBe(0); // its request slid out; its tokens did not
  });
});

describe('3. token estimates', () => {
  const bigBodies = () => {
    const config = exact();
    config.limits.maxBodyBytes = 1_048_576;
    return config;
  };

  it('admits a request with a 400 KB image, reserving the model\'s tile rule instead of its bytes', async () => {
    const { key } = await newKey({ limits: { tpm: 100_000 } });
    const content = [{ type: 'text', text: 'What is in this picture?' }, { type: 'image_url', image_url: { url: pngDataUrl(1024, 1024, 400_000) } }];
    const res = await callWithConfig(bigBodies(), '/v1/chat/completions', { key, body: chatBody({ messages: [{ role: 'user', content }], max_tokens: 100 }) });
    expect(res.status).toBe(200);
    // gpt-4o-mini bills a 1024×1024 image's 4 tiles at 2,833 + 4 × 5,667 (gpt-4o: 765).
    expect(reserved(res)).toBeGreaterThanOrEqual(25_501 + 100);
    expect(reserved(res)).toBeLessThan(25_501 + 100 + 50);
  });

  it('does not undercount CJK text', async () => {
    const { key } = await newKey({ limits: { tpm: 100_000 } });
    const res = await callWithConfig(exact(), '/v1/chat/completions', { key, body: chatBody({ messages: [{ role: 'user', content: '東京'.repeat(1000) }], max_tokens: 10 }) });
    expect(reserved(res)).toBeGreaterThanOrEqual(2_000 + 10);
  });

  it('counts tool schemas', async () => {
    const { key } = await newKey({ limits: { tpm: 100_000 } });
    const tool = { type: 'function', function: { name: 'lookup', description: 'd'.repeat(2_000), parameters: { type: 'object', properties: {} } } };
    const plain = await callWithConfig(exact(), '/v1/chat/completions', { key, body: chatBody({ max_tokens: 10 }) });
    const withTools = await callWithConfig(exact(), '/v1/chat/completions', { key, body: chatBody({ max_tokens: 10, tools: [tool] }) });
    expect(withTools.status).toBe(200);
    expect(reserved(withTools) - reserved(plain)).toBeGreaterThanOrEqual(500);
  });

  it('refuses a request larger than the key\'s whole tpm at once, as OpenAI does, never "try again in 1m0s"', async () => {
    const { key } = await newKey({ limits: { tpm: 1_000 } });
    const res = await call('/v1/chat/completions', { key, body: chatBody({ max_tokens: 2_000 }) });
    expect(res.status).toBe(429);
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(res.headers.get('retry-after')).toBeNull();
    const { error } = await res.json<{ error: { message: string; code: string; type: string } }>();
    expect(error).toMatchObject({ code: 'rate_limit_exceeded', type: 'tokens' });
    expect(error.message).toMatch(/^Request too large for gpt-4o-mini on key 'test' on tokens per minute \(tpm\): Limit 1000, Requested 20\d\d\./);
    expect(error.message).not.toContain('try again');
  });
});

describe('4. key model restrictions bind every attempt', () => {
  it('never serves a fallback model the key may not use', async () => {
    const { key } = await newKey({ models: ['solo-model'] }); // solo-model falls back to gpt-4o-mini
    await setNode('n-solo', { status: 503 });
    const res = await call('/v1/chat/completions', { key, body: chatBody({ model: 'solo-model' }) });
    expect(res.status).toBe(502);
    const { error } = await res.json<{ error: { message: string } }>();
    expect(error.message).toContain('any node (gpt-4o-mini): fallback model not allowed for this key');
    for (const n of ['n-us', 'n-eu', 'n-ap']) expect(await posts(n)).toHaveLength(0);
  });

  it('lets an alias stand for its model both ways, and nothing else', async () => {
    const { key } = await newKey({ models: ['mini'] });
    expect((await call('/v1/chat/completions', { key, body: chatBody({ model: 'gpt-4o-mini' }) })).status).toBe(200);
    expect((await call('/v1/chat/completions', { key, body: chatBody({ model: 'solo-model' }) })).status).toBe(403);
  });
});

describe('5. one meaning per body', () => {
  it('refuses a body that names the model twice, and sends nothing upstream', async () => {
    const { key } = await newKey({ models: ['gpt-4o-mini'] });
    const body = '{"model":"solo-model","model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}';
    const res = await call('/v1/chat/completions', { key, body });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'duplicate_key', param: 'model' } });
    expect(await posts('n-us')).toHaveLength(0);
    expect(await posts('n-solo')).toHaveLength(0);
  });

  it('refuses duplicates inside messages too, naming where', async () => {
    const { key } = await newKey();
    const res = await call('/v1/chat/completions', { key, body: '{"model":"mini","messages":[{"role":"user","content":"a","content":"b"}]}' });
    expect(await res.json()).toMatchObject({ error: { code: 'duplicate_key', param: 'messages[0].content' } });
  });

  it('keeps a seed above 2^53 exact when the body is rewritten (alias, usage request, cap)', async () => {
    const { key } = await newKey();
    const body = '{"model":"mini","seed":9223372036854775807,"stream":true,"messages":[{"role":"user","content":"Hi"}]}';
    const res = await call('/v1/chat/completions', { key, body });
    expect(res.status).toBe(200);
    await res.text();
    const [seen] = await posts('n-us');
    expect(seen!.raw).toContain('"seed":9223372036854775807');
    expect(seen!.body).toMatchObject({ model: 'gpt-4o-mini', stream_options: { include_usage: true }, max_tokens: 1024 });
  });
});

describe('6. no leaked slot, no stalled monitor', () => {
  it('holds the concurrency lease past the longest deadline in the model\'s chain', async () => {
    const config = testConfig();
    config.models['gpt-4o-mini'].timeouts = { totalMs: 900_000 }; // the fallback of solo-model
    const { key, id } = await newKey({ limits: { concurrency: 5 } });
    const started = Date.now();
    expect((await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody({ model: 'solo-model' }) })).status).toBe(200);
    const expires = await runInDurableObject(env.RATE_LIMITER.getByName(`key:${id}`), async (_: RateLimiter, state: DurableObjectState) =>
      state.storage.sql.exec<{ expires: number }>('SELECT expires FROM entries').one().expires,
    );
    expect(expires - started).toBeGreaterThanOrEqual(900_000);
  });

  it('settles the admission when the routing table cannot be read (corrupt KV value): the request is served on the geo prior', async () => {
    const { key, id } = await newKey({ limits: { concurrency: 1, tpm: 100_000 } });
    await env.ROUTER_KV.put('route:IAD', '{corrupt');
    try {
      const res = await call('/v1/chat/completions', { key, body: chatBody(), cf: CF.iad });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-router-node')).toBe('n-us');
      const after = await eventually(() => usage(id), (u) => u.inFlight === 0);
      expect(after.inFlight).toBe(0);
      expect((await call('/v1/chat/completions', { key, body: chatBody(), cf: CF.iad })).status).toBe(200);
    } finally {
      await env.ROUTER_KV.delete('route:IAD');
    }
  });

  it('publishes every other table and re-arms its alarm when one colo\'s write fails', async () => {
    const monitor = env.HEALTH_MONITOR.getByName('global');
    const badColo = 'X'.repeat(600); // `route:<600 chars>` is past KV's 512-byte key limit: the write fails
    for (const colo of ['IAD', badColo]) {
      await env.COLO_STATS.getByName(colo).record([{ colo, node: 'n-us', ttfbMs: 40, ok: true, at: Date.now() }]);
    }
    await runInDurableObject(monitor, async (_: unknown, state: DurableObjectState) => {
      await state.storage.delete('lastPublishAt');
      await state.storage.setAlarm(Date.now() + 60_000);
    });
    const before = Date.now();
    try {
      expect(await runDurableObjectAlarm(monitor)).toBe(true);
      const table = await env.ROUTER_KV.get<{ generatedAt: number }>('route:IAD', 'json');
      expect(table!.generatedAt).toBeGreaterThanOrEqual(before);
      expect((await env.ROUTER_KV.get<{ generatedAt: number }>('route:_default', 'json'))!.generatedAt).toBeGreaterThanOrEqual(before);
      const alarm = await runInDurableObject(monitor, (_: unknown, state: DurableObjectState) => state.storage.getAlarm());
      expect(alarm).toBeGreaterThan(before);
    } finally {
      await forgetRouting(['IAD', badColo]);
      await env.ROUTER_KV.delete('route:IAD');
    }
  });
});

describe('7. caller-facing errors', () => {
  it('name nodes, models and outcomes, never upstream text; the text reaches the admin status view', async () => {
    const secret = 'Project proj_Zx81 in organization org-ACME-internal exceeded its deployment quota';
    for (const n of ['n-us', 'n-eu', 'n-ap']) await setNode(n, { status: 500, errorMessage: secret });
    const { key } = await newKey();
    const cf = { ...CF.iad, colo: 'ORD' };
    const res = await call('/v1/chat/completions', { key, body: chatBody(), cf });
    expect(res.status).toBe(502);
    const { error } = await res.json<{ error: { message: string } }>();
    expect(error.message).toContain('n-us (gpt-4o-mini): HTTP 500');
    expect(error.message).not.toContain('org-ACME');
    expect(error.message).not.toContain('proj_');
    // Failed samples carry the text to the colo's stats; the monitor's publish gathers it for
    // admins. A request every node failed leaves none (it may be the cause: README "Retry,
    // failover and fallback"); one that n-us fails and n-eu serves does.
    for (const n of ['n-eu', 'n-ap']) await setNode(n, { status: 0 });
    const served = await call('/v1/chat/completions', { key, body: chatBody(), cf });
    expect(served.headers.get('x-router-node')).toBe('n-eu');
    expect(await served.text()).not.toContain('org-ACME');
    const { flushSamples } = await import('../../src/routing/samples');
    await flushSamples(env, Date.now(), true);
    const monitor = env.HEALTH_MONITOR.getByName('global');
    try {
      await monitor.tick();
      const status = await (await admin('/status')).json<{ nodes: { id: string; lastLiveError: { message: string; colo: string } | null }[] }>();
      expect(status.nodes.find((n) => n.id === 'n-us')!.lastLiveError).toMatchObject({ message: secret, colo: 'ORD' });
    } finally {
      // The tables the tick published rank n-eu over the n-us that failed: not for later tests.
      await forgetRouting(['ORD']);
      for (const colo of ['ORD', '_default']) await env.ROUTER_KV.delete(`route:${colo}`);
    }
  });

  it('still returns an upstream 4xx about the caller\'s request unchanged', async () => {
    const config = testConfig();
    config.nodes[1].models.push('o4-mini');
    const { key } = await newKey();
    // Both caps at once: the router sends the larger as max_completion_tokens and leaves max_tokens,
    // which the model refuses — the caller's own mistake, returned as the upstream said it.
    const res = await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody({ model: 'o4-mini', max_tokens: 10, max_completion_tokens: 20 }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { param: 'max_tokens', code: 'unsupported_parameter' } });
  });
});

describe('8. hardening', () => {
  it('does not follow an upstream redirect: the redirecting node is a fault and the request fails over', async () => {
    const target = (await (await fetch(`${(env as unknown as { FLEET_CONTROL_URL: string }).FLEET_CONTROL_URL}/nodes`)).json<{ id: string; url: string }[]>()).find(
      (n) => n.id === 'n-ap',
    )!;
    await setNode('n-us', { redirectTo: `${target.url}/chat/completions` });
    const { key } = await newKey();
    const res = await call('/v1/chat/completions', { key, body: chatBody(), cf: CF.iad });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('n-eu');
    expect(await nodeRequests('n-ap')).toHaveLength(0);
  });

  it('does not follow a redirect from a probe either: the node\'s credential stays with the node', async () => {
    const { probeNode } = await import('../../src/health/probe');
    const config = testConfig();
    await setNode('n-us', { redirectTo: `${config.nodes[1].baseUrl}/models` });
    const node = { ...config.nodes[0], weight: 1, modelMap: {}, endpoints: ['chat'] };
    const result = await probeNode(node, env as unknown as Record<string, unknown>, { ...config.health, probePath: '/models', probeTimeoutMs: 500 });
    expect(result).toMatchObject({ ok: false, error: 'HTTP 302' });
    expect(await nodeRequests('n-eu')).toHaveLength(0);
  });

  it('caps a Retry-After cooldown at breaker.maxCooldownMs', async () => {
    for (const n of ['n-us', 'n-eu', 'n-ap']) await setNode(n, { status: 429, retryAfter: 7_200 });
    const { key } = await newKey();
    const res = await call('/v1/chat/completions', { key, body: chatBody() });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBe(60); // maxCooldownMs 60000 by default
  });

  it('remembers an unknown key for a few seconds instead of reading KV for every retry', async () => {
    const { sha256Hex } = await import('../../src/auth/keys');
    const token = 'sk-ler-not-yet-valid-00000000000000000000000000000';
    expect((await call('/v1/models', { key: token })).status).toBe(401);
    // The key becomes valid in KV; this isolate still answers from its negative memo.
    await env.ROUTER_KV.put(`key:${await sha256Hex(token)}`, JSON.stringify({ id: 'key_late', name: 'late', prefix: 'sk-ler-not-', createdAt: new Date().toISOString() }));
    expect((await call('/v1/models', { key: token })).status).toBe(401);
    await resetWorld(); // the memo expires
    expect((await call('/v1/models', { key: token })).status).toBe(200);
  });

  it('pages GET /admin/keys with a cursor through 10,000 keys', async () => {
    const existing = (await env.ROUTER_KV.list({ prefix: 'keyid:' })).keys.length;
    const now = new Date().toISOString();
    const ids = Array.from({ length: 10_000 }, (_, i) => `key_bulk${String(i).padStart(5, '0')}`);
    for (let i = 0; i < ids.length; i += 500) {
      await Promise.all(
        ids.slice(i, i + 500).map((id) => {
          const record = { id, name: `bulk ${id}`, prefix: 'sk-ler-bulk', createdAt: now };
          return env.ROUTER_KV.put(`keyid:${id}`, JSON.stringify({ hash: id, record }), { metadata: record });
        }),
      );
    }
    const seen = new Set<string>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await admin(`/keys?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      const page = await res.json<{ data: { id: string; name: string }[]; has_more: boolean; next_cursor: string | null }>();
      for (const k of page.data) seen.add(k.id);
      expect(page.has_more).toBe(page.next_cursor !== null);
      cursor = page.next_cursor;
      pages++;
    } while (cursor && pages < 20);
    expect(seen.size).toBe(10_000 + existing);
    expect(pages).toBe(Math.ceil((10_000 + existing) / 1000));
  }, 60_000);

  it('answers 502 with a clear message for an upstream JSON answer over maxResponseBytes, and does not retry it', async () => {
    const config = testConfig();
    config.limits.maxResponseBytes = 20_000;
    await setNode('n-us', { padBytes: 50_000 });
    const { key } = await newKey();
    const res = await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody(), cf: CF.iad });
    expect(res.status).toBe(502);
    const { error } = await res.json<{ error: { message: string; code: string } }>();
    expect(error.code).toBe('upstream_response_too_large');
    expect(error.message).toContain('larger than the 20000-byte limit');
    expect(await posts('n-eu')).toHaveLength(0);
  });
});
