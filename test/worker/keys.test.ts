/** Admin key management: shown once, hashed at rest, revocable, guarded by ADMIN_TOKEN. */
import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { digestMemoChars } from '../../src/auth/keys';
import { admin, call, chatBody, newKey, nodeRequests, resetWorld, setNode } from './helpers';

beforeEach(resetWorld);

describe('admin keys API', () => {
  it('creates a key shown once and stores only its hash', async () => {
    const res = await admin('/keys', { body: { name: 'team-a', limits: { rpm: 10 }, models: ['gpt-4o-mini'] } });
    expect(res.status).toBe(201);
    const created = await res.json<{ id: string; key: string; name: string; prefix: string; limits: object }>();
    expect(created.key).toMatch(/^sk-ler-[A-Za-z0-9_-]{43}$/);
    expect(created).toMatchObject({ name: 'team-a', limits: { rpm: 10 } });
    const names = (await env.ROUTER_KV.list()).keys.map((k) => k.name);
    for (const name of names) {
      expect(name).not.toContain(created.key);
      expect(await env.ROUTER_KV.get(name)).not.toContain(created.key);
    }
    expect(names.some((n) => /^key:[0-9a-f]{64}$/.test(n))).toBe(true);
  });

  it('lists keys without their plaintext', async () => {
    const { key, id } = await newKey({ name: 'listed' });
    const res = await admin('/keys');
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toContain(id);
    expect(text).not.toContain(key);
  });

  it('revokes a key: 204, then the key is refused', async () => {
    const { key, id } = await newKey();
    expect((await call('/v1/chat/completions', { key, body: chatBody() })).status).toBe(200);
    expect((await admin(`/keys/${id}`, { method: 'DELETE' })).status).toBe(204);
    const res = await call('/v1/chat/completions', { key, body: chatBody() });
    expect(res.status).toBe(401);
    expect((await admin(`/keys/${id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('refuses a bad admin token and a caller key on admin routes', async () => {
    const { key } = await newKey();
    expect((await call('/admin/keys', { key: 'wrong-token' })).status).toBe(401);
    expect((await call('/admin/keys', { key })).status).toBe(401);
    expect((await call('/admin/keys')).status).toBe(401);
  });

  it('validates key requests', async () => {
    expect((await admin('/keys', { body: { name: '' } })).status).toBe(400);
    expect((await admin('/keys', { body: { name: 'x', limits: { rpm: -1 } } })).status).toBe(400);
    const res = await admin('/keys', { body: { name: 'x', models: ['nope'] } });
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { message: string } }>()).error.message).toContain('nope');
  });
});

describe('credentials', () => {
  it("never sends the caller's key upstream; sends the node's secret", async () => {
    const { key } = await newKey();
    const res = await call('/v1/chat/completions', {
      key,
      body: chatBody(),
      headers: { cookie: 'session=abc', 'x-api-key': key },
    });
    expect(res.status).toBe(200);
    const [seen] = (await nodeRequests('n-us')).slice(-1);
    expect(seen!.headers.authorization).toBe('Bearer node-secret-us-0001');
    expect(JSON.stringify(seen!.headers)).not.toContain(key);
    expect(seen!.headers.cookie).toBeUndefined();
  });

  it('keeps a rejected node secret out of the error the caller sees', async () => {
    for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { requireKey: 'something-else' });
    const { key } = await newKey();
    const res = await call('/v1/chat/completions', { key, body: chatBody() });
    expect(res.status).toBe(502);
    const text = await res.text();
    expect(text).toContain('node credential rejected (HTTP 401)');
    expect(text).not.toMatch(/node-secret/);
  });
});

describe('key digest memo', () => {
  it('keeps no caller-sized tokens: 64 unknown 32 KiB bearer tokens leave the memo holding none of their text', async () => {
    const before = digestMemoChars();
    for (let i = 0; i < 64; i++) {
      const token = `${i}-`.padEnd(32 * 1024, 'x');
      expect((await call('/v1/chat/completions', { key: token, body: chatBody() })).status).toBe(401);
    }
    expect(digestMemoChars() - before).toBeLessThan(64 * 100);
  });

  it('remembers a real key\'s digest, and the key still stops working once revoked', async () => {
    const { key, id } = await newKey();
    expect((await call('/v1/chat/completions', { key, body: chatBody() })).status).toBe(200);
    expect(digestMemoChars()).toBeGreaterThanOrEqual(key.length);
    expect((await admin(`/keys/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await call('/v1/chat/completions', { key, body: chatBody() })).status).toBe(401);
  });
});
