/**
 * Transcriptions billed in tokens (gpt-4o-transcribe: audio and text tokens in, text out)
 * against `tpm` and spend budgets (README "API", "Usage and cost"): held at a bound the
 * router knows before the call — the audio the upload can hold at its format's lowest rate ×
 * `models.<id>.audio.inputTokensPerSecond`, the form's text, `audio.maxOutputTokens`, all
 * within `contextTokens` when the audio goes as one block — and settled to the usage the
 * answer reports, JSON or streamed. A model with no bound is refused to keys (and skipped by
 * nodes) with `tpm`. Whisper bills seconds, no tokens: as before.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, callWithConfig, eventually, newKey, nodeRequests, resetWorld, setNode, testConfig } from './helpers';

beforeEach(resetWorld);

const MINI_NODES = ['n-us', 'n-eu', 'n-ap'];
type TokenUsage = { type: 'tokens'; input_tokens: number; output_tokens: number; total_tokens: number; input_token_details: { audio_tokens: number; text_tokens: number } };

/** gpt-4o-transcribe's figures: 2,000 output tokens, a 16,000-token context (OpenAI's model page); the fleet's 10 audio tokens a second. */
const TRANSCRIBE = { inputTokensPerSecond: 10, maxOutputTokens: 2_000 };

function sttConfig(options: { upstream?: string; audio?: Record<string, unknown>; contextTokens?: number; price?: Record<string, number> } = {}) {
  const config = testConfig();
  for (const node of config.nodes) if (MINI_NODES.includes(node.id)) node.modelMap = { 'gpt-4o-mini': options.upstream ?? 'gpt-4o-transcribe' };
  const model = config.models['gpt-4o-mini'];
  if (options.audio) model.audio = options.audio;
  if (options.contextTokens) model.contextTokens = options.contextTokens;
  if (options.price) model.price = options.price;
  return config;
}

/** Audio whose rate its first bytes do not tell (FLAC: lossless silence packs minutes into a few bytes). */
const flac = (bytes: number) => new File([new Uint8Array(bytes).fill(7).map((v, i) => (i < 4 ? 'fLaC'.charCodeAt(i) : v))], 'a.flac', { type: 'audio/flac' });
/** An MP3 by its first frame's header (MPEG-1 Layer III, 128 kbit/s): at least 1,000 bytes a second, MP3's lowest bitrate. */
const mp3 = (bytes: number) => new File([new Uint8Array(bytes).fill(7).map((v, i) => [0xff, 0xfb, 0x90, 0x64][i] ?? v)], 'a.mp3', { type: 'audio/mpeg' });

function form(file: File, fields: Record<string, string> = {}): FormData {
  const f = new FormData();
  f.set('model', 'gpt-4o-mini');
  for (const [name, value] of Object.entries(fields)) f.set(name, value);
  f.set('file', file);
  return f;
}

/** Sent with its length declared, as the SDKs send it: a body without one is held as the upload cap in the isolate's body budget, one at a time. */
async function transcribe(config: object, key: string, form: FormData): Promise<Response> {
  const encoded = new Response(form);
  const body = new Uint8Array(await encoded.arrayBuffer());
  const headers = { 'content-type': encoded.headers.get('content-type')!, 'content-length': String(body.byteLength) };
  return callWithConfig(config, '/v1/audio/transcriptions', { key, body, headers });
}
const sent = async () => (await Promise.all(MINI_NODES.map(nodeRequests))).flat().filter((r) => r.path === '/v1/audio/transcriptions').length;
const windowOf = (id: string) =>
  eventually(
    async () => (await admin(`/keys/${id}/usage`)).json<{ window: { tokens: number }; inFlight: number; spend: { dayUsd: number; heldUsd: number } }>(),
    (u) => u.inFlight === 0,
  );

describe('transcriptions billed in tokens, against tpm', () => {
  it('a burst of long uploads is held at the context window each: no more run than tpm holds, and what they bill fits it', async () => {
    // Each node hears 1,300 s (13,000 audio tokens, as FLAC silence can carry in a few bytes): before, every upload of the burst ran.
    for (const node of MINI_NODES) await setNode(node, { audioSeconds: 1_300, latencyMs: 200 });
    const config = sttConfig({ audio: TRANSCRIBE, contextTokens: 16_000 });
    const { key } = await newKey({ limits: { tpm: 40_000 } });
    const responses = await Promise.all(Array.from({ length: 5 }, () => transcribe(config, key, form(flac(2_000)))));
    const served = responses.filter((r) => r.status === 200);
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 429, 429, 429]);
    const usages = await Promise.all(served.map(async (r) => (await r.json<{ usage: TokenUsage }>()).usage));
    await Promise.all(responses.filter((r) => r.status !== 200).map((r) => r.text()));
    expect(usages[0]!.input_token_details.audio_tokens).toBe(13_000);
    expect(usages.reduce((sum, u) => sum + u.total_tokens, 0)).toBeLessThanOrEqual(40_000);
  });

  it('an MP3 is held at the seconds its size allows at 8 kbit/s × the audio rate, the prompt and the output cap: at least what the node bills', async () => {
    const config = sttConfig({ audio: TRANSCRIBE });
    const body = () => form(mp3(75_000), { prompt: 'Names: Ada, Grace.' });
    const billed = await transcribe(config, (await newKey()).key, body());
    expect(billed.status).toBe(200);
    const usage = (await billed.json<{ usage: TokenUsage }>()).usage;
    expect(usage.input_token_details.text_tokens).toBeGreaterThan(0);
    const { key } = await newKey({ limits: { tpm: 1 } });
    const held = await transcribe(config, key, body());
    expect(held.status).toBe(429);
    const requested = Number(/Requested (\d+)\./.exec((await held.json<{ error: { message: string } }>()).error.message)?.[1]);
    // 75 s at 1,000 bytes a second × 10 + the form's text + 2,000.
    expect(requested).toBeGreaterThanOrEqual(750 + 2_000 + 'Names: Ada, Grace.'.length);
    expect(requested).toBeGreaterThanOrEqual(usage.total_tokens);
    expect(requested).toBeLessThan(3_000);
  });

  it('settles a JSON answer at the usage it reports, not at its hold', async () => {
    const config = sttConfig({ audio: TRANSCRIBE, contextTokens: 16_000 });
    const { key, id } = await newKey({ limits: { tpm: 100_000 } });
    const res = await transcribe(config, key, form(mp3(8_000)));
    expect(res.status).toBe(200);
    const { usage } = await res.json<{ usage: TokenUsage }>();
    expect((await windowOf(id)).window.tokens).toBe(usage.total_tokens);
  });

  it('settles a stream at the usage of its transcript.text.done event', async () => {
    const config = sttConfig({ audio: TRANSCRIBE, contextTokens: 16_000 });
    const { key, id } = await newKey({ limits: { tpm: 100_000 } });
    const res = await transcribe(config, key, form(mp3(8_000), { stream: 'true' }));
    expect(res.status).toBe(200);
    const text = await res.text();
    const done = text.split('\n\n').find((e) => e.includes('"transcript.text.done"'))!;
    const { usage } = JSON.parse(done.slice('data: '.length)) as { usage: TokenUsage };
    expect(usage.total_tokens).toBeGreaterThan(0);
    expect((await windowOf(id)).window.tokens).toBe(usage.total_tokens);
  });

  it('stream is typed as OpenAI reads it: another spelling a lax node reads as true (1, True) is a 400, nothing sent', async () => {
    const { key } = await newKey({ limits: { tpm: 100_000 } });
    for (const stream of ['1', 'True']) {
      const res = await transcribe(sttConfig({ audio: TRANSCRIBE, contextTokens: 16_000 }), key, form(mp3(8_000), { stream }));
      expect(res.status).toBe(400);
      expect((await res.json<{ error: { param: string } }>()).error.param).toBe('stream');
    }
    expect(await sent()).toBe(0);
  });

  it('a stream cut before its transcript.text.done stays at its hold', async () => {
    for (const node of MINI_NODES) await setNode(node, { cutAfterChunks: 2, chunkDelayMs: 50 });
    const config = sttConfig({ audio: TRANSCRIBE, contextTokens: 16_000 });
    const { key, id } = await newKey({ limits: { tpm: 100_000 } });
    const res = await transcribe(config, key, form(mp3(8_000), { stream: 'true' }));
    expect(res.status).toBe(200);
    await res.text().catch(() => '');
    // 8 s × 10 + the output cap: the node may have billed up to it.
    expect((await windowOf(id)).window.tokens).toBeGreaterThanOrEqual(80 + 2_000);
  });

  it('without a figure for the model (no audio config, no context) a tpm key is refused (403 tokens_unbounded), nothing sent; a key without limits is served', async () => {
    const config = sttConfig();
    const { key } = await newKey({ limits: { tpm: 1_000_000 } });
    const res = await transcribe(config, key, form(mp3(8_000)));
    expect(res.status).toBe(403);
    const { error } = await res.json<{ error: { code: string; type: string; message: string } }>();
    expect(error).toMatchObject({ code: 'tokens_unbounded', type: 'permission_error' });
    expect(error.message).toContain('audio');
    expect(await sent()).toBe(0);
    const free = await transcribe(config, (await newKey()).key, form(mp3(8_000)));
    expect(free.status).toBe(200);
    await free.text();
  });

  it('audio of a format whose rate its size does not bound (FLAC), without a context window: refused to a tpm key (param file)', async () => {
    const { key } = await newKey({ limits: { tpm: 1_000_000 } });
    const res = await transcribe(sttConfig({ audio: TRANSCRIBE }), key, form(flac(8_000)));
    expect(res.status).toBe(403);
    expect((await res.json<{ error: { code: string; param: string } }>()).error).toMatchObject({ code: 'tokens_unbounded', param: 'file' });
    expect(await sent()).toBe(0);
  });

  it('chunking_strategy (each chunk a pass of its own: prompt and output again, past the context window) is refused to a tpm key', async () => {
    const { key } = await newKey({ limits: { tpm: 1_000_000 } });
    const res = await transcribe(sttConfig({ audio: TRANSCRIBE, contextTokens: 16_000 }), key, form(mp3(8_000), { chunking_strategy: 'auto' }));
    expect(res.status).toBe(403);
    expect((await res.json<{ error: { code: string; param: string } }>()).error).toMatchObject({ code: 'tokens_unbounded', param: 'chunking_strategy' });
    expect(await sent()).toBe(0);
  });

  it('a node with a tpm quota skips a transcription it has no bound for; another node serves it', async () => {
    const config = sttConfig();
    for (const node of config.nodes) if (node.id === 'n-us') node.limits = { tpm: 1_000_000 };
    const res = await transcribe(config, (await newKey()).key, form(mp3(8_000)));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).not.toBe('n-us');
    await res.text();
    expect(await nodeRequests('n-us')).toHaveLength(0);
  });

  it('whisper bills seconds, no tokens: served to a tpm key as before', async () => {
    const { key } = await newKey({ limits: { tpm: 10 } });
    const res = await transcribe(sttConfig({ upstream: 'whisper-1' }), key, form(flac(8_000)));
    expect(res.status).toBe(200);
    await res.text();
  });
});

describe('transcriptions billed in tokens, under a spend budget', () => {
  it('on a model priced by tokens: held at the bound, settled at the usage billed (before: refused, cost_unbounded)', async () => {
    const price = { input: 2.5, audioInput: 6, output: 10 };
    const config = sttConfig({ audio: TRANSCRIBE, contextTokens: 16_000, price });
    const { key, id } = await newKey({ limits: { dailyUsd: 1 } });
    const res = await transcribe(config, key, form(mp3(8_000), { prompt: 'Names: Ada.' }));
    expect(res.status).toBe(200);
    const { usage } = await res.json<{ usage: TokenUsage }>();
    const text = usage.input_tokens - usage.input_token_details.audio_tokens;
    const billed = (usage.input_token_details.audio_tokens * price.audioInput + text * price.input + usage.output_tokens * price.output) / 1e6;
    const { spend } = await eventually(
      () => admin(`/keys/${id}/usage`).then((r) => r.json<{ spend: { dayUsd: number; heldUsd: number } }>()),
      (u) => u.spend.heldUsd === 0 && u.spend.dayUsd > 0,
    );
    expect(spend.dayUsd).toBeCloseTo(billed, 9);
  });

  it('the hold is the worst case: a budget smaller than one upload\'s bound refuses it', async () => {
    // 16,000 tokens at the dearest rate ($10 per 1M output, $6 audio in): at least $0.02 beside the prompt, past $0.01.
    const config = sttConfig({ audio: TRANSCRIBE, contextTokens: 16_000, price: { input: 2.5, audioInput: 6, output: 10 } });
    const { key } = await newKey({ limits: { dailyUsd: 0.01 } });
    const res = await transcribe(config, key, form(flac(8_000)));
    expect(res.status).toBe(429);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe('insufficient_quota');
    expect(await sent()).toBe(0);
  });

  it('run side by side: the token hold is a bound, so uploads need not run one at a time as per-minute ones do', async () => {
    for (const node of MINI_NODES) await setNode(node, { latencyMs: 400 });
    const config = sttConfig({ audio: TRANSCRIBE, contextTokens: 16_000, price: { input: 2.5, audioInput: 6, output: 10 } });
    const { key } = await newKey({ limits: { dailyUsd: 1 } });
    const responses = await Promise.all(Array.from({ length: 3 }, () => transcribe(config, key, form(mp3(8_000)))));
    const bodies = await Promise.all(responses.map(async (r) => `${r.status} ${await r.text()}`));
    expect(bodies.filter((b) => !b.startsWith('200'))).toEqual([]);
  });

  it('without a bound on a token-priced model: refused to a budgeted key (403 cost_unbounded)', async () => {
    const { key } = await newKey({ limits: { dailyUsd: 1 } });
    const res = await transcribe(sttConfig({ price: { input: 2.5, output: 10 } }), key, form(mp3(8_000)));
    expect(res.status).toBe(403);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe('cost_unbounded');
  });
});

describe('speech billed in tokens (gpt-4o-mini-tts: text in, audio tokens out), against tpm and budgets', () => {
  const ttsConfig = (options: { audio?: Record<string, unknown>; price?: Record<string, number>; upstream?: string } = {}) => sttConfig({ upstream: 'gpt-4o-mini-tts', ...options });
  const say = (config: object, key: string, extra: Record<string, unknown> = {}) =>
    callWithConfig(config, '/v1/audio/speech', { key, body: { model: 'gpt-4o-mini', input: 'Hello there.', voice: 'alloy', instructions: 'Slowly.', ...extra } });
  const spoken = async () => (await Promise.all(MINI_NODES.map(nodeRequests))).flat().filter((r) => r.path === '/v1/audio/speech').length;
  type SpeechUsage = { input_tokens: number; output_tokens: number; total_tokens: number };
  const doneUsage = (text: string) => JSON.parse(text.split('\n\n').find((e) => e.includes('"speech.audio.done"'))!.slice('data: '.length)).usage as SpeechUsage;

  it('without audio.maxOutputTokens the audio it writes has no bound: refused to a tpm key (403 tokens_unbounded), nothing sent', async () => {
    const { key } = await newKey({ limits: { tpm: 1_000_000 } });
    const res = await say(ttsConfig(), key);
    expect(res.status).toBe(403);
    const { error } = await res.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe('tokens_unbounded');
    expect(error.message).toContain('maxOutputTokens');
    expect(await spoken()).toBe(0);
  });

  it('held at its text (input and instructions) + audio.maxOutputTokens, and settled at the usage of a stream\'s speech.audio.done', async () => {
    const config = ttsConfig({ audio: { maxOutputTokens: 2_000 } });
    const tight = await newKey({ limits: { tpm: 2_000 } });
    const refused = await say(config, tight.key);
    expect(refused.status).toBe(429);
    const requested = Number(/Requested (\d+)\./.exec((await refused.json<{ error: { message: string } }>()).error.message)?.[1]);
    expect(requested).toBe(2_000 + 'Hello there.'.length + 'Slowly.'.length);
    const { key, id } = await newKey({ limits: { tpm: 100_000 } });
    const res = await say(config, key, { stream_format: 'sse' });
    expect(res.status).toBe(200);
    const usage = doneUsage(await res.text());
    expect(usage.output_tokens).toBe(75);
    expect((await windowOf(id)).window.tokens).toBe(usage.total_tokens);
  });

  it('instructions that are not a string (which a lax node may read as their JSON) are held as their JSON', async () => {
    const { key } = await newKey({ limits: { tpm: 1 } });
    const res = await say(ttsConfig({ audio: { maxOutputTokens: 2_000 } }), key, { instructions: ['x'.repeat(500)] });
    expect(res.status).toBe(429);
    const requested = Number(/Requested (\d+)\./.exec((await res.json<{ error: { message: string } }>()).error.message)?.[1]);
    expect(requested).toBe(2_000 + 'Hello there.'.length + JSON.stringify(['x'.repeat(500)]).length);
  });

  it('binary speech reports no usage: it stays at its hold', async () => {
    const { key, id } = await newKey({ limits: { tpm: 100_000 } });
    const res = await say(ttsConfig({ audio: { maxOutputTokens: 2_000 } }), key);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect((await windowOf(id)).window.tokens).toBe(2_000 + 'Hello there.'.length + 'Slowly.'.length);
  });

  it('tts-1 bills characters, no tokens: served to a tpm key, nothing held', async () => {
    const { key, id } = await newKey({ limits: { tpm: 10 } });
    const res = await say(ttsConfig({ upstream: 'tts-1' }), key);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect((await windowOf(id)).window.tokens).toBe(0);
  });

  it('under a budget on a model priced by tokens: held at the bound, settled at the stream\'s usage (before: refused, cost_unbounded)', async () => {
    const price = { input: 0.6, output: 12 };
    const { key, id } = await newKey({ limits: { dailyUsd: 1 } });
    const res = await say(ttsConfig({ audio: { maxOutputTokens: 2_000 }, price }), key, { stream_format: 'sse' });
    expect(res.status).toBe(200);
    const usage = doneUsage(await res.text());
    const { spend } = await eventually(
      () => admin(`/keys/${id}/usage`).then((r) => r.json<{ spend: { dayUsd: number; heldUsd: number } }>()),
      (u) => u.spend.heldUsd === 0 && u.spend.dayUsd > 0,
    );
    expect(spend.dayUsd).toBeCloseTo((usage.input_tokens * price.input + usage.output_tokens * price.output) / 1e6, 9);
  });
});
