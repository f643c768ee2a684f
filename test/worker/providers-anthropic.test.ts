/**
 * OpenAI chat callers served by an Anthropic node (provider `anthropic`): the request
 * translated to Messages (the node validates it strictly), the answer translated back —
 * JSON, stream, tools, images — Anthropic's errors mapped to the router's outcomes, and
 * usage with cache tokens settled and priced (`price.cacheWrite`).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, call, eventually, newKey, nodeRequests, resetWorld, setNode, sseEvents } from './helpers';

const claude = (extra: Record<string, unknown> = {}) => ({ model: 'claude-solo', messages: [{ role: 'user', content: 'Hi' }], ...extra });
const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

beforeEach(resetWorld);

describe('OpenAI chat → Anthropic node', () => {
  it('translates a JSON chat request to Messages with x-api-key, anthropic-version and max_tokens, and the answer back to a chat completion', async () => {
    const { key } = await newKey();
    const res = await call('/v1/chat/completions', { key, body: claude({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }], stop: ['END'] }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('p-anth');
    const body = (await res.json()) as { object: string; model: string; choices: { message: { content: string }; finish_reason: string }[]; usage: { prompt_tokens: number } };
    expect(body.object).toBe('chat.completion');
    expect(body.model).toBe('claude-solo');
    expect(body.choices[0]!.message.content).toBe('Hello from p-anth');
    expect(body.choices[0]!.finish_reason).toBe('stop');
    const [sent] = await nodeRequests('p-anth');
    expect(sent!.path).toBe('/v1/messages');
    expect(sent!.headers['x-api-key']).toBe('node-secret-anth-0005');
    expect(sent!.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent!.headers.authorization).toBeUndefined();
    expect(sent!.body).toMatchObject({ model: 'claude-solo-sim', system: [{ type: 'text', text: 'Be brief.' }], max_tokens: 1024, stop_sequences: ['END'] });
  });

  it('streams: Anthropic events become chat chunks ending in [DONE], with the usage chunk when asked', async () => {
    const { key } = await newKey();
    const res = await call('/v1/chat/completions', { key, body: claude({ stream: true, stream_options: { include_usage: true } }) });
    expect(res.status).toBe(200);
    const events = await sseEvents(res);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { choices: { delta: { content?: string }; finish_reason: string | null }[]; usage?: { completion_tokens: number } });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello from p-anth #1 #2');
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-1)!.usage?.completion_tokens).toBe(3);
  });

  it('a stream cut after its first chunk ends with an OpenAI error event, never [DONE]', async () => {
    const { key } = await newKey();
    await setNode('p-anth', { cutAfterChunks: 1, chunkDelayMs: 50 });
    const res = await call('/v1/chat/completions', { key, body: claude({ stream: true }) });
    expect(res.headers.get('x-router-node')).toBe('p-anth');
    const events = await sseEvents(res);
    expect(events).not.toContain('[DONE]');
    expect(JSON.parse(events.at(-1)!)).toMatchObject({ error: { type: 'server_error' } });
  });

  it('tools: chat tools go as Messages tools, the tool_use answer comes back as tool_calls, and a tool result round-trips', async () => {
    const { key } = await newKey();
    const tools = [{ type: 'function', function: { name: 'weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const first = await call('/v1/chat/completions', { key, body: claude({ tools }) });
    const answer = (await first.json()) as { choices: { message: { tool_calls: { id: string; function: { name: string; arguments: string } }[] }; finish_reason: string }[] };
    expect(answer.choices[0]!.finish_reason).toBe('tool_calls');
    const call0 = answer.choices[0]!.message.tool_calls[0]!;
    expect(call0.function.name).toBe('weather');
    expect(JSON.parse(call0.function.arguments)).toEqual({ city: 'Paris' });
    const [sent] = await nodeRequests('p-anth');
    expect(sent!.body).toMatchObject({ tools: [{ name: 'weather', input_schema: { type: 'object' } }] });

    // The node checks that the tool_result answers the tool_use of the turn before.
    const second = await call('/v1/chat/completions', {
      key,
      body: claude({ tools, messages: [{ role: 'user', content: 'Weather?' }, { role: 'assistant', content: null, tool_calls: [call0] }, { role: 'tool', tool_call_id: call0.id, content: 'sunny' }] }),
    });
    expect(second.status).toBe(200);
    expect(((await second.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe('Hello from p-anth');
  });

  it('images: a data-URL image part reaches the node as a base64 image block', async () => {
    const { key } = await newKey();
    const res = await call('/v1/chat/completions', { key, body: claude({ messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: PNG } }] }] }) });
    expect(res.status).toBe(200);
    const [sent] = await nodeRequests('p-anth');
    const content = (sent!.body as { messages: { content: { type: string; source?: { type: string; media_type: string } }[] }[] }).messages[0]!.content;
    expect(content[1]).toMatchObject({ type: 'image', source: { type: 'base64', media_type: 'image/png' } });
  });

  it('a request Messages cannot express (n: 2) skips the Anthropic node, with the reason, for the next model of the chain', async () => {
    const { key } = await newKey();
    const res = await call('/v1/chat/completions', { key, body: claude({ n: 2 }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('p-azure');
    expect(await nodeRequests('p-anth')).toHaveLength(0);
  });

  it('529 overloaded is a node fault: the request fails over along the fallback chain', async () => {
    const { key } = await newKey();
    await setNode('p-anth', { status: 529 });
    const res = await call('/v1/chat/completions', { key, body: claude() });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('p-azure');
    expect(res.headers.get('x-router-model')).toBe('azure-solo');
  });

  it("an Anthropic 400 invalid_request_error is the caller's: returned at once, OpenAI-shaped", async () => {
    const { key } = await newKey();
    const res = await call('/v1/chat/completions', { key, body: claude({ messages: [{ role: 'assistant', content: 'I start' }] }) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(/first message must use the "user" role/);
    expect(await nodeRequests('p-azure')).toHaveLength(0);
  });

  it('usage with cache reads and writes is settled and priced: cache writes at price.cacheWrite', async () => {
    const { id, key } = await newKey();
    await setNode('p-anth', { cacheReadTokens: 1000, cacheWriteTokens: 2000 });
    await setNode('p-azure', { status: 500 });
    const res = await call('/v1/chat/completions', { key, body: { model: 'claude-x', messages: [{ role: 'user', content: 'Hi' }] } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details?: { cached_tokens: number } } };
    const input = body.usage.prompt_tokens - 3000;
    expect(body.usage.prompt_tokens_details?.cached_tokens).toBe(1000);
    // claude-x: input 3, cachedInput 0.3, cacheWrite 3.75, output 15 USD per 1M tokens.
    const expected = (input * 3 + 1000 * 0.3 + 2000 * 3.75 + body.usage.completion_tokens * 15) / 1e6;
    const rows = await eventually(
      async () => (await (await admin(`/usage?key=${id}&groupBy=node`)).json<{ data: { node: string; inputTokens: number; costUsd: number }[] }>()).data,
      (r) => r.length > 0,
    );
    expect(rows[0]).toMatchObject({ node: 'p-anth', inputTokens: body.usage.prompt_tokens });
    expect(rows[0]!.costUsd).toBeCloseTo(expected, 9);
  });
});
