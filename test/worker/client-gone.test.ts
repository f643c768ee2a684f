/**
 * A client that leaves before the response: the runtime cancels the handler's awaits, so
 * the request must still settle from work the runtime keeps alive (waitUntil) — its slot
 * and reservation freed when its walk ends, not when the object's alarm reclaims them.
 */
import { exports } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, call, callWithConfig, CF, chatBody, eventually, newKey, resetWorld, setNode, testConfig } from './helpers';

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
    it(`frees its concurrency slot once the walk ends, not at the alarm (${stream ? 'stream' : 'JSON'})`, async () => {
      const { key, id } = await newKey({ limits: { concurrency: 1 } });
      for (const n of ['n-us', 'n-eu', 'n-ap']) await setNode(n, { latencyMs: 600 });
      expect(await leaveAfter(key, 150, chatBody({ stream }))).toMatch(/^left/);
      expect((await inFlight(id)).inFlight).toBe(1);
      const after = await eventually(() => inFlight(id), (u) => u.inFlight === 0);
      expect(after.inFlight).toBe(0);
      for (const n of ['n-us', 'n-eu', 'n-ap']) await setNode(n, { latencyMs: 0 });
      expect((await call('/v1/chat/completions', { key, body: chatBody() })).status).toBe(200);
    });
  }
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
