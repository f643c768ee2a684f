/**
 * An attempt the node answered, then lost before the router had the answer, was generated —
 * and billed — upstream: the key's limits count it at its worst case, and the retry
 * reserves again, as for an attempt abandoned on a timeout.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, call, chatBody, eventually, newKey, nodeRequests, resetWorld, setNode } from './helpers';

beforeEach(resetWorld);

const windowTokens = async (id: string) =>
  eventually(
    async () => (await admin(`/keys/${id}/usage`)).json<{ window: { tokens: number }; inFlight: number }>(),
    (u) => u.inFlight === 0,
  );

/** A chat request from a key with a tpm limit, the nearest node faulting as `knobs` say: its answer, attempts and the key's window once nothing is in flight. */
async function servedAfter(knobs: Record<string, unknown>) {
  await setNode('n-us', knobs);
  const { id, key } = await newKey({ limits: { tpm: 100_000 } });
  const res = await call('/v1/chat/completions', { key, body: chatBody({ max_tokens: 50 }) });
  expect(res.status).toBe(200);
  const answer = await res.json<{ usage: { total_tokens: number } }>();
  const { window } = await windowTokens(id);
  return { served: answer.usage.total_tokens, attempts: res.headers.get('x-router-attempts'), window };
}

describe('a JSON answer cut after its 200', () => {
  it('is counted at its worst case beside the retry that served the request', async () => {
    const { served, attempts, window } = await servedAfter({ cutBody: true });
    expect(attempts).toBe('2');
    expect(await nodeRequests('n-us')).toHaveLength(1);
    // The cut attempt at its worst case (its prompt + the 50-token cap), the served one at its usage.
    expect(window.tokens).toBeGreaterThanOrEqual(served + 50);
  });

  it('a connection refused before any answer is not counted: only the attempt that served', async () => {
    const { served, window } = await servedAfter({ refuse: true });
    expect(window.tokens).toBe(served);
  });
});

describe('a gateway timeout from in front of a node (504, 524)', () => {
  // A gateway (Cloudflare's 524 after 100 s, nginx's 504) gives up while the node behind it is
  // still generating, as the router's own timeout does: the node may bill the whole answer.
  for (const status of [504, 524]) {
    it(`HTTP ${status} is counted at its worst case beside the retry that served the request`, async () => {
      const { served, attempts, window } = await servedAfter({ status });
      expect(attempts).toBe('2');
      expect(window.tokens).toBeGreaterThanOrEqual(served + 50);
    });
  }

  it('a 502 or 503 (the node refused, nothing generated) is not counted', async () => {
    const { served, window } = await servedAfter({ status: 503 });
    expect(window.tokens).toBe(served);
  });
});
