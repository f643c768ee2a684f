/**
 * The admin token must not cross the network in clear: on a custom domain without "Always Use
 * HTTPS" a request can reach the Worker over plain http. The admin API (and the console) answer
 * only requests that arrived over https — the scheme of `request.url` — or over http to a
 * loopback host (`wrangler dev`, these tests), refused before the token is even compared.
 */
import { exports } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, CF, resetWorld } from './helpers';

beforeEach(resetWorld);

function get(url: string, token: string | null = ADMIN_TOKEN, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(new Request(url, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers }, cf: CF.iad } as RequestInit));
}

describe('admin over https only', () => {
  it('plain http to a public host: 403 https_required, right token or wrong, on every admin path', async () => {
    for (const path of ['/admin/keys', '/admin/status', '/admin/metrics', '/admin/usage', '/admin/no-such-view']) {
      for (const token of [ADMIN_TOKEN, 'not-the-token', null]) {
        const res = await get(`http://router.example.com${path}`, token);
        expect(res.status, `${path} ${token}`).toBe(403);
        const body = await res.json<{ error: { code: string; message: string; type: string } }>();
        expect(body.error.code).toBe('https_required');
        expect(body.error.type).toBe('permission_error');
        expect(body.error.message).toContain('https://router.example.com/admin/');
        expect(res.headers.get('cache-control')).toBe('no-store');
      }
    }
    const post = await exports.default.fetch(
      new Request('http://router.example.com/admin/keys', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: '{"name":"clear"}', cf: CF.iad } as RequestInit),
    );
    expect(post.status).toBe(403);
    // Nothing was created by it.
    const keys = await (await get('https://router.example.com/admin/keys')).json<{ data: { name: string }[] }>();
    expect(keys.data.map((k) => k.name)).not.toContain('clear');
  });

  it('https to the same host, and http to loopback (wrangler dev), are served', async () => {
    for (const origin of ['https://router.example.com', 'http://127.0.0.1:8787', 'http://localhost:8787', 'http://[::1]:8787']) {
      const res = await get(`${origin}/admin/keys`);
      expect(res.status, origin).toBe(200);
      await res.body?.cancel();
    }
  });

  it('answers over https carry Strict-Transport-Security, so a browser that saw the console once never sends its token over http', async () => {
    for (const path of ['/admin/keys', '/admin/', '/admin/console.js']) {
      const res = await get(`https://router.example.com${path}`, path === '/admin/keys' ? ADMIN_TOKEN : null);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('strict-transport-security'), path).toBe('max-age=31536000');
      await res.body?.cancel();
    }
    // Not over loopback http (a browser ignores it there anyway) nor on refusals over http.
    const local = await get('http://127.0.0.1:8787/admin/keys');
    expect(local.headers.get('strict-transport-security')).toBeNull();
    await local.body?.cancel();
  });

  it('a forwarded-proto header or a loopback Host header does not make plain http https', async () => {
    const spoofs: Record<string, string>[] = [{ 'x-forwarded-proto': 'https' }, { 'cf-visitor': '{"scheme":"https"}' }, { host: '127.0.0.1' }];
    for (const headers of spoofs) {
      const res = await get('http://router.example.com/admin/keys', ADMIN_TOKEN, headers);
      expect(res.status, JSON.stringify(headers)).toBe(403);
      await res.body?.cancel();
    }
  });

  it('the console over plain http is refused too; over https (or loopback) it is served, under its CSP, with no token', async () => {
    for (const path of ['/admin/', '/admin/index.html', '/admin/console.js', '/admin/console.css']) {
      const refused = await get(`http://router.example.com${path}`, null);
      expect(refused.status, path).toBe(403);
      expect((await refused.json<{ error: { code: string } }>()).error.code).toBe('https_required');
    }
    for (const origin of ['https://router.example.com', 'http://127.0.0.1:8787']) {
      const page = await get(`${origin}/admin/`, null);
      expect(page.status, origin).toBe(200);
      expect(await page.text()).toContain('console.js');
      expect(page.headers.get('content-security-policy'), origin).toContain("frame-ancestors 'none'");
      const script = await get(`${origin}/admin/console.js`, null);
      expect(script.status).toBe(200);
      expect(script.headers.get('content-type')).toContain('javascript');
      await script.body?.cancel();
    }
  });

  it('the public API is not affected: /v1 and /healthz still answer over http', async () => {
    const res = await get('http://router.example.com/healthz', null);
    expect(res.status).toBe(200);
    const models = await get('http://router.example.com/v1/models', 'sk-ler-nope');
    expect(models.status).toBe(401);
    await models.body?.cancel();
  });
});
