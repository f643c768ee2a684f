/**
 * An OpenAI caller's `reasoning_effort` on a model served by an Anthropic node: the node (which
 * holds thinking requests to Claude's rules and answers them with a thinking block first)
 * receives `thinking` with a budget under the reserved cap; the caller gets plain chat, the
 * thinking's tokens in its usage. Steps Claude would refuse with thinking go without it (tool
 * results after a tool call, a cap too small, a temperature, low top_p or forced tool the caller
 * set, which Claude refuses alongside thinking).
 */
import OpenAI from 'openai';
import { beforeEach, describe, expect, it } from 'vitest';
import { call, newKey, nodeRequests, openaiClient, resetWorld, readChatStream } from './helpers';

const tools = [{ type: 'function' as const, function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
const claude = (extra: Record<string, unknown> = {}) => ({ model: 'claude-solo', messages: [{ role: 'user', content: 'Hi' }], ...extra });

let client: OpenAI;
beforeEach(async () => {
  await resetWorld();
  const { key } = await newKey();
  client = openaiClient(key);
});

describe('reasoning_effort → Claude extended thinking', () => {
  it('the OpenAI SDK asks for medium effort: the node thinks with 10,000 of the 16,000-token cap, the caller gets plain chat with the thinking tokens in usage', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'claude-solo', messages: [{ role: 'user', content: 'Is 1,001 prime?' }], reasoning_effort: 'medium', max_tokens: 16_000 })
      .withResponse();
    expect(response.headers.get('x-router-node')).toBe('p-anth');
    const [sent] = await nodeRequests('p-anth');
    expect(sent!.body).toMatchObject({ model: 'claude-solo-sim', max_tokens: 16_000, thinking: { type: 'enabled', budget_tokens: 10_000 } });
    expect(sent!.body).not.toHaveProperty('reasoning_effort');
    expect(data.choices[0]!.message).toEqual({ role: 'assistant', content: 'Hello from p-anth', refusal: null });
    expect(JSON.stringify(data)).not.toMatch(/think|signature/i);
    // The fleet's answer: 3 tokens of text and 12 of thinking.
    expect(data.usage?.completion_tokens).toBe(15);
  });

  it('streams: thinking and signature deltas never reach the caller, the text and usage do', async () => {
    const stream = await client.chat.completions.create({ model: 'claude-solo', messages: [{ role: 'user', content: 'Hi' }], reasoning_effort: 'high', max_tokens: 40_000, stream: true, stream_options: { include_usage: true } });
    const { text, raw, completion } = await readChatStream(stream);
    expect(text).toBe('Hello from p-anth #1 #2');
    expect(raw).not.toMatch(/think|signature/i);
    expect(completion).toBe(15);
    const [sent] = await nodeRequests('p-anth');
    expect(sent!.body).toMatchObject({ stream: true, max_tokens: 40_000, thinking: { type: 'enabled', budget_tokens: 32_000 } });
  });

  it('a tool loop: the call thinks, the step returning its result does not (Claude would want its thinking block back), and both are served', async () => {
    const { key } = await newKey();
    const first = await call('/v1/chat/completions', { key, body: claude({ tools, reasoning_effort: 'low', max_tokens: 8_000 }) });
    expect(first.status).toBe(200);
    const answer = (await first.json()) as { choices: { message: { content: string | null; tool_calls: { id: string; type: 'function'; function: { name: string; arguments: string } }[] }; finish_reason: string }[] };
    expect(answer.choices[0]!.finish_reason).toBe('tool_calls');
    expect(answer.choices[0]!.message.content).toBeNull();
    const call0 = answer.choices[0]!.message.tool_calls[0]!;
    const messages = [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: null, tool_calls: [call0] }, { role: 'tool', tool_call_id: call0.id, content: 'sunny' }];
    const second = await call('/v1/chat/completions', { key, body: claude({ tools, reasoning_effort: 'low', max_tokens: 8_000, messages }) });
    expect(second.status).toBe(200);
    expect(((await second.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe('Hello from p-anth');
    const [asked, returned] = await nodeRequests('p-anth');
    expect(asked!.body).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 4_096 } });
    expect(returned!.body).not.toHaveProperty('thinking');
  });

  it('a cap that cannot hold the 1,024-token minimum and 1,024 to answer: served without thinking, at the cap', async () => {
    const { key } = await newKey();
    const res = await call('/v1/chat/completions', { key, body: claude({ reasoning_effort: 'high', max_tokens: 2_000 }) });
    expect(res.status).toBe(200);
    const [sent] = await nodeRequests('p-anth');
    expect(sent!.body).toMatchObject({ max_tokens: 2_000 });
    expect(sent!.body).not.toHaveProperty('thinking');
    // With room for both, the same effort thinks within the cap.
    await call('/v1/chat/completions', { key, body: claude({ reasoning_effort: 'high', max_tokens: 2_048 }) });
    expect((await nodeRequests('p-anth'))[1]!.body).toMatchObject({ thinking: { budget_tokens: 1_024 } });
  });

  it('temperature 0.2 or a forced tool beside reasoning_effort: served by Claude without thinking, the caller\'s settings kept (as before effort reached Claude)', async () => {
    const { key } = await newKey({ models: ['claude-solo'] });
    const warm = await call('/v1/chat/completions', { key, body: claude({ reasoning_effort: 'high', temperature: 0.2, max_tokens: 40_000 }) });
    expect(warm.status).toBe(200);
    const forced = await call('/v1/chat/completions', { key, body: claude({ tools, tool_choice: 'required', reasoning_effort: 'low', max_tokens: 8_000 }) });
    expect(forced.status).toBe(200);
    const [first, second] = await nodeRequests('p-anth');
    expect(first!.body).toMatchObject({ temperature: 0.2, max_tokens: 40_000 });
    expect(first!.body).not.toHaveProperty('thinking');
    expect(second!.body).toMatchObject({ tool_choice: { type: 'any' } });
    expect(second!.body).not.toHaveProperty('thinking');
  });
});

describe('the fleet Anthropic node checks thinking as Claude does', () => {
  it('a Messages caller passing thinking through with temperature 0.5, or a tool result with no thinking block before it, gets the node\'s 400', async () => {
    const { key } = await newKey();
    const send = (body: Record<string, unknown>) => call('/v1/messages', { key, body: { model: 'claude-solo', max_tokens: 4_000, thinking: { type: 'enabled', budget_tokens: 2_000 }, ...body } });
    const hot = await send({ temperature: 0.5, messages: [{ role: 'user', content: 'Hi' }] });
    expect(hot.status).toBe(400);
    expect(await hot.json()).toMatchObject({ error: { message: expect.stringContaining('`temperature` may only be set to 1 when thinking is enabled') } });
    const loop = await send({
      tools: [{ name: 'weather', input_schema: { type: 'object' } }],
      messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'weather', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] },
      ],
    });
    expect(loop.status).toBe(400);
    expect(await loop.json()).toMatchObject({ error: { message: expect.stringContaining('a final `assistant` message must start with a thinking block') } });
  });
});
