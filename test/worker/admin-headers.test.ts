/**
 * Admin answers hold keys' secrets (once), names, limits and spend: no cache may keep them —
 * a browser's HTTP cache on a shared machine, a proxy that stores what it is not told not to.
 * Every answer under /admin/* says `cache-control: no-store`, refusals included, and
 * `x-content-type-options: nosniff` (a JSON or CSV answer is never sniffed into a page).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, call, newKey, resetWorld } from './helpers';

beforeEach(resetWorld);

describe('admin answers are never cached', () => {
  it('creation (the secret), listing, usage, metrics, status, tables, CSV, 404 and 401 all say no-store', async () => {
    const { id } = await newKey();
    const answers = [
      await admin('/keys', { body: { name: 'cached?' } }),
      await admin('/keys'),
      await admin(`/keys/${id}/usage`),
      await admin('/metrics'),
      await admin('/status'),
      await admin('/tables'),
      await admin('/usage?format=csv'),
      await admin('/route?model=gpt-4o-mini'),
      await admin('/keys/key_nope/usage'),
      await admin('/no-such-view'),
      await call('/admin/keys', { method: 'GET', key: 'not-the-token' }),
      await call('/admin/keys', { method: 'GET' }),
    ];
    expect(answers.map((r) => r.status)).toEqual([201, 200, 200, 200, 200, 200, 200, 200, 404, 404, 401, 401]);
    for (const res of answers) {
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      await res.body?.cancel();
    }
  });

  it('the public API is left as it was', async () => {
    const res = await call('/healthz', { method: 'GET' });
    expect(res.headers.get('cache-control')).toBeNull();
  });
});
