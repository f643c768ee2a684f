/**
 * Inbound Anthropic callers (`POST /v1/messages`) served by OpenAI-compatible nodes: Messages
 * request → chat request, chat JSON and chunks → Messages JSON and events, errors by status;
 * and round trips through both directions.
 */
import { describe, expect, it } from 'vitest';
import { openaiErrorToAnthropic, translationFailureToAnthropic } from '../../src/providers/anthropic-inbound/errors';
import { ChatToMessagesStream } from '../../src/providers/anthropic-inbound/chat-stream-to-messages';
import { messagesToChatRequest } from '../../src/providers/anthropic-inbound/to-chat-request';
import { chatToMessagesJson } from '../../src/providers/anthropic-inbound/to-messages-json';
import { messagesToChat } from '../../src/providers/anthropic/from-messages';
import { AnthropicToChatStream } from '../../src/providers/anthropic/stream-to-chat';
import { chatToMessages } from '../../src/providers/anthropic/to-messages';
import { json, parseFrames, replay, type Frame } from './providers-fixtures';
import chatTextSse from '../fixtures/openai/chat-text.sse.txt?raw';
import chatToolSse from '../fixtures/openai/chat-tool-calls.sse.txt?raw';
import chatToolJson from '../fixtures/openai/chat-tool-calls.json?raw';
import toolUseJson from '../fixtures/anthropic/tool-use.json?raw';
import toolUseSse from '../fixtures/anthropic/tool-use.sse.txt?raw';
import cacheSse from '../fixtures/anthropic/cache-usage.sse.txt?raw';
import textSse from '../fixtures/anthropic/text.sse.txt?raw';

const okValue = <T>(r: { ok: true; value: T } | { ok: false; error: unknown }): T => {
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r.error)}`);
  return r.value;
};
const toChat = (body: Record<string, unknown>) => messagesToChatRequest({ model: 'claude', max_tokens: 256, ...body }, { upstreamModel: 'gpt-4o-mini' });

/** What an Anthropic SDK would build from a stream: content blocks by index, stop reason, usage. */
function accumulate(frames: Frame[]) {
  let message: { content: Record<string, unknown>[]; stop_reason: unknown; usage: Record<string, unknown> } | undefined;
  const partial = new Map<number, string>();
  for (const { event, data } of frames) {
    const ev = data as { type: string; index: number; message: typeof message; content_block: Record<string, unknown>; delta: Record<string, string>; usage: Record<string, unknown> };
    expect(event).toBe(ev.type);
    if (ev.type === 'message_start') message = { ...ev.message!, content: [] };
    else if (ev.type === 'content_block_start') message!.content[ev.index] = { ...ev.content_block };
    else if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') message!.content[ev.index]!.text += ev.delta.text!;
    else if (ev.type === 'content_block_delta' && ev.delta.type === 'input_json_delta') partial.set(ev.index, (partial.get(ev.index) ?? '') + ev.delta.partial_json);
    else if (ev.type === 'message_delta') {
      message!.stop_reason = ev.delta.stop_reason;
      message!.usage = { ...message!.usage, ...ev.usage };
    }
  }
  for (const [i, p] of partial) message!.content[i]!.input = JSON.parse(p);
  return message!;
}

describe('Messages request → chat request', () => {
  it('sends system as a system message and plain turns as they are', () => {
    const out = okValue(toChat({ system: 'Be brief.', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }, { role: 'user', content: 'Bye' }] }));
    expect(out).toEqual({
      model: 'gpt-4o-mini',
      max_tokens: 256,
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }, { role: 'user', content: 'Bye' }],
    });
  });

  it('turns base64 images into data URLs and url images into image_url parts', () => {
    const out = okValue(toChat({ messages: [{ role: 'user', content: [
      { type: 'text', text: 'What is this?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBOR' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/a.jpg' } },
    ] }] }));
    expect(out.messages[0]).toEqual({ role: 'user', content: [
      { type: 'text', text: 'What is this?' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBOR' } },
      { type: 'image_url', image_url: { url: 'https://example.com/a.jpg' } },
    ] });
  });

  it('turns tool_use into tool_calls and tool_result blocks into tool messages ahead of the user text', () => {
    const out = okValue(toChat({ messages: [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: '18°C' }] }, { type: 'text', text: 'And tomorrow?' }] },
    ] }));
    expect(out.messages).toEqual([
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'toolu_1', content: '18°C' },
      { role: 'user', content: 'And tomorrow?' },
    ]);
  });

  it('carries tool_result is_error in the tool message text (chat has no flag): Error: prefix, not doubled, an empty failure reads Error', () => {
    const failed = (content: unknown) => {
      const out = okValue(toChat({ messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', is_error: true, ...(content === undefined ? {} : { content }) }] },
      ] }));
      return out.messages[2];
    };
    expect(failed('no such file')).toEqual({ role: 'tool', tool_call_id: 't', content: 'Error: no such file' });
    expect(failed([{ type: 'text', text: 'Error: no such file' }])).toEqual({ role: 'tool', tool_call_id: 't', content: 'Error: no such file' });
    expect(failed(undefined)).toEqual({ role: 'tool', tool_call_id: 't', content: 'Error' });
  });

  it('returns a typed thinking_in_history failure, naming the block, when history holds thinking', () => {
    const r = toChat({ messages: [
      { role: 'user', content: 'x' },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm', signature: 'sig' }, { type: 'text', text: 'y' }] },
      { role: 'user', content: 'z' },
    ] });
    expect(r).toEqual({ ok: false, error: { reason: 'thinking_in_history', param: 'messages.1.content.0', message: expect.stringContaining('thinking') } });
    expect(toChat({ messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: [{ type: 'redacted_thinking', data: 'abc' }] }] })).toMatchObject({ ok: false, error: { reason: 'thinking_in_history' } });
  });

  it('refuses enabled thinking and server tools with typed failures', () => {
    expect(toChat({ thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [{ role: 'user', content: 'x' }] })).toMatchObject({ ok: false, error: { reason: 'unsupported_feature', param: 'thinking' } });
    expect(toChat({ tools: [{ type: 'web_search_20250305', name: 'web_search' }], messages: [{ role: 'user', content: 'x' }] })).toMatchObject({ ok: false, error: { reason: 'unsupported_feature', param: 'tools.0' } });
  });

  it('turns enabled thinking into reasoning_effort for a reasoning model, under Anthropic\'s rules for the budget', () => {
    const reasoner = (thinking: unknown, max_tokens = 32_000) =>
      messagesToChatRequest({ model: 'claude', max_tokens, thinking, messages: [{ role: 'user', content: 'x' }] }, { upstreamModel: 'o4-mini', reasoning: true });
    // Claude Code's think / think hard / ultrathink budgets.
    expect([4_000, 10_000, 31_999].map((b) => okValue(reasoner({ type: 'enabled', budget_tokens: b })).reasoning_effort)).toEqual(['low', 'medium', 'high']);
    expect(okValue(reasoner({ type: 'disabled' })).reasoning_effort).toBeUndefined();
    expect(reasoner({ type: 'enabled', budget_tokens: 1_023 })).toMatchObject({ ok: false, error: { reason: 'unsupported_value', param: 'thinking.budget_tokens' } });
    expect(reasoner({ type: 'enabled' })).toMatchObject({ ok: false, error: { reason: 'unsupported_value', param: 'thinking.budget_tokens' } });
    expect(reasoner({ type: 'enabled', budget_tokens: 4_000 }, 4_000)).toMatchObject({ ok: false, error: { reason: 'unsupported_value', param: 'max_tokens' } });
  });

  it('adaptive thinking (Claude 4.6: no budget) is the effort output_config.effort names on a reasoning model (default high), refused like enabled thinking on another', () => {
    const ask = (extra: Record<string, unknown>, reasoning = true) =>
      messagesToChatRequest({ model: 'claude', max_tokens: 8_000, thinking: { type: 'adaptive' }, messages: [{ role: 'user', content: 'x' }], ...extra }, { upstreamModel: 'o4-mini', reasoning });
    expect([{}, { output_config: { effort: 'low' } }, { output_config: { effort: 'medium' } }, { output_config: { effort: 'max' } }].map((e) => okValue(ask(e)).reasoning_effort)).toEqual(['high', 'low', 'medium', 'high']);
    expect(ask({}, false)).toMatchObject({ ok: false, error: { reason: 'unsupported_feature', param: 'thinking' } });
    expect(messagesToChatRequest({ model: 'claude', max_tokens: 8, thinking: { type: 'sometimes' }, messages: [{ role: 'user', content: 'x' }] }, { upstreamModel: 'o4-mini', reasoning: true })).toMatchObject({ ok: false, error: { reason: 'invalid_shape' } });
  });

  it('maps stop_sequences, sampling, metadata.user_id, tools and tool_choice', () => {
    const tools = [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: {} } }];
    const out = okValue(toChat({ messages: [{ role: 'user', content: 'x' }], stop_sequences: ['END'], temperature: 0.2, top_p: 0.8, metadata: { user_id: 'u-1' }, tools, tool_choice: { type: 'any', disable_parallel_tool_use: true } }));
    expect(out).toMatchObject({ stop: ['END'], temperature: 0.2, top_p: 0.8, user: 'u-1', tool_choice: 'required', parallel_tool_calls: false });
    expect(out.tools).toEqual([{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: {} } } }]);
    expect(okValue(toChat({ messages: [{ role: 'user', content: 'x' }], tools, tool_choice: { type: 'tool', name: 'get_weather' } })).tool_choice).toEqual({ type: 'function', function: { name: 'get_weather' } });
    expect(okValue(toChat({ messages: [{ role: 'user', content: 'x' }], tools, tool_choice: { type: 'none' } })).tool_choice).toBe('none');
  });

  it('builds the chat body from known fields only: unknown fields (n, logit_bias) do not reach the node', () => {
    const out = okValue(toChat({ messages: [{ role: 'user', content: 'x' }], n: 5, logit_bias: { 1: 100 }, max_completion_tokens: 99_999 }));
    expect(Object.keys(out).sort()).toEqual(['max_tokens', 'messages', 'model']);
  });

  it('refuses image URLs that are not http(s)', () => {
    expect(toChat({ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'file:///etc/passwd' } }] }] })).toMatchObject({ ok: false, error: { reason: 'unsupported_value', param: 'messages.0.content.0.source.url' } });
  });

  it('asks the node for usage on streams (message_delta must carry output_tokens)', () => {
    expect(okValue(toChat({ stream: true, messages: [{ role: 'user', content: 'x' }] }))).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('returns invalid_shape for a request without max_tokens, never throws', () => {
    expect(messagesToChatRequest({ model: 'c', messages: [{ role: 'user', content: 'x' }] }, { upstreamModel: 'g' })).toMatchObject({ ok: false, error: { reason: 'invalid_shape', param: 'max_tokens' } });
  });
});

describe('chat JSON → Messages JSON', () => {
  it('turns content and tool_calls into text and tool_use blocks, with Anthropic usage', () => {
    expect(okValue(chatToMessagesJson(json(chatToolJson), { model: 'claude' }))).toEqual({
      id: 'chatcmpl-Tool9',
      type: 'message',
      role: 'assistant',
      model: 'claude',
      content: [
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'call_abc', name: 'get_weather', input: { location: 'Paris' } },
        { type: 'tool_use', id: 'call_def', name: 'get_time', input: { tz: 'CET' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 56, output_tokens: 40, cache_read_input_tokens: 64, cache_creation_input_tokens: 0 },
    });
  });

  it('maps length to max_tokens, content_filter to refusal, stop to end_turn', () => {
    const base = json(chatToolJson) as { choices: Record<string, unknown>[] };
    const withFinish = (finish_reason: string) => ({ ...base, choices: [{ index: 0, message: { role: 'assistant', content: 'x' }, finish_reason }] });
    expect(okValue(chatToMessagesJson(withFinish('length'), { model: 'c' })).stop_reason).toBe('max_tokens');
    expect(okValue(chatToMessagesJson(withFinish('content_filter'), { model: 'c' })).stop_reason).toBe('refusal');
    expect(okValue(chatToMessagesJson(withFinish('stop'), { model: 'c' })).stop_reason).toBe('end_turn');
  });

  it('reads finish reasons of compatible servers it does not know as end_turn', () => {
    const body = { id: 'x', model: 'g', choices: [{ index: 0, message: { content: 'hi' }, finish_reason: 'eos' }] };
    expect(okValue(chatToMessagesJson(body, { model: 'c' })).stop_reason).toBe('end_turn');
  });

  it('returns invalid_tool_arguments when the model wrote arguments that are not a JSON object', () => {
    const bad = { id: 'x', model: 'g', choices: [{ index: 0, message: { content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '[1,2]' } }] }, finish_reason: 'tool_calls' }] };
    expect(chatToMessagesJson(bad, { model: 'c' })).toMatchObject({ ok: false, error: { reason: 'invalid_tool_arguments' } });
  });
});

describe('chat chunks → Anthropic SSE events', () => {
  const stream = () => new ChatToMessagesStream({ model: 'claude' });

  it('emits the documented event sequence for a text answer, usage in message_delta', () => {
    const frames = parseFrames(replay(stream(), chatTextSse));
    expect(frames.map((f) => f.event)).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(frames[1]!.data).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    expect(frames[5]!.data).toEqual({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { input_tokens: 25, output_tokens: 15, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 } });
    expect(accumulate(frames).content).toEqual([{ type: 'text', text: 'Hello!' }]);
  });

  it('opens a tool_use block per tool call with increasing block indexes and streams arguments as input_json_delta', () => {
    const t = stream();
    const frames = parseFrames(replay(t, chatToolSse));
    const starts = frames.filter((f) => f.event === 'content_block_start').map((f) => f.data);
    expect(starts).toEqual([
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'call_abc', name: 'get_weather', input: {} } },
      { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'call_def', name: 'get_time', input: {} } },
    ]);
    const stops = frames.filter((f) => f.event === 'content_block_stop').map((f) => (f.data as { index: number }).index);
    expect(stops).toEqual([0, 1, 2]);
    const message = accumulate(frames);
    expect(message.content[1]!.input).toEqual({ location: 'Paris' });
    expect(message.content[2]!.input).toEqual({ tz: 'CET' });
    expect(message.stop_reason).toBe('tool_use');
    expect(message.usage).toMatchObject({ input_tokens: 56, output_tokens: 40, cache_read_input_tokens: 64 });
    expect(t.usage()).toEqual({ promptTokens: 120, cachedTokens: 64, cacheWriteTokens: 0, completionTokens: 40 });
  });

  it('does not open the message on a chunk without choices (Azure prompt_filter_results) and takes the id of the first real chunk', () => {
    const azureFirst = 'data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}\n\n';
    const frames = parseFrames(replay(stream(), azureFirst + chatTextSse));
    expect(frames[0]).toMatchObject({ event: 'message_start', data: { message: { id: 'chatcmpl-AbC123' } } });
    expect(frames.filter((f) => f.event === 'message_start')).toHaveLength(1);
  });

  it('turns an error object in the stream into an Anthropic error event and stops', () => {
    const t = stream();
    const frames = parseFrames([...t.push({ data: '{"error":{"message":"boom","type":"server_error","param":null,"code":null}}' }), ...t.push({ data: '[DONE]' })]);
    expect(frames).toEqual([{ event: 'error', data: { type: 'error', error: { type: 'api_error', message: 'boom' } } }]);
    expect(t.failed).toBe(true);
  });

  it('ends with an error event, not message_stop, when the node stops before [DONE]', () => {
    const cut = chatTextSse.slice(0, chatTextSse.indexOf('data: [DONE]'));
    const frames = parseFrames(replay(stream(), cut));
    expect(frames.at(-1)).toEqual({ event: 'error', data: { type: 'error', error: { type: 'api_error', message: 'The upstream stream ended before it finished.' } } });
    expect(frames.some((f) => f.event === 'message_stop')).toBe(false);
  });
});

describe('round trips through both directions', () => {
  it.each([['tool-use', toolUseSse], ['cache-usage', cacheSse], ['text', textSse]])(
    'Anthropic SSE (%s) → chat chunks → Anthropic SSE keeps the content, stop reason and usage',
    (_name, sse) => {
      const original = accumulate(parseFrames(sse.split('\n\n').filter(Boolean).map((f) => `${f}\n\n`)));
      const chatFrames = replay(new AnthropicToChatStream({ model: 'claude', includeUsage: true }), sse);
      const back = accumulate(parseFrames(replay(new ChatToMessagesStream({ model: 'claude' }), chatFrames.join(''))));
      expect(back.content).toEqual(original.content.map((b) => (b.type === 'tool_use' ? { ...b, input: b.input } : b)));
      expect(back.stop_reason).toBe(original.stop_reason);
      const o = original.usage as Record<string, number>;
      // Cache writes travel in OpenAI usage as `prompt_tokens_details.cache_write_tokens`: they come back as they were.
      expect(back.usage).toMatchObject({ output_tokens: o.output_tokens, cache_read_input_tokens: o.cache_read_input_tokens ?? 0, input_tokens: o.input_tokens! });
      expect(back.usage.cache_creation_input_tokens ?? 0).toBe(o.cache_creation_input_tokens ?? 0);
    },
  );

  it('Messages JSON → chat JSON → Messages JSON keeps blocks, stop reason and usage', () => {
    const original = json(toolUseJson) as Record<string, unknown>;
    const chat = okValue(messagesToChat(original, { model: 'claude' }));
    const back = okValue(chatToMessagesJson(chat, { model: 'claude-sonnet-4-20250514' }));
    expect(back.content).toEqual(original.content);
    expect(back.stop_reason).toBe(original.stop_reason);
    expect(back.usage).toEqual({ input_tokens: 472, output_tokens: 89, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
  });

  it('chat request → Messages request → chat request keeps the conversation, tools and settings', () => {
    const chat = {
      model: 'gpt-4o-mini',
      max_tokens: 300,
      temperature: 0.5,
      stop: ['END'],
      user: 'u-9',
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      tool_choice: 'required',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'Look' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBOR' } }] },
        { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '18°C' },
        { role: 'user', content: 'Thanks' },
      ],
    };
    const messages = okValue(chatToMessages(chat, { upstreamModel: 'claude-x', maxTokens: 300 }));
    const back = okValue(messagesToChatRequest(messages, { upstreamModel: 'gpt-4o-mini' }));
    expect(back).toEqual(chat);
  });
});

describe('errors for Anthropic callers', () => {
  it.each([
    [400, 'invalid_request_error'],
    [401, 'authentication_error'],
    [403, 'permission_error'],
    [404, 'not_found_error'],
    [413, 'request_too_large'],
    [422, 'invalid_request_error'],
    [429, 'rate_limit_error'],
    [500, 'api_error'],
    [502, 'api_error'],
    [503, 'overloaded_error'],
    [529, 'overloaded_error'],
  ])('HTTP %i becomes an Anthropic %s error with the OpenAI message', (status, type) => {
    expect(openaiErrorToAnthropic(status, { error: { message: 'why', type: 'x', param: null, code: null } })).toEqual({ type: 'error', error: { type, message: 'why' } });
  });

  it('says which field could not be translated', () => {
    expect(translationFailureToAnthropic({ reason: 'thinking_in_history', message: 'No thinking.', param: 'messages.1.content.0' })).toEqual({
      status: 400,
      body: { type: 'error', error: { type: 'invalid_request_error', message: 'No thinking. (messages.1.content.0)' } },
    });
  });
});
