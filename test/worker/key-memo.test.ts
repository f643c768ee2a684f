/**
 * The isolate's key memo keeps real keys' records however many unknown keys callers present:
 * a flood of bad tokens must not push every valid key back to a KV read per request.
 */
import { env } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { authenticate, sha256Hex } from '../../src/auth/keys';
import { newKey, resetWorld } from './helpers';

beforeEach(resetWorld);
afterEach(() => vi.useRealTimers());

const request = (token: string) => new Request('https://router.test/v1/models', { headers: { authorization: `Bearer ${token}` } });

describe('key memo', () => {
  it('still answers a real key from memory after 10,000 unknown keys were tried', async () => {
    const { key, id } = await newKey();
    // The clock stands still: the flood takes longer than the memo's 10 s here, and only eviction may end the entry.
    vi.useFakeTimers({ toFake: ['Date'] });
    expect((await authenticate(request(key), env.ROUTER_KV)).id).toBe(id);
    for (let i = 0; i < 10_000; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => authenticate(request(`sk-ler-unknown-${i + j}`), env.ROUTER_KV).catch(() => null)));
    }
    // Its KV record goes (not through revocation, which would clear the memo): only the memo can still know it.
    await env.ROUTER_KV.delete(`key:${await sha256Hex(key)}`);
    expect((await authenticate(request(key), env.ROUTER_KV)).id).toBe(id);
  }, 60_000);
});
