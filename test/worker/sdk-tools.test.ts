/**
 * Tool calls through the router, driven by the official SDKs as a new user's agent loop
 * drives them: the `openai` SDK (chat and Responses — a stateful follow-up with the call's
 * output —, JSON, and the stream helpers that reassemble a call's arguments from its pieces),
 * the Vercel AI SDK's chat and default (Responses) models, and the Anthropic SDK against an
 * OpenAI-format node (chat `tool_calls` translated to `tool_use`, streamed arguments to
 * `input_json_delta`) — Claude Code's case when its model is served by OpenAI-format nodes.
 * The simulated model calls the first tool with `{"city":"Paris"}` (`test/fleet/chat-answer.ts`,
 * `responses-tools.ts`).
 */
import { exports } from 'cloudflare:workers';
import Anthropic from '@anthropic-ai/sdk';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { beforeEach, describe, expect, it } from 'vitest';
import { CF, newKey, nodeRequests, resetWorld } from './helpers';

const edgeFetch = (cf: IncomingRequestCfProperties | object) => (url: RequestInfo | URL, init?: RequestInit) =>
  exports.default.fetch(new Request(url, init), { cf } as RequestInit);

let key: string;
beforeEach(async () => {
  await resetWorld();
  ({ key } = await newKey());
});

const weather = { type: 'function' as const, function: { name: 'weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };

describe('openai SDK: chat tool calls', () => {
  const client = () => new OpenAI({ baseURL: 'https://router.test/v1', apiKey: key, maxRetries: 0, fetch: edgeFetch(CF.fra) });

  it('a JSON answer calls the tool; the tool result turn is answered with text', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
    const first = await client().chat.completions.create({ model: 'gpt-4o-mini', messages, tools: [weather] });
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    const call = first.choices[0]!.message.tool_calls![0]!;
    expect(call).toMatchObject({ type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } });
    messages.push(first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: 'sunny' });
    const second = await client().chat.completions.create({ model: 'gpt-4o-mini', messages, tools: [weather] });
    expect(second.choices[0]!.message.content).toBe('Hello from n-eu');
  });

  it("the stream helper reassembles a call's arguments from the streamed pieces", async () => {
    const stream = client().chat.completions.stream({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Weather?' }], tools: [weather] });
    const done = await stream.finalChatCompletion();
    expect(done.choices[0]!.finish_reason).toBe('tool_calls');
    expect(done.choices[0]!.message.tool_calls![0]).toMatchObject({ function: { name: 'weather', arguments: '{"city":"Paris"}' } });
  });
});

describe('openai SDK: Responses function calls', () => {
  const client = () => new OpenAI({ baseURL: 'https://router.test/v1', apiKey: key, maxRetries: 0, fetch: edgeFetch(CF.fra) });
  const tools = [{ type: 'function' as const, name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false }];

  it('a function_call item, answered statefully: previous_response_id + function_call_output', async () => {
    const first = await client().responses.create({ model: 'gpt-4o-mini', input: 'Weather in Paris?', tools });
    const call = first.output[0]!;
    expect(call).toMatchObject({ type: 'function_call', name: 'weather', arguments: '{"city":"Paris"}' });
    const second = await client().responses.create({
      model: 'gpt-4o-mini',
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.type === 'function_call' ? call.call_id : '', output: 'sunny' }],
      tools,
    });
    expect(second.output_text).toBe(`Hello from n-eu (after ${first.id.split('~')[0]}) #1 #2`);
  });

  it("the stream helper reassembles the call's arguments from its deltas", async () => {
    const events: string[] = [];
    const stream = client().responses.stream({ model: 'gpt-4o-mini', input: 'Weather?', tools });
    stream.on('event', (e) => events.push(e.type));
    const done = await stream.finalResponse();
    expect(done.output[0]).toMatchObject({ type: 'function_call', arguments: '{"city":"Paris"}' });
    expect(events).toContain('response.function_call_arguments.delta');
    expect(events.at(-1)).toBe('response.completed');
  });
});

describe('Vercel AI SDK: the default (Responses) provider streams a tool loop', () => {
  it('streams the call, runs the tool, and streams the answer to its result', async () => {
    const openai = createOpenAI({ baseURL: 'https://router.test/v1', apiKey: key, fetch: edgeFetch(CF.fra) });
    const seen: unknown[] = [];
    const result = streamText({
      model: openai('gpt-4o-mini'),
      prompt: 'Weather in Paris?',
      maxRetries: 0,
      stopWhen: stepCountIs(2),
      tools: { weather: tool({ inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } } }), execute: async (input) => (seen.push(input), 'sunny') }) },
    });
    let text = '';
    for await (const piece of result.textStream) text += piece;
    expect(seen).toEqual([{ city: 'Paris' }]);
    expect(text).toBe('Hello from n-eu #1 #2');
  });
});

describe('Vercel AI SDK: chat model tool loop', () => {
  it('calls the tool, runs it, and sends its result back for the answer', async () => {
    const openai = createOpenAI({ baseURL: 'https://router.test/v1', apiKey: key, fetch: edgeFetch(CF.fra) });
    const seen: unknown[] = [];
    const result = await generateText({
      model: openai.chat('gpt-4o-mini'),
      prompt: 'Weather in Paris?',
      maxRetries: 0,
      stopWhen: stepCountIs(2),
      tools: { weather: tool({ inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } } }), execute: async (input) => (seen.push(input), 'sunny') }) },
    });
    expect(seen).toEqual([{ city: 'Paris' }]);
    expect(result.text).toBe('Hello from n-eu');
    const [, second] = await nodeRequests('n-eu');
    expect((second!.body as { messages: { role: string }[] }).messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
  });
});

describe('Anthropic SDK: tools on an OpenAI-format node', () => {
  const client = () => new Anthropic({ baseURL: 'https://router.test', apiKey: key, maxRetries: 0, fetch: edgeFetch(CF.iad) });
  const tools = [{ name: 'weather', description: 'Weather for a city', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } } }];

  it('a chat tool call comes back as tool_use, and the tool_result turn is answered', async () => {
    const first = await client().messages.create({ model: 'gpt-4o-mini', max_tokens: 64, tools, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    expect(first.stop_reason).toBe('tool_use');
    const use = first.content.find((b) => b.type === 'tool_use');
    expect(use).toMatchObject({ type: 'tool_use', name: 'weather', input: { city: 'Paris' } });
    const second = await client().messages.create({
      model: 'gpt-4o-mini',
      max_tokens: 64,
      tools,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use?.type === 'tool_use' ? use.id : '', content: 'sunny' }] },
      ],
    });
    expect(second.stop_reason).toBe('end_turn');
    expect(second.content).toEqual([{ type: 'text', text: 'Hello from n-us' }]);
  });

  it("a streamed call's argument pieces arrive as input_json_delta and parse into the block's input", async () => {
    const stream = client().messages.stream({ model: 'gpt-4o-mini', max_tokens: 64, tools, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    const kinds: string[] = [];
    stream.on('streamEvent', (e) => kinds.push(e.type === 'content_block_delta' ? e.delta.type : e.type));
    const message = await stream.finalMessage();
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content).toEqual([expect.objectContaining({ type: 'tool_use', name: 'weather', input: { city: 'Paris' } })]);
    expect(kinds).toContain('input_json_delta');
    expect(kinds.at(-1)).toBe('message_stop');
  });
});
