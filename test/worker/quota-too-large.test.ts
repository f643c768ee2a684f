/**
 * OpenAI answers a request that alone passes the organisation's tokens-per-minute quota with a
 * 429 — `Request too large for … on tokens per min (TPM): Limit L, Requested R`, type `tokens`
 * — which says nothing of the node being busy: the same request is refused again at once, and
 * any other fits. Taken as the node's own pause, it benched the node for every key in the
 * isolate (`rateLimitCooldownMs`, or its Retry-After), so one key sending oversized requests
 * moved everyone's traffic off the nearest node, at no cost (a 429 is not billed). It is
 * retried on the next node (another organisation's quota may hold it) without cooling this one.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { callWithConfig, CF, chatBody, newKey, resetWorld, setNode, testConfig } from './helpers';

const config = testConfig();
// A long pause, so that the request after the attacker's would find the node still cooled.
config.retry.rateLimitCooldownMs = 60_000;
const send = (key: string, body: object) => callWithConfig(config, '/v1/chat/completions', { key, body, cf: CF.iad });

beforeEach(resetWorld);

describe("a 429 saying the request alone passes the node's quota", () => {
  it('fails over without cooling the node: the next key still goes to the nearest node', async () => {
    const attacker = (await newKey()).key;
    const other = (await newKey()).key;
    await setNode('n-us', { tpmQuota: 2_000 });
    // The node that serves the attacker instead is slow, so what it teaches the live view keeps n-us first.
    await setNode('n-eu', { latencyMs: 300 });

    const big = await send(attacker, chatBody({ max_tokens: 5_000 }));
    expect(big.status).toBe(200); // served by the next node
    expect(big.headers.get('x-router-node')).not.toBe('n-us');
    await big.text();

    const res = await send(other, chatBody({ max_tokens: 16 }));
    await res.text();
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('n-us');
    expect(res.headers.get('x-router-attempts')).toBe('1');
  });

  it('a real rate limit (any other 429) still cools the node', async () => {
    const first = (await newKey()).key;
    const other = (await newKey()).key;
    await setNode('n-us', { status: 429, failFirst: 1 });
    await setNode('n-eu', { latencyMs: 300 });
    const res1 = await send(first, chatBody({ max_tokens: 16 }));
    await res1.text();
    expect(res1.headers.get('x-router-node')).not.toBe('n-us');
    const res2 = await send(other, chatBody({ max_tokens: 16 }));
    await res2.text();
    expect(res2.headers.get('x-router-node')).not.toBe('n-us');
  });

  it('every node refusing it so: a 429 the caller is told not to retry blindly', async () => {
    const key = (await newKey()).key;
    for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { tpmQuota: 2_000 });
    const res = await send(key, chatBody({ max_tokens: 5_000 }));
    expect(res.status).toBe(429);
    expect(res.headers.get('x-should-retry')).toBe('false');
    const { error } = await res.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe('upstream_rate_limited');
    expect(error.message).toMatch(/request too large/i);
  });
});
