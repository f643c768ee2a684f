/**
 * Audio tokens cost audio rates: gpt-4o-audio bills a spoken reply's tokens at 8× its text
 * output rate (and audio input at 16× text input). The usage reports the audio share
 * (`completion_tokens_details.audio_tokens`); spend budgets must settle to it at
 * `price.audioOutput`, not at the text rate.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, callWithConfig, chatBody, eventually, newKey, resetWorld, testConfig } from './helpers';

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
