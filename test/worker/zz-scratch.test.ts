import { exports } from 'cloudflare:workers';
import { describe, it } from 'vitest';

describe('scratch', () => {
  it('paths', async () => {
    for (const [m, p, h] of [
      ['GET', '//admin/keys', {}], ['GET', '/admin//keys', {}], ['GET', '/admin/keys/', {}], ['GET', '/ADMIN/keys', {}], ['GET', '/admin%2Fkeys', {}], ['GET', '/%61dmin/keys', {}],
      ['GET', '/admin/%6beys', {}], ['OPTIONS', '/admin/keys', { origin: 'https://evil.test', 'access-control-request-method': 'GET' }], ['GET', '/admin/metrics', { authorization: 'Bearer test-admin-token-0123456789, Bearer x' }],
      ['GET', '/admin/keys/x/usage', {}], ['DELETE', '/admin/keys/x', {}], ['GET', '/admin/usage?format=csv', {}], ['GET','/admin/', {}], ['GET','/admin', {}],
    ] as [string, string, Record<string, string>][]) {
      const res = await exports.default.fetch(new Request(`https://router.test${p}`, { method: m, headers: h }));
      console.log(m, p, res.status, [...res.headers].filter(([k]) => k.startsWith('access-control')).join(';'), (await res.text()).slice(0, 100));
    }
  });
});
