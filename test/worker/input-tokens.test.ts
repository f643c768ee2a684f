/**
 * `POST /v1/responses/input_tokens` through the openai SDK (`responses.inputTokens.count`),
 * only base URL and key changed: counted by the router — no node asked, no limit counted — with
 * a previous response's stored context added for the key that owns it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { call, newKey, nodeRequests, openaiClient, resetWorld } from './helpers';

const NODES = ['n-us', 'n-eu', 'n-ap'];
const sentTo = async () => (await Promise.all(NODES.map(nodeRequests))).flat().filter((r) => r.path.includes('input_tokens') || r.body !== null);

beforeEach(resetWorld);

describe('POST /v1/responses/input_tokens', () => {
  it('counts a request the way count_tokens does (about 4 characters a token), reaching no node', async () => {
    const { key } = await newKey();
    const client = openaiClient(key, { maxRetries: 0 });
    const short = await client.responses.inputTokens.count({ model: 'gpt-4o-mini', input: 'Hi' });
    expect(short.object).toBe('response.input_tokens');
    const long = await client.responses.inputTokens.count({ model: 'gpt-4o-mini', instructions: 'Be brief.', input: [{ role: 'user', content: 'x'.repeat(4_000) }] });
    // 4,000 ASCII characters ≈ 1,000 tokens, plus the instructions and the framing of two messages.
    expect(long.input_tokens).toBeGreaterThan(1_000);
    expect(long.input_tokens).toBeLessThan(1_100);
    expect(long.input_tokens - short.input_tokens).toBeGreaterThan(990);
    expect(await sentTo()).toHaveLength(0);
  });

  it("adds the stored context of the key's own previous response, and refuses another key's id", async () => {
    const { key } = await newKey();
    const client = openaiClient(key, { maxRetries: 0 });
    const first = await client.responses.create({ model: 'gpt-4o-mini', input: 'x'.repeat(2_000), max_output_tokens: 50 });
    const stored = first.usage!.input_tokens + first.usage!.output_tokens;
    const alone = await client.responses.inputTokens.count({ model: 'gpt-4o-mini', input: 'More' });
    const after = await client.responses.inputTokens.count({ model: 'gpt-4o-mini', input: 'More', previous_response_id: first.id });
    expect(after.input_tokens - alone.input_tokens).toBe(stored);

    const other = openaiClient((await newKey()).key, { maxRetries: 0 });
    const err = await other.responses.inputTokens.count({ model: 'gpt-4o-mini', input: 'More', previous_response_id: first.id }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: 'previous_response_not_found', param: 'previous_response_id' });
    const forged = await client.responses.inputTokens.count({ input: 'More', previous_response_id: 'resp_forged' }).catch((e: unknown) => e);
    expect(forged).toMatchObject({ status: 400, code: 'previous_response_not_found' });
  });

  it("refuses what it cannot count and models the key may not use, in OpenAI's shape; only POST", async () => {
    const { key } = await newKey({ models: ['gpt-4o-mini'] });
    const client = openaiClient(key, { maxRetries: 0 });
    // An id the router did not sign for this key is the unknown conversation's 404; the key's own one is a 400 (conversations.test.ts).
    await expect(client.responses.inputTokens.count({ model: 'gpt-4o-mini', input: 'Hi', conversation: 'conv_1' })).rejects.toMatchObject({ status: 404, code: 'conversation_not_found', param: 'conversation' });
    const forbidden = await client.responses.inputTokens.count({ model: 'claude-x', input: 'Hi' }).catch((e: unknown) => e);
    const asked = await client.responses.create({ model: 'claude-x', input: 'Hi' }).catch((e: unknown) => e);
    expect(forbidden).toMatchObject({ status: (asked as { status: number }).status, code: (asked as { code: string }).code });
    expect((forbidden as { status: number }).status).toBeGreaterThanOrEqual(400);
    await expect(client.responses.inputTokens.count({ model: 'gpt-4o-mini', input: 42 as unknown as string })).rejects.toMatchObject({ status: 400, param: 'input' });
    const get = await call('/v1/responses/input_tokens', { key, method: 'GET' });
    expect(get.status).toBe(405);
    expect(await get.json()).toMatchObject({ error: { code: 'method_not_allowed' } });
    const anonymous = await call('/v1/responses/input_tokens', { body: JSON.stringify({ input: 'Hi' }) });
    expect(anonymous.status).toBe(401);
    expect(await sentTo()).toHaveLength(0);
  });
});
