/**
 * Audio tokens cost audio rates: gpt-4o-audio bills a spoken reply's tokens at 8× its text
 * output rate (and audio input at 16× text input). The usage reports the audio share
 * (`completion_tokens_details.audio_tokens`); spend budgets must settle to it at
 * `price.audioOutput`, not at the text rate.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, callWithConfig, chatBody, eventually, newKey, resetWorld, setNode, testConfig } from './helpers';

beforeEach(resetWorld);

/** $1 per 1M text tokens either way, $1,000 per 1M audio output tokens: the fleet's 3-token spoken reply costs ~$0.003. */
function config() {
  const c = testConfig();
  c.models['gpt-4o-mini'].price = { input: 1, output: 1, audioOutput: 1_000 };
  return c;
}
const spoken = (extra: Record<string, unknown> = {}) => chatBody({ max_tokens: 10, modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'wav' }, ...extra });

async function settledSpend(id: string): Promise<number> {
  const { spend } = await eventually(
    async () => (await admin(`/keys/${id}/usage`)).json<{ spend: { dayUsd: number; heldUsd: number } }>(),
    (u) => u.spend.heldUsd === 0 && u.spend.dayUsd > 0,
  );
  return spend.dayUsd;
}

describe('audio output tokens', () => {
  it('settle a JSON answer at the audio output rate', async () => {
    const { key, id } = await newKey({ limits: { dailyUsd: 1 } });
    const res = await callWithConfig(config(), '/v1/chat/completions', { key, body: spoken() });
    expect(res.status).toBe(200);
    await res.text();
    // 3 audio tokens × $1,000/1M = $0.003, plus a few text prompt tokens at $1/1M.
    const usd = await settledSpend(id);
    expect(usd).toBeGreaterThan(0.003);
    expect(usd).toBeLessThan(0.0031);
  });

  it("settle a stream at the audio output rate (the include_usage chunk's details)", async () => {
    const { key, id } = await newKey({ limits: { dailyUsd: 1 } });
    const res = await callWithConfig(config(), '/v1/chat/completions', { key, body: spoken({ stream: true }) });
    expect(res.status).toBe(200);
    await res.text();
    const usd = await settledSpend(id);
    expect(usd).toBeGreaterThan(0.003);
    expect(usd).toBeLessThan(0.0031);
  });
});

describe('a budget hold on a model priced for audio', () => {
  it('is taken at the audio rates: a burst of spoken replies never spends past the budget', async () => {
    // Each reply's worst case at the audio rate: 10 tokens × $1,000/1M = $0.01, past a $0.005 day.
    const { key, id } = await newKey({ limits: { dailyUsd: 0.005 } });
    const responses = await Promise.all(Array.from({ length: 10 }, () => callWithConfig(config(), '/v1/chat/completions', { key, body: spoken() })));
    for (const res of responses) {
      expect(res.status).toBe(429);
      await res.text();
    }
    const { spend } = await (await admin(`/keys/${id}/usage`)).json<{ spend: { dayUsd: number } }>();
    expect(spend.dayUsd).toBeLessThanOrEqual(0.005);
  });
});

describe('transcriptions priced per minute', () => {
  /** A multipart upload of `bytes` (ASCII-safe, so the form survives as text). */
  async function send(key: string, bytes: number, price: Record<string, number> | null = { perMinute: 1 }) {
    const c = testConfig();
    if (price) c.models['gpt-4o-mini'].price = price;
    const form = new FormData();
    form.append('model', 'gpt-4o-mini');
    form.append('file', new File([new Uint8Array(bytes).fill(7)], 'a.flac', { type: 'audio/flac' }));
    const encoded = new Response(form);
    const body = await encoded.text();
    // A declared length, as the SDKs send: a body without one is held as the upload cap in the isolate's body budget, one at a time.
    const headers = { 'content-type': encoded.headers.get('content-type')!, 'content-length': String(body.length) };
    return callWithConfig(c, '/v1/audio/transcriptions', { key, body, headers });
  }
  async function upload(key: string, bytes: number) {
    const res = await send(key, bytes);
    expect(res.status).toBe(200);
    await res.text();
  }

  it('settle at the seconds the answer says it billed, not the minutes the upload could hold', async () => {
    // 75,000 bytes hold up to 100 s at the 6 kbit/s floor ($1.67); whisper billed 3 s ($0.05).
    await setNode('n-us', { audioSeconds: 3 });
    const { key, id } = await newKey({ limits: { dailyUsd: 5 } });
    await upload(key, 75_000);
    expect(await settledSpend(id)).toBeCloseTo(0.05, 9);
  });

  it('past the upload-size bound too (lossless silence holds hours in few bytes): spend is what the upstream billed', async () => {
    // 7,500 bytes are held as 10 s ($0.17); a FLAC of silence can last far longer, and is billed so.
    await setNode('n-us', { audioSeconds: 120 });
    const { key, id } = await newKey({ limits: { dailyUsd: 5 } });
    await upload(key, 7_500);
    expect(await settledSpend(id)).toBeCloseTo(2, 9);
  });

  it('run one at a time under a budget, so a burst cannot multiply what each spends past its hold', async () => {
    // Each upload is held at $0.17 and billed $2: five at once would spend $10 of a $5 day.
    // Every node bills the same: the live view learns from transcriptions, and may send the next upload elsewhere.
    for (const node of ['n-us', 'n-eu', 'n-ap']) await setNode(node, { audioSeconds: 120, latencyMs: 400 });
    const { key, id } = await newKey({ limits: { dailyUsd: 5 } });
    const responses = await Promise.all(Array.from({ length: 5 }, () => send(key, 7_500)));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 429, 429, 429, 429]);
    const refused = await responses.find((r) => r.status === 429)!.json<{ error: { code: string; message: string } }>();
    expect(refused.error.code).toBe('rate_limit_exceeded');
    expect(refused.error.message).toContain('one at a time under a spend budget');
    await Promise.all(responses.map((r) => r.text().catch(() => '')));
    expect(await settledSpend(id)).toBeCloseTo(2, 9);
    // The slot is free once the first has settled: the next upload is admitted.
    await upload(key, 7_500);
    expect(await settledSpend(id)).toBeCloseTo(4, 9);
  });

  it('run side by side for a key without a budget, or on a model with no price', async () => {
    await setNode('n-us', { audioSeconds: 120, latencyMs: 400 });
    const free = await newKey();
    const budgeted = await newKey({ limits: { dailyUsd: 5 } });
    const responses = await Promise.all([
      ...Array.from({ length: 3 }, () => send(free.key, 7_500)),
      ...Array.from({ length: 3 }, () => send(budgeted.key, 7_500, null)),
    ]);
    const bodies = await Promise.all(responses.map(async (r) => `${r.status} ${await r.text()}`));
    expect(bodies.filter((b) => !b.startsWith('200'))).toEqual([]);
  });
});
