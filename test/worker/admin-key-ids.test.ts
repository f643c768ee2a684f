/**
 * Key ids in admin paths are the operator's text: an id that names no key is a 404
 * `key_not_found` whatever its length or bytes — never a 500 from KV's key-length limit.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, newKey, resetWorld } from './helpers';

beforeEach(resetWorld);

describe('admin key ids', () => {
  const ids = ['x'.repeat(600), `${'é'.repeat(300)}`, 'key_%00', 'key_..%2F..'];
  for (const id of ids) {
    it(`GET /admin/keys/${id.slice(0, 12)}…/usage and DELETE /admin/keys/${id.slice(0, 12)}… are 404 key_not_found`, async () => {
      for (const [method, path] of [['GET', `/keys/${id}/usage`], ['DELETE', `/keys/${id}`]] as const) {
        const res = await admin(path, { method });
        expect(res.status).toBe(404);
        expect((await res.json<{ error: { code: string } }>()).error.code).toBe('key_not_found');
      }
    });
  }

  it('a real key id still reads and revokes', async () => {
    const { id } = await newKey();
    expect((await admin(`/keys/${id}/usage`)).status).toBe(200);
    expect((await admin(`/keys/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await admin(`/keys/${id}/usage`)).status).toBe(404);
  });
});
