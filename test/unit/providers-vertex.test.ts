/**
 * The Vertex adapter's parts: service-account parsing, the RS256 assertion (verified with
 * node:crypto), the per-isolate token cache with injected time (reuse, refresh before
 * expiry, single flight, failures), URLs and errors — and the whole mint against the
 * fleet's token endpoint, which verifies the assertion on its own.
 */
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vertexAdapter } from '../../src/providers/vertex/adapter';
import { mapVertexError, tokenFailure } from '../../src/providers/vertex/errors';
import { importServiceAccountKey, signAssertion } from '../../src/providers/vertex/jwt';
import { parseServiceAccount, type ServiceAccount } from '../../src/providers/vertex/service-account';
import { VertexTokenCache } from '../../src/providers/vertex/token-cache';
import { vertexProbe, vertexRoute } from '../../src/providers/vertex/url';
import { startFleet, type Fleet } from '../fleet/fleet.ts';
import { foreignServiceAccount } from '../fleet/vertex.ts';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const keyFile = {
  type: 'service_account',
  project_id: 'my-project-123',
  private_key_id: 'kid-0001',
  private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  client_email: 'router@my-project-123.iam.gserviceaccount.com',
  token_uri: 'https://oauth2.googleapis.com/token',
};
const sa = (): ServiceAccount => {
  const r = parseServiceAccount(JSON.stringify(keyFile));
  if (!r.ok) throw new Error(r.reason);
  return r.value;
};

describe('service account key file', () => {
  it('parses a key file and explains a broken one without echoing the key', () => {
    expect(sa().client_email).toBe(keyFile.client_email);
    const broken = parseServiceAccount(JSON.stringify({ ...keyFile, private_key: 'MIIEv…not a pem' }));
    expect(broken).toEqual({ ok: false, reason: 'service account JSON: invalid private_key' });
    expect(parseServiceAccount('{')).toEqual({ ok: false, reason: 'service account secret is not JSON' });
    expect(parseServiceAccount(undefined)).toEqual({ ok: false, reason: 'service account secret is not set' });
    expect(parseServiceAccount(JSON.stringify({ ...keyFile, token_uri: 'http://evil.example/token' }))).toMatchObject({ ok: false });
  });
});

describe('JWT bearer assertion', () => {
  it('is RS256 over header.claims, verifiable with the public key, with iss/aud/scope/iat/exp as Google requires', async () => {
    const jwt = await signAssertion(sa(), await importServiceAccountKey(sa()), 1_700_000_000);
    const [h, c, s] = jwt.split('.') as [string, string, string];
    expect(verify('RSA-SHA256', Buffer.from(`${h}.${c}`), createPublicKey(publicKey.export({ type: 'spki', format: 'pem' })), Buffer.from(s, 'base64url'))).toBe(true);
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'kid-0001' });
    expect(JSON.parse(Buffer.from(c, 'base64url').toString())).toEqual({
      iss: keyFile.client_email,
      scope: 'https://www.googleapis.com/auth/cloud-platform',
      aud: keyFile.token_uri,
      iat: 1_700_000_000,
      exp: 1_700_003_600,
    });
  });
});

/** A token endpoint double for the pure cache tests (the fleet test below is the real one). */
function fakeEndpoint(answers: (() => Response | Promise<Response>)[]) {
  const calls: string[] = [];
  const fetchFn = (async (_url: RequestInfo | URL, init?: RequestInit) => {
    calls.push(String(init?.body));
    const next = answers.length > 1 ? answers.shift()! : answers[0]!;
    return next();
  }) as typeof fetch;
  return { calls, fetchFn };
}
const tokenAnswer = (token: string, expiresIn = 3600) => () => Response.json({ access_token: token, expires_in: expiresIn, token_type: 'Bearer' });

describe('token cache (time injected)', () => {
  it('reuses a token until 5 minutes before it expires, then mints a new one', async () => {
    let now = 1_000_000;
    const ep = fakeEndpoint([tokenAnswer('t1'), tokenAnswer('t2')]);
    const cache = new VertexTokenCache({ now: () => now, fetch: ep.fetchFn });
    expect(await cache.token(sa())).toMatchObject({ ok: true, token: 't1' });
    now += 3600_000 - 300_000 - 1;
    expect(await cache.token(sa())).toMatchObject({ ok: true, token: 't1' });
    expect(cache.mints).toBe(1);
    now += 1;
    expect(await cache.token(sa())).toMatchObject({ ok: true, token: 't2' });
    expect(cache.mints).toBe(2);
    expect(ep.calls[0]).toContain('grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=');
  });

  it('mints once for many concurrent callers (single flight)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ep = fakeEndpoint([async () => (await gate, tokenAnswer('shared')())]);
    const cache = new VertexTokenCache({ fetch: ep.fetchFn });
    const all = Promise.all(Array.from({ length: 50 }, () => cache.token(sa())));
    release();
    const results = await all;
    expect(new Set(results.map((r) => (r.ok ? r.token : r.reason)))).toEqual(new Set(['shared']));
    expect(cache.mints).toBe(1);
    expect(ep.calls).toHaveLength(1);
  });

  it('remembers a failed mint for 10 s with a reason that names the status and OAuth error, then tries again', async () => {
    let now = 0;
    const ep = fakeEndpoint([() => Response.json({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' }, { status: 400 }), tokenAnswer('t-ok')]);
    const cache = new VertexTokenCache({ now: () => now, fetch: ep.fetchFn });
    expect(await cache.token(sa())).toEqual({ ok: false, reason: 'token endpoint answered 400 invalid_grant' });
    now += 9_999;
    expect(await cache.token(sa())).toMatchObject({ ok: false });
    expect(cache.mints).toBe(1);
    now += 1;
    expect(await cache.token(sa())).toMatchObject({ ok: true, token: 't-ok' });
  });

  it('keeps serving the old token while it is still valid if the refresh fails', async () => {
    let now = 0;
    const ep = fakeEndpoint([tokenAnswer('old'), () => new Response('down', { status: 503 })]);
    const cache = new VertexTokenCache({ now: () => now, fetch: ep.fetchFn });
    await cache.token(sa());
    now = 3600_000 - 60_000; // in the refresh window, one minute left
    expect(await cache.token(sa())).toMatchObject({ ok: true, token: 'old' });
    now = 3600_000; // expired, and the failure is still remembered
    expect(await cache.token(sa())).toEqual({ ok: false, reason: 'token endpoint answered 503' });
  });

  it('an unreachable endpoint or a key that cannot sign is a reason, never a throw', async () => {
    const cache = new VertexTokenCache({ fetch: (async () => { throw new TypeError('fetch failed'); }) as typeof fetch });
    expect(await cache.token(sa())).toEqual({ ok: false, reason: 'token endpoint unreachable (network error)' });
    const badKey = { ...sa(), private_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' };
    expect(await new VertexTokenCache().token(badKey)).toMatchObject({ ok: false, reason: expect.stringContaining('could not be used to sign') });
  });
});

describe('Vertex URLs, bodies and errors', () => {
  const node = { project: 'my-project-123', region: 'europe-west4' };
  it('sends Gemini to the OpenAI-compatible endpoint as google/{model}, Claude to rawPredict / streamRawPredict', () => {
    expect(vertexRoute(node, 'gemini-2.0-flash-001', false)).toEqual({ ok: true, value: { kind: 'openapi', url: 'https://europe-west4-aiplatform.googleapis.com/v1/projects/my-project-123/locations/europe-west4/endpoints/openapi/chat/completions', model: 'google/gemini-2.0-flash-001' } });
    expect(vertexRoute(node, 'meta/llama-3.3-70b-instruct-maas', false)).toMatchObject({ value: { model: 'meta/llama-3.3-70b-instruct-maas' } });
    expect(vertexRoute(node, 'claude-sonnet-4@20250514', true)).toEqual({ ok: true, value: { kind: 'anthropic', url: 'https://europe-west4-aiplatform.googleapis.com/v1/projects/my-project-123/locations/europe-west4/publishers/anthropic/models/claude-sonnet-4%4020250514:streamRawPredict' } });
    expect(vertexRoute({ ...node, region: 'global' }, 'gemini-2.5-pro', false)).toMatchObject({ value: { url: expect.stringMatching(/^https:\/\/aiplatform\.googleapis\.com\/v1\/projects\/my-project-123\/locations\/global\//) } });
    expect(vertexProbe(node)).toEqual({ ok: true, value: { url: 'https://europe-west4-aiplatform.googleapis.com/v1/projects/my-project-123/locations/europe-west4/endpoints?pageSize=1', method: 'GET' } });
    expect(vertexRoute({ ...node, project: 'Bad Project' }, 'gemini', false)).toMatchObject({ ok: false, error: { param: 'project' } });
  });

  it('turns a chat request for Claude into a Vertex Messages body: vertex-2023-10-16, no model, the reserved cap, stream kept', () => {
    const ctx = { model: 'claude', upstreamModel: 'claude-sonnet-4@20250514', maxTokens: 256, includeUsage: true, stream: true };
    const out = vertexAdapter.translateRequest(node, { model: 'claude', max_tokens: 9999, stream: true, messages: [{ role: 'user', content: 'Hi' }] }, 'chat', ctx);
    expect(out).toEqual({ ok: true, value: { anthropic_version: 'vertex-2023-10-16', max_tokens: 256, messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }], stream: true } });
  });

  it("a chat caller's reasoning_effort reaches Claude on Vertex as thinking under the reserved cap", () => {
    const ctx = { model: 'claude', upstreamModel: 'claude-sonnet-4@20250514', maxTokens: 16_000, includeUsage: false, stream: false };
    const out = vertexAdapter.translateRequest(node, { model: 'claude', reasoning_effort: 'medium', messages: [{ role: 'user', content: 'Hi' }] }, 'chat', ctx);
    expect(out).toMatchObject({ ok: true, value: { anthropic_version: 'vertex-2023-10-16', max_tokens: 16_000, thinking: { type: 'enabled', budget_tokens: 10_000 } } });
  });

  it('maps Google errors: 429 quota is rate limited with a cooldown, 401/403/404 node faults, 400 the caller’s', () => {
    const g = (code: number, status: string) => ({ error: { code, message: `projects/123456 ${status}`, status } });
    expect(mapVertexError(429, new Headers(), g(429, 'RESOURCE_EXHAUSTED'))).toMatchObject({ fault: 'rate-limited', retryAfterMs: 5000 });
    for (const [code, status] of [[401, 'UNAUTHENTICATED'], [403, 'PERMISSION_DENIED'], [404, 'NOT_FOUND'], [500, 'INTERNAL']] as const) {
      const m = mapVertexError(code, new Headers(), [g(code, status)]);
      expect(m.fault).toBe('node');
      expect(JSON.stringify(m.body)).not.toContain('123456');
    }
    expect(mapVertexError(400, new Headers(), g(400, 'INVALID_ARGUMENT'))).toMatchObject({ fault: 'caller', body: { error: { message: 'projects/123456 INVALID_ARGUMENT' } } });
    expect(mapVertexError(429, new Headers(), { type: 'error', error: { type: 'rate_limit_error', message: 'slow' } })).toMatchObject({ fault: 'rate-limited' });
    expect(tokenFailure('token endpoint answered 400 invalid_grant')).toMatchObject({ fault: 'node', status: 502, reason: 'Vertex token: token endpoint answered 400 invalid_grant' });
  });
});

describe('against the fleet’s Vertex pair', () => {
  let fleet: Fleet;
  const url = (id: string) => fleet.nodes.find((n) => n.id === id)!.url.replace(/\/v1$/, '');
  const knobs = (id: string, patch: Record<string, unknown>) => fetch(`${fleet.controlUrl}/nodes/${id}`, { method: 'PUT', body: JSON.stringify(patch) });
  beforeAll(async () => {
    fleet = await startFleet([
      { id: 'gtok', speaks: 'vertex-token' },
      { id: 'gvx', speaks: 'vertex', knobs: { cloudRegion: 'us-central1', gcpProject: 'fleet-project' } },
    ]);
  });
  afterAll(() => fleet.close());

  it('mints a token the regional endpoint accepts, reuses it, and the endpoint refuses calls without it', async () => {
    const cache = new VertexTokenCache();
    const auth = await vertexAdapter.authHeaders(fleet.vertexServiceAccount, cache);
    if (!auth.ok) throw new Error(auth.error.reason);
    const probe = vertexProbe({ project: 'fleet-project', region: 'us-central1', baseUrl: url('gvx') });
    if (!probe.ok) throw new Error('probe');
    expect((await fetch(probe.value.url, { headers: auth.value })).status).toBe(200);
    expect((await fetch(probe.value.url)).status).toBe(401);
    expect((await fetch(probe.value.url, { headers: { authorization: 'Bearer ya29.made-up' } })).status).toBe(401);
    await vertexAdapter.authHeaders(fleet.vertexServiceAccount, cache);
    expect(cache.mints).toBe(1);
  });

  it('a key the token endpoint does not know, or a router clock two hours behind the endpoint’s, fails with a clear reason', async () => {
    const tokenUri = `${url('gtok')}/token`;
    const stranger = await vertexAdapter.authHeaders(foreignServiceAccount(tokenUri), new VertexTokenCache());
    expect(stranger).toMatchObject({ ok: false, error: { fault: 'node', reason: 'Vertex token: token endpoint answered 400 invalid_grant' } });
    await knobs('gtok', { clockOffsetMs: 2 * 3600_000 });
    try {
      expect(await vertexAdapter.authHeaders(fleet.vertexServiceAccount, new VertexTokenCache())).toMatchObject({ ok: false, error: { reason: 'Vertex token: token endpoint answered 400 invalid_grant' } });
    } finally {
      await knobs('gtok', { clockOffsetMs: 0 });
    }
  });

  it('a token past its lifetime is refused by the regional endpoint', async () => {
    await knobs('gtok', { tokenLifetimeS: 1 });
    try {
      const auth = await vertexAdapter.authHeaders(fleet.vertexServiceAccount, new VertexTokenCache());
      if (!auth.ok) throw new Error(auth.error.reason);
      await knobs('gvx', { clockOffsetMs: 2000 });
      const probe = `${url('gvx')}/v1/projects/fleet-project/locations/us-central1/endpoints`;
      expect((await fetch(probe, { headers: auth.value })).status).toBe(401);
    } finally {
      await knobs('gtok', { tokenLifetimeS: 3599 });
      await knobs('gvx', { clockOffsetMs: 0 });
    }
  });

  it('serves Claude through rawPredict only with the Vertex Messages body', async () => {
    const auth = await vertexAdapter.authHeaders(fleet.vertexServiceAccount, new VertexTokenCache());
    if (!auth.ok) throw new Error(auth.error.reason);
    const node = { project: 'fleet-project', region: 'us-central1', baseUrl: url('gvx') };
    const route = vertexRoute(node, 'claude-3-5-haiku@20241022', false);
    const ctx = { model: 'claude', upstreamModel: 'claude-3-5-haiku@20241022', maxTokens: 64, includeUsage: false, stream: false };
    const body = vertexAdapter.translateRequest(node, { model: 'claude', messages: [{ role: 'user', content: 'Hi' }] }, 'chat', ctx);
    if (!route.ok || !body.ok) throw new Error('translate');
    const res = await fetch(route.value.url, { method: 'POST', headers: { ...auth.value, 'content-type': 'application/json' }, body: JSON.stringify(body.value) });
    expect(res.status).toBe(200);
    const chat = vertexAdapter.translateJson(node, await res.json(), 'chat', ctx);
    expect(chat).toMatchObject({ ok: true, value: { object: 'chat.completion', choices: [{ message: { content: 'Hello from gvx' } }] } });
    const raw = await fetch(route.value.url, { method: 'POST', headers: { ...auth.value, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'x', max_tokens: 5, messages: [] }) });
    expect(raw.status).toBe(400);
  });
});
