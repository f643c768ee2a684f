/**
 * Fault injection: one of three nodes fails each way, for JSON and for streams. Callers
 * from Ashburn rank n-us, n-eu, n-ap; n-us is the one that breaks. Time bounds are
 * generous correctness bounds (first-byte timeout 600 ms in the test config), not benchmarks.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { call, callWithConfig, chatBody, newKey, nodeRequests, resetWorld, setNode, sseEvents, testConfig } from './helpers';

let key: string;
beforeEach(async () => {
  await resetWorld();
  key = (await newKey()).key;
});

async function timed(body: object) {
  const started = Date.now();
  const res = await call('/v1/chat/completions', { key, body });
  const text = await res.text();
  return { res, text, ms: Date.now() - started };
}

const faults: [string, Record<string, unknown>, { minMs?: number; maxMs: number }][] = [
  ['refusing connections', { refuse: true }, { maxMs: 1500 }],
  ['resetting connections', { reset: true }, { maxMs: 1500 }],
  // JSON waits responseMs (1000) for a whole answer; a stream firstByteMs (600) for its first chunk.
  ['hanging', { hang: true }, { minMs: 550, maxMs: 3000 }],
  ['answering 500', { status: 500 }, { maxMs: 1500 }],
  ['answering 502', { status: 502 }, { maxMs: 1500 }],
  ['answering 503', { status: 503 }, { maxMs: 1500 }],
  ['answering 504', { status: 504 }, { maxMs: 1500 }],
  ['answering 429 without Retry-After', { status: 429 }, { maxMs: 1500 }],
  ['answering 429 with Retry-After', { status: 429, retryAfter: 30 }, { maxMs: 1500 }],
  ['rejecting its credential (401)', { requireKey: 'rotated-elsewhere' }, { maxMs: 1500 }],
];

for (const stream of [false, true]) {
  describe(`one node of three failing (${stream ? 'stream' : 'JSON'})`, () => {
    for (const [name, knobs, bounds] of faults) {
      it(`fails over when n-us is ${name}`, async () => {
        await setNode('n-us', knobs);
        const { res, text, ms } = await timed(chatBody({ stream }));
        expect(res.status).toBe(200);
        expect(res.headers.get('x-router-node')).toBe('n-eu');
        expect(res.headers.get('x-router-attempts')).toBe('2');
        expect(text).toContain('Hello from n-eu');
        if (stream) expect(text.trim().endsWith('data: [DONE]')).toBe(true);
        expect(ms).toBeLessThan(bounds.maxMs);
        if (bounds.minMs) expect(ms).toBeGreaterThanOrEqual(bounds.minMs);
      });
    }
  });
}

describe('streams after the first byte', () => {
  it('fails over when the stream is cut before its first chunk', async () => {
    await setNode('n-us', { cutAfterChunks: 0 });
    const { res, text } = await timed(chatBody({ stream: true }));
    expect(res.headers.get('x-router-node')).toBe('n-eu');
    expect(text).toContain('[DONE]');
  });

  it('fails over when the stream stalls before its first chunk', async () => {
    await setNode('n-us', { stallAfterChunks: 0 });
    const { res, ms } = await timed(chatBody({ stream: true }));
    expect(res.headers.get('x-router-node')).toBe('n-eu');
    expect(ms).toBeGreaterThanOrEqual(550);
  });

  it('fails over when the 200 stream opens with an error event (vLLM\'s engine failure): nothing had reached the caller', async () => {
    await setNode('n-us', { streamErrorCode: 500 });
    const { res, text } = await timed(chatBody({ stream: true }));
    expect(res.headers.get('x-router-node')).toBe('n-eu');
    expect(res.headers.get('x-router-attempts')).toBe('2');
    expect(text).not.toContain('"error"');
    expect(text.trim().endsWith('data: [DONE]')).toBe(true);
  });

  it('retries elsewhere a stream that opens with a rate-limit error, and relays a caller\'s error (4xx code) as it came', async () => {
    await setNode('n-us', { streamErrorCode: 429 });
    const limited = await timed(chatBody({ stream: true }));
    expect(limited.res.headers.get('x-router-node')).toBe('n-eu');
    await resetWorld();
    await setNode('n-us', { streamErrorCode: 400 });
    const { res, text } = await timed(chatBody({ stream: true }));
    expect(res.headers.get('x-router-node')).toBe('n-us');
    expect(text).toContain('simulated in-stream 400');
    expect(await nodeRequests('n-eu')).toHaveLength(0);
  });

  it('ends a stream cut mid-way with an SSE error event, never a silent success', async () => {
    await setNode('n-us', { cutAfterChunks: 2, chunks: 4, chunkDelayMs: 50 });
    const res = await call('/v1/chat/completions', { key, body: chatBody({ stream: true }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-attempts')).toBe('1');
    const events = await sseEvents(res);
    expect(events).not.toContain('[DONE]');
    expect(JSON.parse(events[0]!).choices[0].delta.content).toBe('Hello from n-us');
    const last = JSON.parse(events.at(-1)!);
    expect(last.error.code).toMatch(/^upstream_stream_(lost|truncated)$/);
    expect(await nodeRequests('n-eu')).toHaveLength(0); // no retry after the first byte
  });

  it('ends a stalled stream with an SSE error event after the idle timeout', async () => {
    await setNode('n-us', { stallAfterChunks: 1, chunks: 4, chunkDelayMs: 20 });
    const started = Date.now();
    const res = await call('/v1/chat/completions', { key, body: chatBody({ stream: true }) });
    const events = await sseEvents(res);
    const ms = Date.now() - started;
    expect(JSON.parse(events.at(-1)!).error.code).toBe('upstream_stream_stalled');
    expect(events).not.toContain('[DONE]');
    expect(ms).toBeGreaterThanOrEqual(550);
    expect(ms).toBeLessThan(3000);
  });
});

describe('when every node fails', () => {
  for (const stream of [false, true]) {
    it(`502 listing every node tried, with x-should-retry: false (${stream ? 'stream' : 'JSON'})`, async () => {
      for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { refuse: true });
      const { res, text } = await timed(chatBody({ stream }));
      expect(res.status).toBe(502);
      expect(res.headers.get('x-should-retry')).toBe('false');
      expect(res.headers.get('x-router-attempts')).toBe('3');
      const { error } = JSON.parse(text);
      expect(error.code).toBe('upstream_error');
      expect(error.message).toMatch(/n-us \(gpt-4o-mini\): connection failed.*n-eu.*n-ap/);
    });
  }

  it('504 when every node hangs, within attempts × response timeout (JSON)', async () => {
    for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { hang: true });
    const { res, text, ms } = await timed(chatBody());
    expect(res.status).toBe(504);
    expect(JSON.parse(text).error.code).toBe('upstream_timeout');
    expect(JSON.parse(text).error.message).toContain('timeout (no complete answer within 1000 ms)');
    expect(ms).toBeGreaterThanOrEqual(3 * 950);
    expect(ms).toBeLessThan(5500);
  });

  it('504 when every node sends its headers and then stalls the body, within attempts × response timeout (JSON)', async () => {
    for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { stallBody: true });
    const { res, text, ms } = await timed(chatBody());
    expect(res.status).toBe(504);
    expect(JSON.parse(text).error.code).toBe('upstream_timeout');
    expect(ms).toBeGreaterThanOrEqual(3 * 950);
    expect(ms).toBeLessThan(5500);
  });

  it('504 when every node hangs, within attempts × first-byte timeout (stream)', async () => {
    for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { hang: true });
    const { res, text, ms } = await timed(chatBody({ stream: true }));
    expect(res.status).toBe(504);
    expect(JSON.parse(text).error.message).toContain('timeout (no first chunk within 600 ms)');
    expect(ms).toBeGreaterThanOrEqual(3 * 550);
    expect(ms).toBeLessThan(4000);
  });

  it('429 with the shortest Retry-After when every node is rate limited', async () => {
    for (const [id, after] of [['n-us', 20], ['n-eu', 7], ['n-ap', 40]] as const) await setNode(id, { status: 429, retryAfter: after });
    const { res, text } = await timed(chatBody());
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(JSON.parse(text).error.code).toBe('upstream_rate_limited');
  });
});

describe('model fallback', () => {
  for (const stream of [false, true]) {
    it(`answers with the fallback model when every node of the model is down (${stream ? 'stream' : 'JSON'})`, async () => {
      await setNode('n-solo', { status: 503 });
      const { res, text } = await timed(chatBody({ model: 'solo-model', stream }));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-router-model')).toBe('gpt-4o-mini');
      expect(res.headers.get('x-router-node')).toBe('n-us');
      // n-solo, n-solo again (its only node, after backoff), then the fallback.
      expect(res.headers.get('x-router-attempts')).toBe('3');
      expect(text).toContain('"model":"gpt-4o-mini"');
      expect(await nodeRequests('n-solo')).toHaveLength(2);
    });
  }
});

describe('circuit breaker and cooling', () => {
  it('ejects a node after 3 consecutive faults, so later requests skip it', async () => {
    // On loopback every node is as near as the next: give the fallback its distance, or the
    // live view (which learns from JSON answers too) would rank it first after one failover.
    await setNode('n-eu', { latencyMs: 100 });
    await setNode('n-us', { status: 500 });
    for (let i = 0; i < 3; i++) await timed(chatBody());
    const { res } = await timed(chatBody());
    expect(res.headers.get('x-router-node')).toBe('n-eu');
    expect(res.headers.get('x-router-attempts')).toBe('1');
    expect(await nodeRequests('n-us')).toHaveLength(3);
  });

  it('cools a node for its Retry-After after a 429', async () => {
    await setNode('n-us', { status: 429, retryAfter: 30 });
    await timed(chatBody());
    const { res } = await timed(chatBody());
    expect(res.headers.get('x-router-attempts')).toBe('1');
    expect(await nodeRequests('n-us')).toHaveLength(1);
  });

  it('cools a node that answered 429 without Retry-After for the default pause', async () => {
    await setNode('n-us', { status: 429 });
    await timed(chatBody());
    const { res } = await timed(chatBody());
    expect(res.headers.get('x-router-node')).toBe('n-eu');
    expect(res.headers.get('x-router-attempts')).toBe('1');
    expect(await nodeRequests('n-us')).toHaveLength(1);
  });

  it('stops retrying when the retry budget is spent', async () => {
    const config = testConfig();
    config.retry.budget = { ratio: 0, minRetries: 0 };
    await setNode('n-us', { status: 500 });
    const res = await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody() });
    expect(res.status).toBe(502);
    expect(res.headers.get('x-router-attempts')).toBe('1');
    expect((await res.json<{ error: { message: string } }>()).error.message).toContain('retry budget exhausted');
  });
});
