/**
 * `POST /v1/responses/compact` (the SDK's `responses.compact`, what Codex-style agents call to
 * shrink a long conversation): served like a Responses request — a verified
 * `previous_response_id` pins the node holding it and its stored context is reserved — with
 * the output a pass may bill bounded by the context window, since the endpoint takes no cap.
 */
import OpenAI from 'openai';
import { beforeEach, describe, expect, it } from 'vitest';
import { call, callWithConfig, CF, newKey, nodeRequests, openaiClient, resetWorld, setNode, testConfig } from './helpers';

beforeEach(resetWorld);

type Compacted = { object: string; output: { type: string; role?: string }[]; usage: { input_tokens: number; output_tokens: number; total_tokens: number } };

describe('responses.compact', () => {
  it('the SDK compacts a conversation: the user messages and one compaction item, with usage', async () => {
    const { key } = await newKey();
    const client = openaiClient(key, { cf: CF.iad });
    const compacted = await client.responses.compact({
      model: 'gpt-4o-mini',
      input: [
        { role: 'user', content: 'Plan a trip' },
        { role: 'assistant', content: 'Where to?' },
        { role: 'user', content: 'Lisbon' },
      ],
    });
    expect(compacted.object).toBe('response.compaction');
    expect(compacted.output.map((item) => item.type)).toEqual(['message', 'message', 'compaction']);
    expect(compacted.usage.output_tokens).toBeGreaterThan(0);
  });

  it('a previous_response_id pins the node holding it (its bare id sent); another key\'s id is previous_response_not_found before any node is asked', async () => {
    const { key } = await newKey();
    const created = await call('/v1/responses', { key, body: { model: 'gpt-4o-mini', input: 'Hi' }, cf: CF.iad }); // stored on n-us
    const { id } = await created.json<{ id: string }>();
    const res = await call('/v1/responses/compact', { key, body: { model: 'gpt-4o-mini', previous_response_id: id }, cf: CF.fra });
    expect(res.status, await res.clone().text()).toBe(200);
    const sent = (await nodeRequests('n-us')).filter((r) => r.path === '/v1/responses/compact');
    expect(sent).toHaveLength(1);
    // The node's own id, as it stored it: the caller's id with the router's signature taken off.
    const bare = String(sent[0]!.body.previous_response_id);
    expect(bare).not.toBe(id);
    expect(id.startsWith(bare)).toBe(true);
    expect((await res.json<Compacted>()).usage.input_tokens).toBeGreaterThan(0);

    const other = await newKey();
    const stolen = await call('/v1/responses/compact', { key: other.key, body: { model: 'gpt-4o-mini', previous_response_id: id }, cf: CF.fra });
    expect(stolen.status).toBe(400);
    expect((await stolen.json<{ error: { code: string } }>()).error.code).toBe('previous_response_not_found');
    expect((await nodeRequests('n-us')).filter((r) => r.path === '/v1/responses/compact')).toHaveLength(1);
  });

  it('the output has no cap, so a pass is held at the context window: refused whole where tpm is below it, and what a node bills stays within what was held', async () => {
    const config = testConfig();
    config.models['gpt-4o-mini'].contextTokens = 20_000;
    for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { completionTokens: 15_000 }); // a long reasoning pass
    const input = 'word '.repeat(200);
    const tight = await newKey({ limits: { tpm: 10_000 } });
    const refused = await callWithConfig(config, '/v1/responses/compact', { key: tight.key, body: { model: 'gpt-4o-mini', input } });
    expect(refused.status).toBe(429);
    expect((await refused.json<{ error: { message: string } }>()).error.message).toContain('Requested 20000.');
    const { key } = await newKey({ limits: { tpm: 45_000 } });
    const responses = await Promise.all(Array.from({ length: 4 }, () => callWithConfig(config, '/v1/responses/compact', { key, body: { model: 'gpt-4o-mini', input } })));
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 429, 429]); // two windows of 20,000 fit in 45,000
    const billed = (await Promise.all(responses.filter((r) => r.status === 200).map(async (r) => (await r.json<Compacted>()).usage.total_tokens))).reduce((a, b) => a + b, 0);
    await Promise.all(responses.filter((r) => r.status !== 200).map((r) => r.text()));
    expect(billed).toBeGreaterThan(30_000);
    expect(billed).toBeLessThanOrEqual(45_000);
  });

  it('refuses stream and an output cap, which the endpoint does not take (a lax node would read them, the router would not)', async () => {
    const { key } = await newKey();
    for (const [extra, param] of [
      [{ stream: true }, 'stream'],
      [{ max_output_tokens: 100 }, 'max_output_tokens'],
    ] as const) {
      const res = await call('/v1/responses/compact', { key, body: { model: 'gpt-4o-mini', input: 'Hi', ...extra } });
      expect(res.status).toBe(400);
      expect((await res.json<{ error: { param: string } }>()).error.param).toBe(param);
    }
    const client = openaiClient(key, { maxRetries: 0 });
    await expect(client.responses.compact({ model: 'gpt-4o-mini', input: 'Hi', stream: true } as never)).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });
});
