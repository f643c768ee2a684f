/**
 * A flood of wrong API keys on /v1/* must not cost a KV read each (README "API"): a token
 * that is not the shape of a router key (`sk-ler-` + 43 base64url characters) is refused
 * without one, and an address that presented 30 unknown well-formed keys in a minute gets a
 * 429 for its next unknown one, still without a read, in this isolate. Keys this isolate knows
 * are never slowed. KV reads cannot be counted from here, so each test plants a record KV
 * would find and shows that the refusal did not look.
 */
import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { generateKey, sha256Hex } from '../../src/auth/keys';
import { call, newKey, resetWorld } from './helpers';

beforeEach(resetWorld);

async function plant(token: string): Promise<void> {
  await env.ROUTER_KV.put(`key:${await sha256Hex(token)}`, JSON.stringify({ id: 'key_planted', name: 'planted', prefix: token.slice(0, 11), createdAt: new Date().toISOString() }));
}

const from = (ip: string) => ({ 'cf-connecting-ip': ip });

describe('wrong API keys cost no KV read each', () => {
  it('a token not shaped like a router key is refused without reading KV', async () => {
    for (const token of ['sk-ler-short', `sk-ler-${'a'.repeat(44)}`, `sk-xyz-${'a'.repeat(43)}`, `sk-ler-${'a'.repeat(42)}=`]) {
      await plant(token);
      const res = await call('/v1/models', { key: token });
      expect(res.status, token).toBe(401);
      expect((await res.json<{ error: { code: string } }>()).error.code).toBe('invalid_api_key');
    }
  });

  it('past 30 unknown keys a minute from one address, its next unknown key is a 429 without a KV read; other addresses and known keys are untouched', async () => {
    const { key } = await newKey();
    // Known to this isolate before the flood.
    expect((await call('/v1/models', { key, headers: from('203.0.113.5') })).status).toBe(200);
    for (let i = 0; i < 30; i++) expect((await call('/v1/models', { key: generateKey(), headers: from('203.0.113.5') })).status).toBe(401);
    const planted = generateKey();
    await plant(planted);
    const refused = await call('/v1/models', { key: planted, headers: from('203.0.113.5') });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect((await refused.json<{ error: { code: string } }>()).error.code).toBe('api_key_attempts_throttled');
    // The same key from another address is read from KV and valid.
    expect((await call('/v1/models', { key: planted, headers: from('198.51.100.5') })).status).toBe(200);
    // A key the isolate already knew still works from the flooding address.
    expect((await call('/v1/models', { key, headers: from('203.0.113.5') })).status).toBe(200);
  });
});
