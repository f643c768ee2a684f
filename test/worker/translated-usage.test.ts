/**
 * Usage read from a translated answer is the usage the native path reads: an OpenAI-format
 * node that bills reasoning as output but leaves it out of `completion_tokens` (xAI's Grok,
 * Google's OpenAI-compatible Gemini: only `total_tokens` holds it) settles a Messages caller's
 * request at what it billed, JSON and stream alike — as it settles a chat caller's.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, call, chatBody, eventually, newKey, resetWorld, setNode } from './helpers';

beforeEach(resetWorld);

const HIDDEN = 500;
const windowTokens = async (id: string) =>
  (await eventually(async () => (await admin(`/keys/${id}/usage`)).json<{ window: { tokens: number }; inFlight: number }>(), (u) => u.inFlight === 0)).window.tokens;
const hideReasoning = async () => {
  for (const node of ['n-us', 'n-eu', 'n-ap']) await setNode(node, { hiddenReasoningTokens: HIDDEN });
};
const messages = (extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', max_tokens: 1000, messages: [{ role: 'user', content: 'Hi' }], ...extra });
const anthropic = (key: string, body: unknown) => call('/v1/messages', { body, headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' } });

type MessagesUsage = { input_tokens: number; output_tokens: number; cache_read_input_tokens?: number; cache_creation_input_tokens?: number };
const billed = (u: MessagesUsage) => u.input_tokens + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0) + u.output_tokens;

describe('reasoning a node bills outside completion_tokens', () => {
  it('a chat caller settles at total_tokens (the native reading)', async () => {
    await hideReasoning();
    const { id, key } = await newKey({ limits: { tpm: 100_000 } });
    const res = await call('/v1/chat/completions', { key, body: chatBody({ max_tokens: 1000 }) });
    const answer = await res.json<{ usage: { total_tokens: number; prompt_tokens: number; completion_tokens: number } }>();
    expect(answer.usage.total_tokens).toBe(answer.usage.prompt_tokens + answer.usage.completion_tokens + HIDDEN);
    expect(await windowTokens(id)).toBe(answer.usage.total_tokens);
  });

  it('a Messages caller (JSON) settles at it too, and is shown it as output', async () => {
    await hideReasoning();
    const { id, key } = await newKey({ limits: { tpm: 100_000 } });
    const res = await anthropic(key, messages());
    expect(res.status).toBe(200);
    const { usage } = await res.json<{ usage: MessagesUsage }>();
    expect(usage.output_tokens).toBeGreaterThan(HIDDEN);
    expect(await windowTokens(id)).toBe(billed(usage));
  });

  it('a Messages caller (stream) settles at it too, and is shown it as output', async () => {
    await hideReasoning();
    const { id, key } = await newKey({ limits: { tpm: 100_000 } });
    const res = await anthropic(key, messages({ stream: true }));
    expect(res.status).toBe(200);
    const text = await res.text();
    const delta = text.split('\n\n').find((e) => e.startsWith('event: message_delta'))!;
    const { usage } = JSON.parse(delta.slice(delta.indexOf('data: ') + 6)) as { usage: MessagesUsage };
    expect(usage.output_tokens).toBeGreaterThan(HIDDEN);
    expect(text).toContain('event: message_stop');
    expect(await windowTokens(id)).toBe(billed(usage));
  });
});

describe('an Anthropic stream that never reports its output (no message_delta)', () => {
  // message_start's usage counts the prompt and 1 output token: what was written is unknown, so it settles at the reservation.
  const MAX = 700;
  for (const caller of ['chat', 'messages'] as const) {
    it(`settles a ${caller} caller's request at its reservation, not at message_start's 1 output token`, async () => {
      await setNode('p-anth', { noMessageDelta: true, chunks: 20 });
      const { id, key } = await newKey({ limits: { tpm: 100_000 } });
      const body = { model: 'claude-solo', max_tokens: MAX, stream: true, messages: [{ role: 'user', content: 'Hi' }] };
      const res = caller === 'chat' ? await call('/v1/chat/completions', { key, body }) : await anthropic(key, body);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-router-node')).toBe('p-anth');
      await res.text();
      expect(await windowTokens(id)).toBeGreaterThanOrEqual(MAX);
    });
  }
});
