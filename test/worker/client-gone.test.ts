/**
 * A client that leaves before the response: the runtime cancels the handler's awaits, so
 * the request must still settle from work the runtime keeps alive (waitUntil); and its walk
 * stops when `request.signal` says the client left — its slot and reservation freed at once,
 * not when a walk nobody reads would end, nor when the object's alarm reclaims them.
 */
import { exports } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, call, callWithConfig, CF, chatBody, eventually, newKey, nodeRequests, resetWorld, setNode, testConfig } from './helpers';

beforeEach(resetWorld);

const inFlight = async (id: string) => (await admin(`/keys/${id}/usage`)).json<{ inFlight: number; window: { requests: number } }>();

/** Sends a chat request and hangs up after `ms`, before any answer. */
async function leaveAfter(key: string, ms: number, body: Record<string, unknown>): Promise<string> {
  const gone = new AbortController();
  const request = new Request('https://router.test/v1/chat/completions', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    cf: CF.iad,
    signal: gone.signal,
  } as RequestInit);
  const sent = exports.default.fetch(request).then((r) => `answered ${r.status}`, (e: unknown) => `left: ${String(e)}`);
  await new Promise((r) => setTimeout(r, ms));
  gone.abort();
  return sent;
}

describe('a client that leaves before the first byte', () => {
  for (const stream of [false, true]) {
    it(`frees its concurrency slot at once, not at the alarm (${stream ? 'stream' : 'JSON'})`, async () => {
      const { key, id } = await newKey({ limits: { concurrency: 1 } });
      for (const n of ['n-us', 'n-eu', 'n-ap']) await setNode(n, { latencyMs: 600 });
      expect(await leaveAfter(key, 150, chatBody({ stream }))).toMatch(/^left/);
      const after = await eventually(() => inFlight(id), (u) => u.inFlight === 0);
      expect(after.inFlight).toBe(0);
      for (const n of ['n-us', 'n-eu', 'n-ap']) await setNode(n, { latencyMs: 0 });
      expect((await call('/v1/chat/completions', { key, body: chatBody() })).status).toBe(200);
    });
  }
});

describe('a client that leaves during the walk', () => {
  // Workers keep a walk alive only 30 s after its client leaves (waitUntil), and `totalMs` is
  // 120 s by default: a walk must end when its client does, not run on unread and be cut with
  // its slot and reservation held until the object's alarm.
  const usage = async (id: string) => (await admin(`/keys/${id}/usage`)).json<{ inFlight: number; window: { tokens: number } }>();
  const sent = async () => (await Promise.all(['n-us', 'n-eu', 'n-ap'].map(nodeRequests))).flat().length;

  it('in a Retry-After wait: its slot and tokens are free at once, and no node is tried after it left', async () => {
    const { key, id } = await newKey({ limits: { concurrency: 1, tpm: 100_000 } });
    // The model's one node answers 429 asking for 2 s: the walk waits to try it again.
    await setNode('n-solo', { status: 429, retryAfter: 2 });
    expect(await leaveAfter(key, 400, chatBody({ model: 'solo-model', max_tokens: 50 }))).toMatch(/^left/);
    const left = Date.now();
    const free = await eventually(() => usage(id), (u) => u.inFlight === 0);
    expect(Date.now() - left).toBeLessThan(1_000); // the wait ends ~2 s after the first attempt
    expect(free).toMatchObject({ inFlight: 0, window: { tokens: 0 } }); // a refusal: nothing billed
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await nodeRequests('n-solo')).toHaveLength(1);
  });

  it('during an attempt: the attempt is let go and charged at its reservation, and no node is tried after it', async () => {
    const { key, id } = await newKey({ limits: { concurrency: 1, tpm: 100_000 } });
    await setNode('n-us', { hang: true }); // its answer times out 1 s after it is sent (responseMs); then n-eu would answer
    expect(await leaveAfter(key, 400, chatBody({ max_tokens: 50 }))).toMatch(/^left/);
    const left = Date.now();
    const free = await eventually(() => usage(id), (u) => u.inFlight === 0);
    // A sent attempt may be billed: it stays charged at its reservation (max_tokens 50 + the prompt).
    expect(free.window.tokens).toBeGreaterThan(50);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await sent()).toBe(1);
  });
});

describe('a client that stays but never reads its stream', () => {
  it('frees its concurrency slot at the deadline: the body is ended, not held while the client stays', async () => {
    const config = testConfig();
    config.timeouts = { ...config.timeouts, totalMs: 1_000 };
    const { key, id } = await newKey({ limits: { concurrency: 1 } });
    const res = await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody({ stream: true }) });
    expect(res.status).toBe(200); // its body is never read
    expect((await inFlight(id)).inFlight).toBe(1);
    await new Promise((r) => setTimeout(r, 1_500));
    const after = await eventually(() => inFlight(id), (u) => u.inFlight === 0);
    expect(after.inFlight).toBe(0);
    await res.body?.cancel().catch(() => {});
  });
});
