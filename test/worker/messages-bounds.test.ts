/**
 * What a Messages request reserves against what an Anthropic node bills for it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { call, newKey, nodeRequests, resetWorld } from './helpers';

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
