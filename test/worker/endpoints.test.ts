/**
 * The other model endpoints through the same pipeline: legacy completions (JSON and SSE),
 * moderations, images, speech (binary, streamed), transcriptions and translations
 * (multipart, resent byte for byte on failover), and nodes declaring what they serve.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, call, callWithConfig, CF, eventually, newKey, nodeRequests, resetWorld, setNode, sseEvents, testConfig } from './helpers';
import { exports } from 'cloudflare:workers';

let key: string;
beforeEach(async () => {
  await resetWorld();
  ({ key } = await newKey());
});
const posts = async (id: string) => (await nodeRequests(id)).filter((r) => r.body !== null);
const usage = async (id: string) => (await admin(`/keys/${id}/usage`)).json<{ window: { requests: number; tokens: number }; inFlight: number }>();

describe('POST /v1/completions (legacy)', () => {
  it('answers JSON, with the usual 16-token default cap made explicit', async () => {
    const res = await call('/v1/completions', { key, body: { model: 'gpt-4o-mini', prompt: 'Say hi' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ object: 'text_completion', choices: [{ text: 'Hello from n-us #1 #2' }] });
    expect((await posts('n-us'))[0]!.body.max_tokens).toBe(16);
  });

  it('streams, ending with [DONE], usage read for limits but not shown unless asked', async () => {
    const { key: limited, id } = await newKey({ limits: { tpm: 100_000 } });
    const res = await call('/v1/completions', { key: limited, body: { model: 'gpt-4o-mini', prompt: 'Say hi', stream: true, max_tokens: 500 } });
    const list = await sseEvents(res);
    expect(list.at(-1)).toBe('[DONE]');
    expect(list.join('')).not.toContain('"usage"');
    const after = await eventually(() => usage(id), (u) => u.inFlight === 0 && u.window.tokens < 500);
    expect(after.window.tokens).toBeGreaterThan(0);
    expect(after.window.tokens).toBeLessThan(500);
  });

  it('fails over before the first byte and ends a cut stream with an error event', async () => {
    await setNode('n-us', { status: 502 });
    const moved = await call('/v1/completions', { key, body: { model: 'gpt-4o-mini', prompt: 'x', stream: true } });
    expect(moved.headers.get('x-router-node')).toBe('n-eu');
    await resetWorld();
    await setNode('n-us', { cutAfterChunks: 1, chunkDelayMs: 20 });
    const cut = await sseEvents(await call('/v1/completions', { key, body: { model: 'gpt-4o-mini', prompt: 'x', stream: true } }));
    expect(JSON.parse(cut.at(-1)!).error.code).toMatch(/^upstream_stream_/);
  });
});

describe('requests charged by request alone', () => {
  it('moderations and images count against rpm and concurrency, reserving no tokens', async () => {
    const { key: limited, id } = await newKey({ limits: { rpm: 10, tpm: 1_000, concurrency: 2 } });
    const mod = await call('/v1/moderations', { key: limited, body: { model: 'gpt-4o-mini', input: 'x'.repeat(8_000) } });
    expect(mod.status).toBe(200);
    expect(await mod.json()).toMatchObject({ results: [{ flagged: false }] });
    const img = await call('/v1/images/generations', { key: limited, body: { model: 'gpt-4o-mini', prompt: 'a cat' } });
    expect(await img.json()).toMatchObject({ data: [{ b64_json: expect.any(String) }] });
    expect(img.headers.get('x-ratelimit-remaining-requests')).toBe('8');
    const after = await eventually(() => usage(id), (u) => u.inFlight === 0);
    expect(after.window).toEqual({ requests: 2, tokens: 0, windowMs: 60_000 });
  });

  it('moderations and images fail over like every other endpoint', async () => {
    await setNode('n-us', { status: 503 });
    const mod = await call('/v1/moderations', { key, body: { model: 'gpt-4o-mini', input: 'x' } });
    const img = await call('/v1/images/generations', { key, body: { model: 'gpt-4o-mini', prompt: 'a cat' } });
    for (const res of [mod, img]) {
      expect(res.status).toBe(200);
      expect(res.headers.get('x-router-node')).toBe('n-eu');
    }
    expect(await img.json()).toMatchObject({ data: [{ revised_prompt: 'a cat (by n-eu)' }] });
  });
});

describe('POST /v1/audio/speech', () => {
  it('streams the audio back as it arrives', async () => {
    await setNode('n-us', { chunks: 4, chunkDelayMs: 200 });
    const res = await call('/v1/audio/speech', { key, body: { model: 'gpt-4o-mini', input: 'Hello', voice: 'alloy' } });
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    const reader = res.body!.getReader();
    const started = Date.now();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('ID3-n-us-chunk-0');
    expect(Date.now() - started).toBeLessThan(400); // before the upstream has finished (3 × 200 ms more)
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
    expect(rest).toContain('chunk-3');
  });

  it('fails over before the first byte; a cut after it fails the client\'s read', async () => {
    await setNode('n-us', { refuse: true });
    const moved = await call('/v1/audio/speech', { key, body: { model: 'gpt-4o-mini', input: 'Hello', voice: 'alloy' } });
    expect(moved.headers.get('x-router-node')).toBe('n-eu');
    await moved.arrayBuffer();
    await resetWorld();
    await setNode('n-us', { cutAfterChunks: 1, chunks: 3, chunkDelayMs: 20 });
    const cut = await call('/v1/audio/speech', { key, body: { model: 'gpt-4o-mini', input: 'Hello', voice: 'alloy' } });
    await expect(cut.arrayBuffer()).rejects.toThrow();
  });
});

describe('POST /v1/audio/transcriptions and /translations (multipart)', () => {
  function form(model: string): FormData {
    const f = new FormData();
    f.append('model', model);
    f.append('file', new File([new Uint8Array(5_000).fill(7)], 'meeting.mp3', { type: 'audio/mpeg' }));
    return f;
  }
  const upload = (path: string, model: string) =>
    exports.default.fetch(
      new Request(`https://router.test${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form(model), cf: CF.iad } as RequestInit),
    );

  it('routes by the form\'s model and resends the body byte for byte on failover', async () => {
    await setNode('n-us', { status: 500 });
    const res = await upload('/v1/audio/transcriptions', 'gpt-4o-mini');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ text: 'transcribed meeting.mp3 (5000 bytes) with gpt-4o-mini on n-eu' });
    const [failed] = await nodeRequests('n-us');
    const [served] = await nodeRequests('n-eu');
    expect(served!.size).toBeGreaterThan(5_000);
    expect(served!.sha256).toBe(failed!.sha256);
  });

  it('rewrites the form\'s model for a node that names it differently', async () => {
    const res = await upload('/v1/audio/translations', 'solo-model');
    expect(await res.json()).toEqual({ text: 'translated meeting.mp3 (5000 bytes) with solo-upstream-v2 on n-solo' });
  });

  it('an upstream reads the model the router judged: a part with two Content-Disposition headers cannot smuggle a second model', async () => {
    // workerd reads a part's first Content-Disposition, undici and python-multipart its last:
    // forwarded as sent, this part is "x" to the router and a second `model` to the node.
    const { key: restricted } = await newKey({ models: ['gpt-4o-mini'] });
    const B = 'b0undary';
    const part = (headers: string, value: string) => `--${B}\r\n${headers}\r\n\r\n${value}\r\n`;
    const body =
      part('Content-Disposition: form-data; name="x"\r\nContent-Disposition: form-data; name="model"', 'forbidden-model') +
      part('Content-Disposition: form-data; name="model"', 'gpt-4o-mini') +
      part('Content-Disposition: form-data; name="file"; filename="a.mp3"\r\nContent-Type: audio/mpeg', 'AAAA') +
      `--${B}--\r\n`;
    const res = await call('/v1/audio/transcriptions', { key: restricted, body, headers: { 'content-type': `multipart/form-data; boundary=${B}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ text: expect.stringMatching(/^transcribed a\.mp3 \(4 bytes\) with gpt-4o-mini on /) });
  });

  it('refuses a JSON body and a form without a file', async () => {
    expect((await call('/v1/audio/transcriptions', { key, body: { model: 'gpt-4o-mini' } })).status).toBe(400);
    const f = new FormData();
    f.append('model', 'gpt-4o-mini');
    const res = await exports.default.fetch(
      new Request('https://router.test/v1/audio/transcriptions', { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: f, cf: CF.iad } as RequestInit),
    );
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_request', param: 'file' } });
  });
});

describe('nodes declare the endpoints they serve', () => {
  it('plans only nodes that serve the endpoint', async () => {
    const config = testConfig();
    config.nodes[0].endpoints = ['chat']; // n-us: chat only
    const emb = await callWithConfig(config, '/v1/embeddings', { key, body: { model: 'text-embedding-3-small', input: 'x' }, cf: CF.iad });
    expect(emb.headers.get('x-router-node')).toBe('n-eu');
    const chat = await callWithConfig(config, '/v1/chat/completions', { key, body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }, cf: CF.iad });
    expect(chat.headers.get('x-router-node')).toBe('n-us');
  });
});

describe('a body without a model, where OpenAI picks one (the SDKs leave `model` optional)', () => {
  /** The fleet's OpenAI nodes serve gpt-4o-mini; OpenAI's default names are its aliases here. */
  const defaults = () => {
    const config = testConfig();
    config.models['gpt-4o-mini'].aliases = ['mini', 'omni-moderation-latest', 'dall-e-2', 'gpt-image-1'];
    return config;
  };
  const sent = async (path: string, body: Record<string, unknown>, config: object) => {
    const res = await callWithConfig(config, path, { key, body, cf: CF.iad });
    expect(res.status, await res.clone().text()).toBe(200);
    const [request] = await posts('n-us');
    return { res, request: request! };
  };

  it('moderations: omni-moderation-latest, routed and written into the body the node gets', async () => {
    const { request } = await sent('/v1/moderations', { input: 'hello' }, defaults());
    expect(request.body.model).toBe('gpt-4o-mini');
  });

  it("model: null is OpenAI's default too; the node never sees the null", async () => {
    const config = defaults();
    // Served under the default's own name: nothing to rename, the router writes it all the same.
    for (const node of config.nodes) if (node.id === 'n-us') node.modelMap = { 'gpt-4o-mini': 'omni-moderation-latest' };
    const { request } = await sent('/v1/moderations', { model: null, input: 'hello' }, config);
    expect(request.body.model).toBe('omni-moderation-latest');
    expect(request.raw).not.toContain('null');
  });

  it('images: dall-e-2, or gpt-image-1 when a parameter only gpt-image-1 takes is sent (the name the router prices by)', async () => {
    const config = defaults();
    config.models['gpt-4o-mini'].aliases = ['mini', 'dall-e-2'];
    await sent('/v1/images/generations', { prompt: 'a cat' }, config);
    for (const only of [{ output_format: 'webp' }, { quality: 'low' }, { size: '1536x1024' }]) {
      const refused = await callWithConfig(config, '/v1/images/generations', { key, body: { prompt: 'a cat', ...only }, cf: CF.iad });
      expect(await refused.json(), JSON.stringify(only)).toMatchObject({ error: { code: 'model_not_found', message: expect.stringContaining("'gpt-image-1'") } });
    }
    const res = await callWithConfig(config, '/v1/images/generations', { key, body: { prompt: 'a cat', output_format: 'webp' }, cf: CF.iad });
    // gpt-image-1 is not configured here: the caller learns which model it was given.
    const text = await res.text();
    expect(res.status, text).toBe(400);
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'model_not_found', message: expect.stringContaining("'gpt-image-1'") } });
  });

  it('chat still requires one (OpenAI has no default there)', async () => {
    const res = await callWithConfig(defaults(), '/v1/chat/completions', { key, body: { messages: [{ role: 'user', content: 'Hi' }] }, cf: CF.iad });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { param: 'model' } });
  });
});
