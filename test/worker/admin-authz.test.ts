/**
 * Every admin route behind the admin token, whatever the method or spelling of the path: a
 * caller with no token, an API key, or a wrong token gets a 401 (or a 404 that names no
 * admin data) — never an admin answer. An API key is not an admin token, and the admin token
 * is not an API key.
 */
import { env, exports } from 'cloudflare:workers';
import { createExecutionContext } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { ADMIN_TOKEN, CF, admin, chatBody, newKey, resetWorld, testConfig } from './helpers';

beforeEach(resetWorld);

const VIEWS = ['keys', 'keys/', 'metrics', 'status', 'tables', 'usage', 'usage?format=csv', 'route?model=gpt-4o-mini', 'keys/KEYID/usage'];
const SPELLINGS = (p: string) => [`/admin/${p}`, `/admin//${p}`, `/admin/./${p}`, `/admin/x/../${p}`, `/%61dmin/${p}`, `/admin/%2e/${p}`, `/admin%2F${p}`, `/ADMIN/${p}`];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'];

/**
 * Every guess must reach the token comparison: the throttle on wrong tokens
 * (admin-throttle.test.ts) is set wide enough for this test's guesses, each view's from an
 * address of its own, so none is answered 429 before its token is compared.
 */
const WIDE_THROTTLE = { maxFailures: 1_000, globalFailures: 100_000 };

async function send(method: string, path: string, authorization?: string, from = '192.0.2.1'): Promise<Response> {
  const headers = new Headers(authorization ? { authorization } : {});
  headers.set('cf-connecting-ip', from);
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') headers.set('content-type', 'application/json');
  const body = method === 'POST' || method === 'PUT' || method === 'PATCH' ? JSON.stringify({ name: 'intruder' }) : undefined;
  const request = new Request(`https://router.test${path}`, { method, headers, body, cf: CF.iad } as RequestInit);
  return worker.fetch(request as never, { ...env, ROUTER_CONFIG: JSON.stringify({ ...testConfig(), admin: WIDE_THROTTLE }) } as never, createExecutionContext());
}

describe('admin authorization', () => {
  it('no token, an API key, a wrong token or a lookalike: never an admin answer, on any path spelling or method', async () => {
    const { id, key } = await newKey();
    const before = await (await admin('/keys')).json<{ data: unknown[] }>();
    const credentials = [undefined, `Bearer ${key}`, 'Bearer not-the-token', `Bearer ${ADMIN_TOKEN}x`, `Bearer ${ADMIN_TOKEN.slice(0, -1)}`, `Basic ${btoa(`admin:${ADMIN_TOKEN}`)}`, ADMIN_TOKEN, `Bearer ${ADMIN_TOKEN} ${ADMIN_TOKEN}`];
    for (const [v, view] of VIEWS.entries()) {
      for (const path of SPELLINGS(view.replace('KEYID', id))) {
        for (const method of METHODS) {
          for (const credential of credentials) {
            const res = await send(method, path, credential, `192.0.2.${v + 1}`);
            const text = await res.text();
            const where = `${method} ${path} ${credential?.slice(0, 12)}`;
            expect([401, 404], where).toContain(res.status);
            expect(res.headers.get('access-control-allow-origin'), where).toBeNull();
            // A refusal, or a 404 for a path that is no admin route: nothing else in the body.
            if (method !== 'HEAD') expect((JSON.parse(text) as { error: { code: string } }).error.code, where).toBe(res.status === 401 ? 'invalid_admin_token' : 'unknown_url');
          }
        }
      }
    }
    // Nothing was created or revoked by any of it.
    expect((await (await admin('/keys')).json<{ data: unknown[] }>()).data).toHaveLength(before.data.length);
  }, 120_000);

  it('the admin token is not an API key', async () => {
    const res = await send('POST', '/v1/chat/completions', `Bearer ${ADMIN_TOKEN}`);
    expect(res.status).toBe(401);
    const withBody = await exports.default.fetch(
      new Request('https://router.test/v1/chat/completions', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(chatBody()), cf: CF.iad } as RequestInit),
    );
    expect(withBody.status).toBe(401);
    // Its refusal quotes at most the first characters of what was sent, as for any unknown key.
    expect(await withBody.text()).not.toContain(ADMIN_TOKEN);
  });
});
