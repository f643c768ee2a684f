/**
 * What a Messages request reserves against what an Anthropic node bills for it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { call, newKey, nodeRequests, resetWorld, setNode } from './helpers';

beforeEach(resetWorld);

const anthropic = (key: string, body: unknown) => call('/v1/messages', { body, headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' } });
const weather = { name: 'weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } };

describe('Messages reservations', () => {
  it('a custom tool (no type, as every SDK and Claude Code send it) reserves its text, not the whole context window', async () => {
    const { key } = await newKey({ limits: { tpm: 5_000 } });
    const res = await anthropic(key, { model: 'claude-solo', max_tokens: 100, tools: [weather], messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect(await nodeRequests('p-anth')).toHaveLength(1);
  });
});

describe('tools on a Claude model', () => {
  it('a burst with a tiny tool stays within tpm though Anthropic bills its tool-use system prompt (346 tokens) on top of the tools', async () => {
    const TPM = 3_000;
    // Slow answers: every request is admitted (or refused) while the others hold their reservations.
    await setNode('p-anth', { latencyMs: 300, toolPromptTokens: 346 });
    await setNode('p-azure', { status: 503 });
    const { key } = await newKey({ limits: { tpm: TPM } });
    const body = { model: 'claude-solo', max_tokens: 5, tools: [{ name: 't', input_schema: { type: 'object' } }], messages: [{ role: 'user', content: 'Hi' }] };
    const responses = await Promise.all(Array.from({ length: 20 }, () => anthropic(key, body)));
    let billed = 0;
    for (const res of responses) {
      if (res.status !== 200) {
        expect(res.status).toBe(429);
        await res.text();
        continue;
      }
      const { usage } = (await res.json()) as { usage: { input_tokens: number; output_tokens: number } };
      billed += usage.input_tokens + usage.output_tokens;
    }
    expect(billed).toBeGreaterThan(0);
    expect(billed).toBeLessThanOrEqual(TPM);
  });
});
