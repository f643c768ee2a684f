/**
 * A RateLimiter object that cannot answer (overloaded, or its colo unreachable: the call
 * rejects). Fault injection only: the namespace is the real one, except that calls to the
 * named objects reject as an overloaded Durable Object's do.
 */
import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { callWithConfig, CF, chatBody, newKey, nodeRequests, resetWorld, testConfig } from './helpers';

beforeEach(resetWorld);

/** RATE_LIMITER whose objects named by `down` reject every call. */
function limiterDown(down: (name: string) => boolean) {
  const overloaded = () => Promise.reject(new Error('Durable Object is overloaded. Too many requests queued.'));
  return {
    RATE_LIMITER: {
      getByName: (name: string) => (down(name) ? { sync: overloaded, extend: overloaded, usage: overloaded } : env.RATE_LIMITER.getByName(name)),
    },
  };
}

describe('a limiter object that cannot answer', () => {
  it("a key's: 503 limiter_unavailable, retryable, no node asked — not an opaque 500", async () => {
    const { key } = await newKey({ limits: { rpm: 100 } });
    const res = await callWithConfig(testConfig(), '/v1/chat/completions', { key, body: chatBody(), cf: CF.iad }, limiterDown((n) => n.startsWith('key:')));
    expect(res.status).toBe(503);
    const { error } = await res.json<{ error: { code: string; type: string; message: string } }>();
    expect(error).toMatchObject({ code: 'limiter_unavailable', type: 'server_error' });
    expect(error.message).toContain("key 'test'");
    expect(res.headers.get('retry-after')).toBe('1');
    for (const n of ['n-us', 'n-eu', 'n-ap']) expect(await nodeRequests(n)).toHaveLength(0);
  });

  it("a capped node's: that node is skipped (nothing sent past its quota unreserved), the request fails over", async () => {
    const config = testConfig();
    config.nodes[0].limits = { rpm: 100 }; // n-us, the nearest to IAD
    const { key } = await newKey();
    const res = await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody(), cf: CF.iad }, limiterDown((n) => n === 'node:n-us'));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).not.toBe('n-us');
    expect(await nodeRequests('n-us')).toHaveLength(0);
  });
});
