/**
 * Bedrock and Vertex nodes in the request path (issue 21), against the fleet's strict
 * simulations: a Bedrock runtime that verifies SigV4 with its own implementation and speaks
 * Converse (JSON and AWS's binary event stream), and a Vertex pair whose token endpoint
 * verifies the service account's JWT assertion and whose regions accept only its tokens.
 * The tests run the Worker with their own config (the cloud nodes + one OpenAI node for
 * failover) and the cloud secrets, so the shared test config is untouched.
 */
import { env } from 'cloudflare:workers';
import { createExecutionContext } from 'cloudflare:test';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import { probeNode } from '../../src/health/probe';
import worker from '../../src/index';
import { FLEET_AWS_KEYS } from '../fleet/bedrock.ts';
import { CONTEXT_CACHE_TOKENS } from '../fleet/vertex.ts';
import { admin, ADMIN_TOKEN, eventually, newKey, nodeRequests, resetWorld, setNode } from './helpers';

const CONTROL = () => (env as unknown as { FLEET_CONTROL_URL: string }).FLEET_CONTROL_URL;
const IAD = { colo: 'IAD', latitude: '38.95', longitude: '-77.45', country: 'US', continent: 'NA' };
const FRA = { colo: 'FRA', latitude: '50.05', longitude: '8.60', country: 'DE', continent: 'EU' };
const ORD = { colo: 'ORD', latitude: '41.98', longitude: '-87.90', country: 'US', continent: 'NA' };

let urls: Record<string, string> = {};
let serviceAccount = '';
/** The trusted key file with its token_uri given a query: a cache of its own for one test. */
const saFor = (tag: string) => {
  const sa = JSON.parse(serviceAccount) as { token_uri: string };
  return JSON.stringify({ ...sa, token_uri: `${sa.token_uri}?case=${tag}` });
};

beforeAll(async () => {
  const nodes = await (await fetch(`${CONTROL()}/nodes`)).json<{ id: string; url: string }[]>();
  urls = Object.fromEntries(nodes.map((n) => [n.id, n.url.replace(/\/v1$/, '')]));
  serviceAccount = (await (await fetch(`${CONTROL()}/vertex-service-account`)).json<{ json: string }>()).json;
});
beforeEach(resetWorld);

const PRICE = { input: 1, cachedInput: 0.1, cacheWrite: 1.25, output: 5 };

function cloudConfig() {
  const base = JSON.parse(env.ROUTER_CONFIG as unknown as string) as Record<string, unknown>;
  const vertexNode = (id: string, region: string, lat: number, lon: number) => ({
    id, provider: 'vertex', baseUrl: urls[id], region, lat, lon, models: ['gemini-flash', 'claude-vx'],
    modelMap: { 'gemini-flash': 'google/gemini-2.0-flash-001', 'claude-vx': 'claude-3-5-haiku@20241022' },
    vertex: { project: 'fleet-project', region, serviceAccountEnv: 'VERTEX_SA' },
  });
  return {
    ...base,
    nodes: [
      {
        id: 'bedrock-use1', provider: 'bedrock', baseUrl: urls['bedrock-use1'], region: 'us-east-1', lat: 39.04, lon: -77.49, models: ['claude-haiku', 'claude-opus'],
        modelMap: { 'claude-haiku': 'us.anthropic.claude-3-5-haiku-20241022-v1:0', 'claude-opus': 'us.anthropic.claude-opus-4-6-v1:0' },
        bedrock: { region: 'us-east-1', accessKeyIdEnv: 'AWS_ID', secretAccessKeyEnv: 'AWS_SECRET' },
      },
      {
        id: 'bedrock-euc1', provider: 'bedrock', baseUrl: urls['bedrock-euc1'], region: 'eu-central-1', lat: 50.11, lon: 8.68, models: ['claude-haiku'],
        modelMap: { 'claude-haiku': 'eu.anthropic.claude-3-5-haiku-20241022-v1:0' },
        bedrock: { region: 'eu-central-1', accessKeyIdEnv: 'AWS_TMP_ID', secretAccessKeyEnv: 'AWS_TMP_SECRET', sessionTokenEnv: 'AWS_TMP_TOKEN' },
      },
      vertexNode('vertex-usc1', 'us-central1', 41.26, -95.86),
      vertexNode('vertex-euw4', 'europe-west4', 53.44, 6.84),
      // An OpenAI-compatible node far away serving Gemini too: where Vertex fails over to.
      { id: 'n-solo', baseUrl: `${urls['n-solo']}/v1`, region: 'ap-southeast', lat: -33.87, lon: 151.21, models: ['gemini-flash'], apiKeyEnv: 'NODE_KEY_SOLO' },
    ],
    models: { 'claude-haiku': { price: PRICE }, 'claude-opus': {}, 'gemini-flash': {}, 'claude-vx': {} },
  };
}

function withRetry(config: Record<string, unknown>, retry: Record<string, unknown>) {
  const base = config.retry as Record<string, unknown>;
  return { ...config, retry: { ...base, ...retry, breaker: { ...(base.breaker as object), ...(retry.breaker as object) } } };
}

const [permanent, temporary] = FLEET_AWS_KEYS as [(typeof FLEET_AWS_KEYS)[0], (typeof FLEET_AWS_KEYS)[0]];
/** `retry` overrides the shared config's retry settings (same overrides → same config, same isolate state). */
const cloudEnv = (sa = serviceAccount, retry?: Record<string, unknown>) => ({
  ...env,
  ROUTER_CONFIG: JSON.stringify(retry ? withRetry(cloudConfig(), retry) : cloudConfig()),
  AWS_ID: permanent.accessKeyId,
  AWS_SECRET: permanent.secretAccessKey,
  AWS_TMP_ID: temporary.accessKeyId,
  AWS_TMP_SECRET: temporary.secretAccessKey,
  AWS_TMP_TOKEN: temporary.sessionToken,
  VERTEX_SA: sa,
});

async function send(path: string, opts: { key: string; body?: unknown; cf?: Record<string, unknown>; sa?: string; method?: string; retry?: Record<string, unknown> }): Promise<Response> {
  const req = new Request(`https://router.test${path}`, {
    method: opts.method ?? (opts.body ? 'POST' : 'GET'),
    headers: { authorization: `Bearer ${opts.key}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: opts.body ? JSON.stringify(opts.body) : undefined,
    cf: opts.cf ?? IAD,
  } as RequestInit);
  // Like `callWithConfig`: background work (settlement, rollups) finishes on its own; tests poll for it.
  const res = await worker.fetch(req as never, cloudEnv(opts.sa, opts.retry) as never, createExecutionContext());
  return new Response(await res.text(), { status: res.status, headers: res.headers });
}

/**
 * What the router reserves for a chat body — the figure of the 429 a key with tpm 1 gets (no
 * node is called) — and the body served to a key without limits by the node `sa` names.
 */
async function reservedThenServed(body: unknown, sa: string): Promise<{ reserved: number; res: Response }> {
  const { key: tight } = await newKey({ limits: { tpm: 1 } });
  const refused = await send('/v1/chat/completions', { key: tight, cf: ORD, body });
  expect(refused.status).toBe(429);
  const reserved = Number(/Requested (\d+)\./.exec((await refused.json<{ error: { message: string } }>()).error.message)?.[1]);
  const { key } = await newKey();
  return { reserved, res: await send('/v1/chat/completions', { key, cf: ORD, sa, body }) };
}

const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 50, ...extra });
const dataEvents = (text: string) => text.split('\n\n').map((e) => e.trim()).filter(Boolean).map((e) => e.replace(/^data: ?/, ''));

describe('Bedrock nodes', () => {
  it('answers chat JSON through a SigV4-signed Converse call the fleet verified independently, with the cap as maxTokens', async () => {
    const { key } = await newKey();
    const res = await send('/v1/chat/completions', { key, body: chat('claude-haiku') });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('bedrock-use1');
    const body = await res.json<{ object: string; model: string; choices: { message: { content: string } }[]; usage: { completion_tokens: number } }>();
    expect(body).toMatchObject({ object: 'chat.completion', model: 'claude-haiku', choices: [{ message: { content: 'Hello from bedrock-use1' } }] });
    const [sent] = await nodeRequests('bedrock-use1');
    expect(sent!.path).toBe('/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse');
    expect(sent!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAFLEETEXAMPLE0001\/\d{8}\/us-east-1\/bedrock\/aws4_request/);
    expect(sent!.body).toMatchObject({ inferenceConfig: { maxTokens: 50 }, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] });
  });

  it('streams ConverseStream’s binary event stream as chat chunks ending in [DONE], signed with temporary credentials', async () => {
    const { key } = await newKey();
    const res = await send('/v1/chat/completions', { key, cf: FRA, body: chat('claude-haiku', { stream: true, stream_options: { include_usage: true } }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('bedrock-euc1');
    const events = dataEvents(await res.text());
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { choices: { delta?: { content?: string } }[]; usage?: { completion_tokens: number } });
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('Hello from bedrock-euc1 #1 #2');
    expect(chunks.at(-1)!.usage).toMatchObject({ completion_tokens: 3 });
    const [sent] = await nodeRequests('bedrock-euc1');
    expect(sent!.path).toMatch(/\/converse-stream$/);
    expect(sent!.headers['x-amz-security-token']).toBe(temporary.sessionToken);
  });

  it('a throttlingException inside the binary stream ends it with an error event and no [DONE]', async () => {
    const { key } = await newKey();
    await setNode('bedrock-use1', { streamException: 'throttlingException' });
    const res = await send('/v1/chat/completions', { key, body: chat('claude-haiku', { stream: true }) });
    expect(res.status).toBe(200);
    const events = dataEvents(await res.text());
    expect(events).not.toContain('[DONE]');
    expect(JSON.parse(events.at(-1)!)).toMatchObject({ error: { code: 'ThrottlingException' } });
  });

  it('an exception as the stream\'s first frame (nothing relayed yet) fails over to the next region: the caller gets a whole stream', async () => {
    const { key } = await newKey();
    await setNode('bedrock-use1', { streamExceptionFirst: 'throttlingException' });
    const res = await send('/v1/chat/completions', { key, body: chat('claude-haiku', { stream: true }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('bedrock-euc1');
    expect(dataEvents(await res.text()).at(-1)).toBe('[DONE]');
  });

  it('probes with a signed, unbilled GetFoundationModel call the fleet verifies', async () => {
    const loaded = parseConfig(JSON.stringify(cloudConfig()));
    if (!loaded.ok) throw new Error(loaded.message);
    const node = loaded.config.nodes.find((n) => n.id === 'bedrock-euc1')!;
    expect(await probeNode(node, cloudEnv(), loaded.config.health)).toMatchObject({ ok: true });
    const [probe] = await nodeRequests('bedrock-euc1');
    expect(probe).toMatchObject({ path: '/foundation-models/anthropic.claude-3-5-haiku-20241022-v1%3A0' });
    await setNode('bedrock-euc1', { cloudRegion: 'eu-west-1' });
    expect(await probeNode(node, cloudEnv(), loaded.config.health)).toMatchObject({ ok: false, error: 'HTTP 403' });
  });

  it('a signature the node refuses (wrong region scope, or over 5 minutes old) is a node fault: the request fails over', async () => {
    const { key } = await newKey();
    await setNode('bedrock-use1', { cloudRegion: 'us-west-2' });
    const wrongRegion = await send('/v1/chat/completions', { key, body: chat('claude-haiku') });
    expect(wrongRegion.status).toBe(200);
    expect(wrongRegion.headers.get('x-router-node')).toBe('bedrock-euc1');
    await resetWorld();
    await setNode('bedrock-use1', { clockOffsetMs: 10 * 60_000 });
    const expired = await send('/v1/chat/completions', { key, body: chat('claude-haiku') });
    expect(expired.status).toBe(200);
    expect(expired.headers.get('x-router-node')).toBe('bedrock-euc1');
    expect((await nodeRequests('bedrock-use1')).length).toBe(1);
  });

  it('ThrottlingException is rate limiting, not a node fault: it fails over, and when every region throttles the caller gets a 429 with the cooldown', async () => {
    const { key } = await newKey();
    await setNode('bedrock-use1', { status: 429 });
    const first = await send('/v1/chat/completions', { key, body: chat('claude-haiku') });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-router-node')).toBe('bedrock-euc1');
    await resetWorld();
    await setNode('bedrock-use1', { status: 429 });
    await setNode('bedrock-euc1', { status: 429 });
    const both = await send('/v1/chat/completions', { key, body: chat('claude-haiku') });
    expect(both.status).toBe(429);
    expect(both.headers.get('retry-after')).toBe('5');
    expect(await both.json()).toMatchObject({ error: { code: 'upstream_rate_limited' } });
  });

  it('a throttled node is cooled across requests: the next request within the cooldown never reaches it, and after the cooldown it serves again', async () => {
    const { key } = await newKey();
    // Bedrock names no delay: the router's own throttle cooldown (5 s), capped here at 1.5 s by the breaker's longest cooldown.
    const retry = { breaker: { maxCooldownMs: 1_500 } };
    await setNode('bedrock-use1', { status: 429 });
    const first = await send('/v1/chat/completions', { key, retry, body: chat('claude-haiku') });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-router-node')).toBe('bedrock-euc1');
    expect(await nodeRequests('bedrock-use1')).toHaveLength(1);
    await setNode('bedrock-use1', { status: 0 }); // healthy again, but still cooling
    const cooling = await send('/v1/chat/completions', { key, retry, body: chat('claude-haiku') });
    expect(cooling.status).toBe(200);
    expect(cooling.headers.get('x-router-node')).toBe('bedrock-euc1');
    expect(await nodeRequests('bedrock-use1')).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1_600));
    // Now euc1 throttles (the live view has learned it is the quicker one): use1 must be back in the plan.
    await setNode('bedrock-euc1', { status: 429 });
    const after = await send('/v1/chat/completions', { key, retry, body: chat('claude-haiku') });
    expect(after.status).toBe(200);
    expect(after.headers.get('x-router-node')).toBe('bedrock-use1');
    expect(await nodeRequests('bedrock-use1')).toHaveLength(2);
  });

  it('settles usage with cache reads and writes at their own prices in the usage rollup', async () => {
    const { key, id } = await newKey();
    await setNode('bedrock-use1', { cacheReadTokens: 1000, cacheWriteTokens: 200 });
    const res = await send('/v1/chat/completions', { key, body: chat('claude-haiku') });
    const { usage } = await res.json<{ usage: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details: { cached_tokens: number } } }>();
    expect(usage.prompt_tokens_details.cached_tokens).toBe(1000);
    const input = usage.prompt_tokens - 1200;
    const expected = (input * PRICE.input + 1000 * PRICE.cachedInput + 200 * PRICE.cacheWrite + usage.completion_tokens * PRICE.output) / 1e6;
    const rows = await eventually(
      async () => (await send(`/admin/usage?key=${id}`, { key: ADMIN_TOKEN })).json<{ data: { costUsd: number; inputTokens: number }[] }>(),
      (r) => r.data.length === 1,
    );
    expect(rows.data).toHaveLength(1);
    expect(rows.data[0]!.costUsd).toBeCloseTo(expected, 12);
  });
});

describe('reasoning_effort on a Claude model that cannot think (Claude 3.5 Haiku here)', () => {
  it('goes without thinking on Bedrock (Converse) and Vertex (rawPredict), as on a model that takes no such hint, instead of the node\'s 400', async () => {
    const { key } = await newKey();
    for (const [model, node, cf] of [['claude-haiku', 'bedrock-use1', IAD], ['claude-vx', 'vertex-usc1', ORD]] as const) {
      const res = await send('/v1/chat/completions', { key, cf, sa: saFor('no-think'), body: chat(model, { reasoning_effort: 'medium', max_tokens: 16_000 }) });
      expect(res.status, await res.clone().text()).toBe(200);
      const [sent] = await nodeRequests(node);
      expect(sent!.body).not.toHaveProperty('thinking');
      expect(sent!.body).not.toHaveProperty('additionalModelRequestFields');
    }
  });
});

describe('Vertex nodes', () => {
  it('sends Gemini to the OpenAI-compatible endpoint with a minted token, reused across requests', async () => {
    const { key } = await newKey();
    const sa = saFor('reuse');
    for (let i = 0; i < 3; i++) {
      const res = await send('/v1/chat/completions', { key, cf: ORD, sa, body: chat('gemini-flash') });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-router-node')).toBe('vertex-usc1');
    }
    const regional = await nodeRequests('vertex-usc1');
    expect(regional.map((r) => r.path)).toEqual(Array(3).fill('/v1/projects/fleet-project/locations/us-central1/endpoints/openapi/chat/completions'));
    expect(regional[0]!.body.model).toBe('google/gemini-2.0-flash-001');
    expect(new Set(regional.map((r) => r.headers.authorization)).size).toBe(1);
    expect((await nodeRequests('vertex-token')).length).toBe(1);
  });

  it('Gemini: a context cache named in extra_body.google.cached_content, which the node reads into the prompt and bills, is reserved at the context window', async () => {
    const body = chat('gemini-flash', { extra_body: { google: { cached_content: 'projects/fleet-project/locations/us-central1/cachedContents/42' } } });
    const { reserved, res } = await reservedThenServed(body, saFor('cache'));
    expect(res.status).toBe(200);
    const { usage } = await res.json<{ usage: { prompt_tokens: number; total_tokens: number; prompt_tokens_details?: { cached_tokens: number } } }>();
    expect(usage.prompt_tokens_details?.cached_tokens).toBe(CONTEXT_CACHE_TOKENS);
    expect(usage.total_tokens).toBeLessThanOrEqual(reserved);
  });

  it('Gemini: a PDF, video or audio sent as an image_url data URL (Gemini reads it by its MIME type) is reserved at the context window, not as one image', async () => {
    const pdf = `data:application/pdf;base64,${Buffer.from(`%PDF-1.4\n${'1 0 obj << /Type /Page >> endobj\n'.repeat(512)}`).toString('base64')}`;
    const body = { model: 'gemini-flash', max_tokens: 50, messages: [{ role: 'user', content: [{ type: 'text', text: 'Summarise' }, { type: 'image_url', image_url: { url: pdf } }] }] };
    const { reserved, res } = await reservedThenServed(body, saFor('media'));
    expect(res.status).toBe(200);
    const { usage } = await res.json<{ usage: { total_tokens: number } }>();
    expect(usage.total_tokens).toBeGreaterThan(5_000); // the node read it as the document it is
    expect(usage.total_tokens).toBeLessThanOrEqual(reserved);
  });

  it('Gemini: images are reserved at Gemini\'s figures, not gpt-4o\'s (a 3072-px image 16 tiles of 258; a small one with detail "low" still a tile)', async () => {
    const png = (w: number, h: number) => {
      const b = new Uint8Array(40);
      b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
      new DataView(b.buffer).setUint32(16, w);
      new DataView(b.buffer).setUint32(20, h);
      return `data:image/png;base64,${Buffer.from(b).toString('base64')}`;
    };
    for (const image of [{ url: png(3072, 3072) }, { url: png(100, 100), detail: 'low' }]) {
      const body = { model: 'gemini-flash', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: image }] }] };
      const { reserved, res } = await reservedThenServed(body, saFor('images'));
      expect(res.status).toBe(200);
      const { usage } = await res.json<{ usage: { total_tokens: number } }>();
      expect(usage.total_tokens, JSON.stringify(image.url.length)).toBeLessThanOrEqual(reserved);
    }
  });

  it('Gemini: input audio is reserved at 32 tokens a second, Gemini\'s rate (40 s of 1,000-byte-a-second WAV bills 1,280)', async () => {
    const wav = Buffer.alloc(44 + 40_000, 0x80);
    wav.write('RIFF', 0, 'latin1');
    wav.writeUInt32LE(36 + 40_000, 4);
    wav.write('WAVEfmt ', 8, 'latin1');
    wav.writeUInt32LE(16, 16);
    wav.writeUInt16LE(1, 20); // PCM
    wav.writeUInt16LE(1, 22); // mono
    wav.writeUInt32LE(1_000, 24); // sample rate
    wav.writeUInt32LE(1_000, 28); // byte rate
    wav.writeUInt16LE(1, 32); // block align
    wav.writeUInt16LE(8, 34);
    wav.write('data', 36, 'latin1');
    wav.writeUInt32LE(40_000, 40);
    const body = { model: 'gemini-flash', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: wav.toString('base64'), format: 'wav' } }] }] };
    const { reserved, res } = await reservedThenServed(body, saFor('audio'));
    expect(res.status).toBe(200);
    const { usage } = await res.json<{ usage: { prompt_tokens: number; total_tokens: number } }>();
    expect(usage.prompt_tokens).toBeGreaterThanOrEqual(1_280);
    expect(usage.total_tokens).toBeLessThanOrEqual(reserved);
  });

  it('translates chat for Claude on Vertex (rawPredict JSON, streamRawPredict stream)', async () => {
    const { key } = await newKey();
    const sa = saFor('claude');
    const json = await send('/v1/chat/completions', { key, cf: ORD, sa, body: chat('claude-vx') });
    expect(json.status).toBe(200);
    expect(await json.json()).toMatchObject({ object: 'chat.completion', model: 'claude-vx', choices: [{ message: { content: 'Hello from vertex-usc1' } }] });
    const stream = await send('/v1/chat/completions', { key, cf: ORD, sa, body: chat('claude-vx', { stream: true }) });
    expect(dataEvents(await stream.text()).at(-1)).toBe('[DONE]');
    const sent = await nodeRequests('vertex-usc1');
    expect(sent.map((r) => r.path.split(':').at(-1))).toEqual(['rawPredict', 'streamRawPredict']);
    expect(sent[0]!.body).toMatchObject({ anthropic_version: 'vertex-2023-10-16', max_tokens: 50 });
    expect(sent[0]!.body).not.toHaveProperty('model');
  });

  it('refreshes the token before it expires (here: lifetime 302 s, refresh 300 s before), not on expiry', async () => {
    const { key } = await newKey();
    const sa = saFor('refresh');
    await setNode('vertex-token', { tokenLifetimeS: 302 });
    await send('/v1/chat/completions', { key, cf: ORD, sa, body: chat('gemini-flash') });
    await send('/v1/chat/completions', { key, cf: ORD, sa, body: chat('gemini-flash') });
    expect((await nodeRequests('vertex-token')).length).toBe(1);
    await new Promise((r) => setTimeout(r, 2_100));
    const third = await send('/v1/chat/completions', { key, cf: ORD, sa, body: chat('gemini-flash') });
    expect(third.status).toBe(200);
    expect((await nodeRequests('vertex-token')).length).toBe(2);
    const auths = (await nodeRequests('vertex-usc1')).map((r) => r.headers.authorization);
    expect(auths[0]).toBe(auths[1]);
    expect(auths[2]).not.toBe(auths[0]);
  });

  it('a token endpoint failure is a node fault: callers fail over, never see a 500, and /admin/status says why', async () => {
    const { key } = await newKey();
    const sa = saFor('broken');
    await setNode('vertex-token', { status: 500 });
    const res = await send('/v1/chat/completions', { key, cf: ORD, sa, body: chat('gemini-flash') });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('n-solo');
    expect(await nodeRequests('vertex-usc1')).toHaveLength(0);
    const only = await send('/v1/chat/completions', { key, cf: ORD, sa, body: chat('claude-vx') });
    expect(only.status).toBe(503);
    expect(await only.json()).toMatchObject({ error: { type: expect.any(String), message: expect.any(String) } });

    // What the cron's probes record, and /admin/status shows (`lastError`), for these nodes.
    const loaded = parseConfig(JSON.stringify(cloudConfig()));
    if (!loaded.ok) throw new Error(loaded.message);
    const node = (id: string) => loaded.config.nodes.find((n) => n.id === id)!;
    expect(await probeNode(node('vertex-usc1'), cloudEnv(sa), loaded.config.health)).toMatchObject({ ok: false, error: 'Vertex token: token endpoint answered 500 internal_failure' });
    await setNode('vertex-token', { status: 0 });
    expect(await probeNode(node('vertex-euw4'), cloudEnv(saFor('probe')), loaded.config.health)).toMatchObject({ ok: true });
  });
});

describe('Anthropic Messages callers on Claude in the cloud', () => {
  const messages = (model: string, extra: Record<string, unknown> = {}) => ({ model, max_tokens: 40, system: 'Be brief.', messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi', cache_control: { type: 'ephemeral' } }] }], ...extra });
  const events = (text: string) => text.split('\n\n').filter(Boolean).map((e) => /^event: (.+)$/m.exec(e)?.[1]);

  it('Bedrock: InvokeModel keeps the Messages body (bedrock-2023-05-31, no model, the cap), JSON answered as Anthropic’s Message', async () => {
    const { key } = await newKey();
    const res = await send('/v1/messages', { key, body: messages('claude-haiku', { max_tokens: 99999 }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('bedrock-use1');
    expect(await res.json()).toMatchObject({ type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Hello from bedrock-use1' }], usage: { output_tokens: 3 } });
    const [sent] = await nodeRequests('bedrock-use1');
    expect(sent!.path).toBe('/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/invoke');
    expect(sent!.body).toEqual({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 99999, system: 'Be brief.', messages: messages('x').messages });
  });

  it('Bedrock: a context-1m beta in the body is dropped for a model configured with a smaller context (unbounded input reserves that window)', async () => {
    const { key } = await newKey();
    const res = await send('/v1/messages', { key, body: messages('claude-haiku', { anthropic_beta: ['context-1m-2025-08-07', 'token-efficient-tools-2025-02-19'] }) });
    expect(res.status).toBe(200);
    const [sent] = await nodeRequests('bedrock-use1');
    expect(sent!.body.anthropic_beta).toEqual(['token-efficient-tools-2025-02-19']);
  });

  it('Bedrock: a context-1m beta sent as a string, or in another letter case, is dropped alike', async () => {
    const { key } = await newKey();
    for (const anthropic_beta of ['token-efficient-tools-2025-02-19,Context-1M-2025-08-07', 'context-1m-2025-08-07']) {
      const res = await send('/v1/messages', { key, body: messages('claude-haiku', { anthropic_beta }) });
      expect(res.status).toBe(200);
    }
    const sent = await nodeRequests('bedrock-use1');
    expect(sent.map((r) => r.body.anthropic_beta)).toEqual([['token-efficient-tools-2025-02-19'], []]);
  });

  it('Bedrock: adaptive thinking (Claude Code on Opus 4.6) passes to InvokeModel as sent, instead of the router\'s 400', async () => {
    const { key } = await newKey();
    const res = await send('/v1/messages', { key, body: messages('claude-opus', { max_tokens: 8_000, thinking: { type: 'adaptive' }, output_config: { effort: 'medium' } }) });
    expect(res.status, await res.clone().text()).toBe(200);
    const [sent] = await nodeRequests('bedrock-use1');
    expect(sent!.body).toMatchObject({ max_tokens: 8_000, thinking: { type: 'adaptive' }, output_config: { effort: 'medium' } });
  });

  it('Bedrock and Vertex: blocks the translator does not model (a PDF in a tool result, as Claude Code\'s Read returns it; a Files API image; a server tool\'s turn) pass as sent', async () => {
    const { key } = await newKey();
    const pdf = { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' } };
    const history = [
      { role: 'user', content: 'Read the report and look it up' },
      { role: 'assistant', content: [{ type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'report' } }, { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: [] }, { type: 'tool_use', id: 'toolu_1', name: 'Read', input: { file_path: '/r.pdf' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [pdf] }, { type: 'image', source: { type: 'file', file_id: 'file_011' } }] },
    ];
    for (const [model, node, cf] of [['claude-haiku', 'bedrock-use1', IAD], ['claude-vx', 'vertex-usc1', ORD]] as const) {
      const res = await send('/v1/messages', { key, cf, sa: saFor('blocks'), body: messages(model, { messages: history }) });
      expect(res.status, await res.clone().text()).toBe(200);
      const [sent] = await nodeRequests(node);
      expect(sent!.body.messages).toEqual(history);
    }
  });

  it('provider throttling reaches a Messages caller in Anthropic\'s shape: Bedrock ThrottlingException (InvokeModel) and Vertex RESOURCE_EXHAUSTED (Gemini, translated) fail over, then a 429 rate_limit_error with retry-after', async () => {
    const { key } = await newKey();
    await setNode('bedrock-use1', { status: 429 });
    await setNode('bedrock-euc1', { status: 429 });
    const bedrock = await send('/v1/messages', { key, body: messages('claude-haiku') });
    expect(bedrock.status).toBe(429);
    expect(bedrock.headers.get('retry-after')).toBe('5');
    expect(await bedrock.json()).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(await nodeRequests('bedrock-use1')).toHaveLength(1);
    expect(await nodeRequests('bedrock-euc1')).toHaveLength(1);
    await setNode('vertex-usc1', { status: 429 });
    await setNode('vertex-euw4', { status: 429 });
    await setNode('n-solo', { status: 429, retryAfter: 7 });
    const gemini = await send('/v1/messages', { key, cf: ORD, sa: saFor('throttle'), body: messages('gemini-flash') });
    expect(gemini.status).toBe(429);
    expect(await gemini.json()).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(Number(gemini.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await nodeRequests('vertex-usc1')).length + (await nodeRequests('vertex-euw4')).length).toBe(2);
  });

  it('Bedrock: the binary InvokeModel stream reaches the caller as Anthropic’s SSE events, ending with message_stop', async () => {
    const { key } = await newKey();
    const res = await send('/v1/messages', { key, cf: FRA, body: messages('claude-haiku', { stream: true }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const names = events(await res.text());
    expect(names[0]).toBe('message_start');
    expect(names.at(-1)).toBe('message_stop');
    expect(names.filter((n) => n === 'content_block_delta')).toHaveLength(3);
    expect((await nodeRequests('bedrock-euc1'))[0]!.path).toMatch(/\/invoke-with-response-stream$/);
  });

  it('Bedrock: an InvokeModel stream that never reports its output (no message_delta) settles at its reservation, not at 1 output token', async () => {
    await setNode('bedrock-euc1', { noMessageDelta: true, chunks: 20 });
    const { id, key } = await newKey({ limits: { tpm: 100_000 } });
    const res = await send('/v1/messages', { key, cf: FRA, body: messages('claude-haiku', { stream: true, max_tokens: 700 }) });
    expect(res.status).toBe(200);
    expect(events(await res.text()).at(-1)).toBe('message_stop');
    expect((await nodeRequests('bedrock-euc1'))[0]!.path).toMatch(/\/invoke-with-response-stream$/);
    const usage = await eventually(async () => (await admin(`/keys/${id}/usage`)).json<{ window: { tokens: number }; inFlight: number }>(), (u) => u.inFlight === 0);
    expect(usage.window.tokens).toBeGreaterThanOrEqual(700);
  });

  it('Vertex: rawPredict / streamRawPredict keep the body with vertex-2023-10-16; a ValidationException-like 400 comes back in Anthropic’s shape', async () => {
    const { key } = await newKey();
    const sa = saFor('messages');
    const json = await send('/v1/messages', { key, cf: ORD, sa, body: messages('claude-vx') });
    expect(json.status).toBe(200);
    expect(await json.json()).toMatchObject({ type: 'message', content: [{ text: 'Hello from vertex-usc1' }] });
    const stream = await send('/v1/messages', { key, cf: ORD, sa, body: messages('claude-vx', { stream: true }) });
    expect(events(await stream.text()).at(-1)).toBe('message_stop');
    const sent = await nodeRequests('vertex-usc1');
    expect(sent[0]!.body).toMatchObject({ anthropic_version: 'vertex-2023-10-16', max_tokens: 40 });
    expect(sent[0]!.body).not.toHaveProperty('model');
    expect(sent[1]!.body).toMatchObject({ stream: true });
    await setNode('bedrock-use1', { status: 400, errorMessage: 'messages.0: bad block' });
    const refused = await send('/v1/messages', { key, body: messages('claude-haiku') });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'messages.0: bad block' } });
  });
});
