/**
 * Wrong admin tokens are throttled (README "Admin API"): per client address (CF-Connecting-IP;
 * an IPv6 address by its /64) an address past `admin.maxFailures` in the window is a 429 with
 * Retry-After — for the right token too, so the refusal tells nothing about a guess — while
 * the right token keeps working from every other address. Past `admin.globalFailures` from
 * everywhere, each address gets only `admin.pressuredFailures`. The counts live in Durable
 * Objects: a fresh isolate refuses as the old one did.
 */
import { env, exports } from 'cloudflare:workers';
import { createExecutionContext, runDurableObjectAlarm, waitOnExecutionContext } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { resetIsolate } from '../../src/isolate';
import { ADMIN_TOKEN, CF, resetWorld, testConfig } from './helpers';

beforeEach(resetWorld);

function request(ip: string | null, token: string | null): Request {
  const headers = new Headers(token ? { authorization: `Bearer ${token}` } : {});
  if (ip) headers.set('cf-connecting-ip', ip);
  return new Request('https://router.test/admin/keys', { headers, cf: CF.iad } as RequestInit);
}

/** Through the Worker as deployed (the test config: default throttle settings). */
async function send(ip: string | null, token: string | null): Promise<Response> {
  const res = await exports.default.fetch(request(ip, token));
  await res.clone().body?.cancel();
  return res;
}

/** With `admin` settings of its own; waits for the request's background work (the global count). */
async function sendWith(admin: Record<string, number>, ip: string, token: string): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(request(ip, token) as never, { ...env, ROUTER_CONFIG: JSON.stringify({ ...testConfig(), admin }) } as never, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

describe('wrong admin tokens are throttled', () => {
  it('an address past 10 wrong tokens in 15 min gets 429 + Retry-After, right token or wrong; other addresses still get in', async () => {
    const attacker = '203.0.113.9';
    for (let i = 0; i < 10; i++) expect((await send(attacker, `guess-${i}`)).status, `guess ${i}`).toBe(401);
    for (const token of ['guess-10', ADMIN_TOKEN]) {
      const res = await send(attacker, token);
      expect(res.status, token).toBe(429);
      const seconds = Number(res.headers.get('retry-after'));
      expect(seconds).toBeGreaterThan(880);
      expect(seconds).toBeLessThanOrEqual(900);
      const body = await res.json<{ error: { code: string } }>();
      expect(body.error.code).toBe('admin_auth_throttled');
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
    // The operator, anywhere else, is not locked out.
    expect((await send('198.51.100.20', ADMIN_TOKEN)).status).toBe(200);
    expect((await send('2001:db8:ffff::1', ADMIN_TOKEN)).status).toBe(200);
  });

  it('a fresh isolate refuses the address as the old one did: the count is in its Durable Object, not the isolate', async () => {
    const attacker = '203.0.113.10';
    for (let i = 0; i < 10; i++) await send(attacker, `guess-${i}`);
    for (const token of ['guess-10', ADMIN_TOKEN]) {
      resetIsolate();
      expect((await send(attacker, token)).status, token).toBe(429);
    }
    // Sending no token at all guesses nothing and is not counted anywhere else.
    resetIsolate();
    expect((await send('203.0.113.11', null)).status).toBe(401);
  });

  it('IPv6 addresses count by their /64: new addresses in the same block get no new allowance', async () => {
    for (let i = 1; i <= 10; i++) expect((await send(`2001:db8:1:2::${i.toString(16)}`, `guess-${i}`)).status).toBe(401);
    expect((await send('2001:db8:1:2:ffff:ffff:ffff:ffff', ADMIN_TOKEN)).status).toBe(429);
    expect((await send('2001:db8:1:3::1', ADMIN_TOKEN)).status).toBe(200);
  });

  it('the right token asks the address object at most once a minute per isolate: the console polling makes no call', async () => {
    const ip = '203.0.113.13';
    expect((await send(ip, ADMIN_TOKEN)).status).toBe(200);
    // The address is made to refuse behind this isolate's back (as wrong tokens through other isolates would).
    const object = env.AUTH_THROTTLE.getByName(`addr:${ip}`);
    for (let i = 0; i < 10; i++) await object.fail(10, 900_000);
    expect((await send(ip, ADMIN_TOKEN)).status).toBe(200);
    // A fresh isolate asks, and hears it.
    resetIsolate();
    expect((await send(ip, ADMIN_TOKEN)).status).toBe(429);
  });

  it('an isolate that has heard an address is refused answers it with no call to the object', async () => {
    const ip = '203.0.113.14';
    for (let i = 0; i < 10; i++) await send(ip, `guess-${i}`);
    expect((await send(ip, 'guess-10')).status).toBe(429);
    // The object forgets (its alarm, run early): only this isolate's memory can still refuse.
    expect(await runDurableObjectAlarm(env.AUTH_THROTTLE.getByName(`addr:${ip}`))).toBe(true);
    expect((await send(ip, ADMIN_TOKEN)).status).toBe(429);
    resetIsolate();
    expect((await send(ip, ADMIN_TOKEN)).status).toBe(200);
  });

  it('the window slides: once the failures have left it, the right token from that address works again', async () => {
    const admin = { maxFailures: 2, failureWindowSeconds: 1 };
    const ip = '203.0.113.12';
    expect((await sendWith(admin, ip, 'a')).status).toBe(401);
    expect((await sendWith(admin, ip, 'b')).status).toBe(401);
    const refused = await sendWith(admin, ip, ADMIN_TOKEN);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await sendWith(admin, ip, ADMIN_TOKEN)).status).toBe(200);
  });

  it('past globalFailures from many addresses, each address gets only pressuredFailures; a clean address still gets in', async () => {
    const admin = { maxFailures: 10, globalFailures: 5, pressuredFailures: 1 };
    for (let i = 1; i <= 5; i++) expect((await sendWith(admin, `192.0.2.${i}`, 'guess')).status).toBe(401);
    // The botnet's next address: one guess, then refused.
    expect((await sendWith(admin, '192.0.2.99', 'guess')).status).toBe(401);
    expect((await sendWith(admin, '192.0.2.99', 'guess')).status).toBe(429);
    expect((await sendWith(admin, '192.0.2.99', ADMIN_TOKEN)).status).toBe(429);
    // The operator, from an address that sent no wrong token, is let in.
    expect((await sendWith(admin, '198.51.100.30', ADMIN_TOKEN)).status).toBe(200);
  });
});
