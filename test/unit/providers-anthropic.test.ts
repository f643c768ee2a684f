/**
 * The Anthropic upstream converters: OpenAI chat request → Messages, Messages JSON and SSE →
 * OpenAI chat JSON and chunks, Anthropic errors → router outcomes. Fixtures follow the
 * documented Messages formats (test/fixtures/anthropic).
 */
import { describe, expect, it } from 'vitest';
import { anthropicAdapter } from '../../src/providers/anthropic/adapter';
import { mapAnthropicError } from '../../src/providers/anthropic/errors';
import { anthropicRequestTooLarge } from '../../src/providers/anthropic/rate-limit';
import { messagesToChat, messagesUsage } from '../../src/providers/anthropic/from-messages';
import { AnthropicToChatStream } from '../../src/providers/anthropic/stream-to-chat';
import { chatToMessages } from '../../src/providers/anthropic/to-messages';
import { effortFor } from '../../src/providers/anthropic-inbound/to-chat-request';
import { json, parseFrames, replay } from './providers-fixtures';
import textJson from '../fixtures/anthropic/text.json?raw';
import toolUseJson from '../fixtures/anthropic/tool-use.json?raw';
import thinkingJson from '../fixtures/anthropic/thinking.json?raw';
import cacheJson from '../fixtures/anthropic/cache-usage.json?raw';
import maxTokensJson from '../fixtures/anthropic/max-tokens.json?raw';
import overloadedJson from '../fixtures/anthropic/error-overloaded.json?raw';
import invalidJson from '../fixtures/anthropic/error-invalid-request.json?raw';
import rateLimitJson from '../fixtures/anthropic/error-rate-limit.json?raw';
import authJson from '../fixtures/anthropic/error-authentication.json?raw';
import textSse from '../fixtures/anthropic/text.sse.txt?raw';
import toolUseSse from '../fixtures/anthropic/tool-use.sse.txt?raw';
import thinkingSse from '../fixtures/anthropic/thinking.sse.txt?raw';
import thinkingToolSse from '../fixtures/anthropic/thinking-tool-use.sse.txt?raw';
import cacheSse from '../fixtures/anthropic/cache-usage.sse.txt?raw';
import maxTokensSse from '../fixtures/anthropic/max-tokens.sse.txt?raw';
import errorSse from '../fixtures/anthropic/error.sse.txt?raw';

const GET = { url: 'https://node.example/v1/models', method: 'GET' as const, body: () => undefined };

const ctx = { upstreamModel: 'claude-sonnet-4-20250514', maxTokens: 1024 };
const translate = (body: Record<string, unknown>) => chatToMessages({ model: 'claude', ...body }, ctx);
const okValue = <T>(r: { ok: true; value: T } | { ok: false; error: unknown }): T => {
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r.error)}`);
  return r.value;
};
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

describe('chat request → Messages request', () => {
  it('hoists system and developer messages into system blocks, in order', () => {
    const out = okValue(translate({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'developer', content: [{ type: 'text', text: 'Use metric.' }] }, { role: 'user', content: 'Hi' }] }));
    expect(out.system).toEqual([{ type: 'text', text: 'Be brief.' }, { type: 'text', text: 'Use metric.' }]);
    expect(out.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }]);
  });

  it('always sends the reserved cap as max_tokens, whatever the caller set', () => {
    expect(okValue(translate({ messages: [{ role: 'user', content: 'Hi' }] })).max_tokens).toBe(1024);
    expect(okValue(translate({ max_tokens: 99_999, messages: [{ role: 'user', content: 'Hi' }] })).max_tokens).toBe(1024);
    expect(okValue(translate({ messages: [{ role: 'user', content: 'Hi' }] })).model).toBe('claude-sonnet-4-20250514');
  });

  it('turns data-URL images into base64 sources and http URLs into url sources', () => {
    const out = okValue(translate({
      messages: [{ role: 'user', content: [
        { type: 'text', text: 'Compare' },
        { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
        { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'high' } },
      ] }],
    }));
    expect(out.messages[0]!.content).toEqual([
      { type: 'text', text: 'Compare' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
  });

  it('sends an inline PDF file part as a document block', () => {
    const out = okValue(translate({ messages: [{ role: 'user', content: [{ type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=' } }] }] }));
    expect(out.messages[0]!.content).toEqual([{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } }]);
  });

  it('refuses image types Anthropic does not take, naming the part', () => {
    const r = translate({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,Qk0=' } }] }] });
    expect(r).toEqual({ ok: false, error: expect.objectContaining({ reason: 'unsupported_value', param: 'messages.0.content.0' }) });
  });

  it('maps tool calls to tool_use and merges consecutive tool results with the next user text into one user turn', () => {
    const out = okValue(translate({
      messages: [
        { role: 'user', content: 'Weather in Paris and time in Tokyo?' },
        { role: 'assistant', content: null, tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{"tz":"Asia/Tokyo"}' } },
        ] },
        { role: 'tool', tool_call_id: 'call_1', content: '18°C' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '09:00' }] },
        { role: 'user', content: 'Thanks, and tomorrow?' },
      ],
    }));
    expect(out.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and time in Tokyo?' }] },
      { role: 'assistant', content: [
        { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'call_2', name: 'get_time', input: { tz: 'Asia/Tokyo' } },
      ] },
      { role: 'user', content: [
        { type: 'tool_result', tool_use_id: 'call_1', content: '18°C' },
        { type: 'tool_result', tool_use_id: 'call_2', content: '09:00' },
        { type: 'text', text: 'Thanks, and tomorrow?' },
      ] },
    ]);
    expect(out.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
  });

  it('sends an empty tool result without content (Messages refuses empty text)', () => {
    const out = okValue(translate({ messages: [
      { role: 'user', content: 'x' },
      { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '' } }] },
      { role: 'tool', tool_call_id: 'c', content: '' },
    ] }));
    expect(out.messages[1]!.content).toEqual([{ type: 'tool_use', id: 'c', name: 'f', input: {} }]);
    expect(out.messages[2]!.content).toEqual([{ type: 'tool_result', tool_use_id: 'c' }]);
  });

  it('returns a typed failure for tool arguments that are not a JSON object', () => {
    const r = translate({ messages: [{ role: 'user', content: 'x' }, { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a":' } }] }] });
    expect(r).toEqual({ ok: false, error: expect.objectContaining({ reason: 'invalid_tool_arguments', param: 'messages.1.tool_calls.0.function.arguments' }) });
  });

  it('maps tools, tool_choice and parallel_tool_calls', () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const base = { messages: [{ role: 'user', content: 'x' }], tools };
    expect(okValue(translate(base)).tools).toEqual([{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }]);
    expect(okValue(translate({ ...base, tool_choice: 'auto' })).tool_choice).toEqual({ type: 'auto' });
    expect(okValue(translate({ ...base, tool_choice: 'required' })).tool_choice).toEqual({ type: 'any' });
    expect(okValue(translate({ ...base, tool_choice: 'none' })).tool_choice).toEqual({ type: 'none' });
    expect(okValue(translate({ ...base, tool_choice: { type: 'function', function: { name: 'get_weather' } } })).tool_choice).toEqual({ type: 'tool', name: 'get_weather' });
    expect(okValue(translate({ ...base, parallel_tool_calls: false })).tool_choice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
  });

  it('maps stop, temperature, top_p, user and stream', () => {
    const out = okValue(translate({ messages: [{ role: 'user', content: 'x' }], stop: 'END', temperature: 0.3, top_p: 0.9, user: 'u-42', stream: true }));
    expect(out).toMatchObject({ stop_sequences: ['END'], temperature: 0.3, top_p: 0.9, metadata: { user_id: 'u-42' }, stream: true });
    expect(okValue(translate({ messages: [{ role: 'user', content: 'x' }], stop: ['a', 'b'] })).stop_sequences).toEqual(['a', 'b']);
  });

  it.each([
    [{ n: 2 }, 'unsupported_feature', 'n'],
    [{ logprobs: true }, 'unsupported_feature', 'logprobs'],
    [{ response_format: { type: 'json_schema', json_schema: {} } }, 'unsupported_feature', 'response_format'],
    [{ temperature: 1.5 }, 'unsupported_value', 'temperature'],
    [{ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: '', format: 'wav' } }] }] }, 'unsupported_feature', 'messages.0.content.0'],
  ])('refuses %j with a typed failure instead of dropping it', (extra, reason, param) => {
    expect(translate({ messages: [{ role: 'user', content: 'x' }], ...extra })).toEqual({ ok: false, error: expect.objectContaining({ reason, param }) });
  });

  it('builds the Messages body from known fields only: a caller cannot smuggle Anthropic parameters past the cap', () => {
    const out = okValue(translate({ messages: [{ role: 'user', content: 'x' }], thinking: { type: 'enabled', budget_tokens: 60_000 }, max_tokens: 64_000, top_k: 1, system: 'injected' }));
    expect(Object.keys(out).sort()).toEqual(['max_tokens', 'messages', 'model']);
    expect(out.max_tokens).toBe(1024);
  });

  it('returns invalid_shape for a body that is not a chat request, never throws', () => {
    expect(chatToMessages({ model: 'm', messages: [{ role: 'wizard', content: 'x' }] }, ctx)).toEqual({ ok: false, error: expect.objectContaining({ reason: 'invalid_shape' }) });
    expect(chatToMessages(null, ctx)).toEqual({ ok: false, error: expect.objectContaining({ reason: 'invalid_shape' }) });
    expect(translate({ messages: [{ role: 'system', content: 'only system' }] })).toEqual({ ok: false, error: expect.objectContaining({ param: 'messages' }) });
  });
});

describe('reasoning_effort → extended thinking', () => {
  const ask = (extra: Record<string, unknown>, maxTokens = 40_000) => chatToMessages({ model: 'claude', messages: [{ role: 'user', content: 'x' }], ...extra }, { ...ctx, maxTokens });
  const toolLoop = [
    { role: 'user', content: 'Weather in Paris?' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
  ];

  it.each([
    ['low', 4_096],
    ['medium', 10_000],
    ['high', 32_000],
    ['xhigh', 32_000],
  ])('%s asks for thinking with a %i-token budget below the cap', (effort, budget) => {
    const out = okValue(ask({ reasoning_effort: effort }));
    expect(out.thinking).toEqual({ type: 'enabled', budget_tokens: budget });
    expect(out.max_tokens).toBe(40_000);
  });

  it('the budgets read back as the same efforts in the Anthropic → OpenAI direction', () => {
    for (const effort of ['low', 'medium', 'high'] as const) expect(effortFor(okValue(ask({ reasoning_effort: effort })).thinking!.budget_tokens!)).toBe(effort);
  });

  it('a Claude model that cannot think (before Claude 3.7 Sonnet, by any platform\'s id) gets none; later models and other names do', () => {
    const on = (upstreamModel: string) => chatToMessages({ model: 'claude', messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'high' }, { ...ctx, upstreamModel, maxTokens: 40_000 });
    for (const name of ['claude-3-5-haiku-20241022', 'claude-3-5-sonnet-latest', 'us.anthropic.claude-3-haiku-20240307-v1:0', 'claude-3-5-sonnet-v2@20241022', 'claude-3-opus-20240229', 'anthropic/claude-3.5-sonnet', 'claude-2.1', 'claude-instant-1.2'])
      expect(okValue(on(name)), name).not.toHaveProperty('thinking');
    for (const name of ['claude-3-7-sonnet-20250219', 'claude-sonnet-4-20250514', 'us.anthropic.claude-opus-4-1-20250805-v1:0', 'claude-haiku-4-5@20251001', 'claude-solo-sim'])
      expect(okValue(on(name)).thinking, name).toEqual({ type: 'enabled', budget_tokens: 32_000 });
    // An effort OpenAI does not define is refused whatever the model.
    expect(chatToMessages({ model: 'claude', messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'max' }, { ...ctx, upstreamModel: 'claude-3-5-haiku-20241022', maxTokens: 40_000 }).ok).toBe(false);
  });

  it('none, minimal or no reasoning_effort: no thinking', () => {
    for (const extra of [{ reasoning_effort: 'none' }, { reasoning_effort: 'minimal' }, {}, { reasoning_effort: null }]) expect(okValue(ask(extra))).not.toHaveProperty('thinking');
    expect(okValue(ask({ reasoning_effort: 'low' }))).toHaveProperty('thinking');
  });

  it('keeps the budget under the reserved cap with 1,024 tokens left to answer, and leaves thinking out when the cap cannot hold 1,024 + 1,024', () => {
    expect(okValue(ask({ reasoning_effort: 'high' }, 16_000)).thinking).toEqual({ type: 'enabled', budget_tokens: 16_000 - 1_024 });
    expect(okValue(ask({ reasoning_effort: 'low' }, 2_048)).thinking).toEqual({ type: 'enabled', budget_tokens: 1_024 });
    const small = okValue(ask({ reasoning_effort: 'high', max_tokens: 99_999 }, 2_047));
    expect(small).not.toHaveProperty('thinking');
    expect(small.max_tokens).toBe(2_047);
  });

  it.each([
    [{ temperature: 0.2 }, 'temperature'],
    [{ temperature: 0 }, 'temperature'],
    [{ top_p: 0.9 }, 'top_p'],
    [{ tool_choice: 'required' }, 'tool_choice'],
    [{ tool_choice: { type: 'function', function: { name: 'weather' } } }, 'tool_choice'],
  ])('goes without thinking beside %j, which Claude refuses with it, keeping the caller\'s %s', (extra, param) => {
    const tools = [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }];
    const out = okValue(ask({ reasoning_effort: 'low', tools, ...extra }));
    expect(out).not.toHaveProperty('thinking');
    expect(out).toHaveProperty(param);
  });

  it('takes what Claude takes with thinking: temperature 1, top_p from 0.95, tool_choice auto or none', () => {
    const out = okValue(ask({ reasoning_effort: 'medium', temperature: 1, top_p: 0.95, tool_choice: 'auto', tools: [{ type: 'function', function: { name: 'weather' } }] }));
    expect(out).toMatchObject({ thinking: { budget_tokens: 10_000 }, temperature: 1, top_p: 0.95, tool_choice: { type: 'auto' } });
  });

  it('refuses an effort OpenAI does not define', () => {
    expect(ask({ reasoning_effort: 'extreme' })).toEqual({ ok: false, error: expect.objectContaining({ reason: 'unsupported_value', param: 'reasoning_effort' }) });
    // Names an object literal inherits are no efforts either (they were read as a tier and silently dropped).
    for (const effort of ['constructor', 'toString', '__proto__', 'hasOwnProperty'])
      expect(ask({ reasoning_effort: effort })).toEqual({ ok: false, error: expect.objectContaining({ reason: 'unsupported_value', param: 'reasoning_effort' }) });
  });

  it('no thinking when tool results answer the final assistant turn: Claude would want its thinking block back, which a chat caller never has', () => {
    expect(okValue(ask({ reasoning_effort: 'high', messages: toolLoop.slice(0, 1) })).thinking).toEqual({ type: 'enabled', budget_tokens: 32_000 });
    const out = okValue(ask({ reasoning_effort: 'high', messages: toolLoop }));
    expect(out).not.toHaveProperty('thinking');
    expect(out.messages.at(-1)!.content).toEqual([{ type: 'tool_result', tool_use_id: 'call_1', content: 'sunny' }]);
    // Tool results followed by the user's own text are still the same turn.
    expect(okValue(ask({ reasoning_effort: 'high', messages: [...toolLoop, { role: 'user', content: 'And tomorrow?' }] }))).not.toHaveProperty('thinking');
  });

  it('no thinking for a prefill (the conversation ends with an assistant turn)', () => {
    expect(okValue(ask({ reasoning_effort: 'low', messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'Sure,' }] }))).not.toHaveProperty('thinking');
    expect(okValue(ask({ reasoning_effort: 'low', messages: [{ role: 'user', content: 'x' }] }))).toHaveProperty('thinking');
  });

  it('thinks again once the tool loop is over: the final assistant turn is plain text and the user speaks', () => {
    const after = [...toolLoop, { role: 'assistant', content: 'It is sunny.' }, { role: 'user', content: 'Thanks. And Rome?' }];
    expect(okValue(ask({ reasoning_effort: 'low', messages: after })).thinking).toEqual({ type: 'enabled', budget_tokens: 4_096 });
  });

  it('a caller cannot set the budget itself: only reasoning_effort is read', () => {
    const out = okValue(ask({ reasoning_effort: 'low', thinking: { type: 'enabled', budget_tokens: 60_000 }, max_tokens: 64_000 }, 8_000));
    expect(out.thinking).toEqual({ type: 'enabled', budget_tokens: 4_096 });
    expect(out.max_tokens).toBe(8_000);
  });
});

describe('Messages JSON → chat completion', () => {
  const chat = (text: string) => okValue(messagesToChat(json(text), { model: 'claude', created: 1 }));

  it('keeps text, shows the router model id and stops with "stop" on end_turn', () => {
    const out = chat(textJson);
    expect(out.choices[0]).toEqual({ index: 0, message: { role: 'assistant', content: 'Hi! My name is Claude.', refusal: null }, logprobs: null, finish_reason: 'stop' });
    expect(out).toMatchObject({ id: 'msg_013Zva2CMHLNnXjNJJKqJ2EF', object: 'chat.completion', model: 'claude', created: 1 });
    expect(out.usage).toEqual({ prompt_tokens: 2095, completion_tokens: 503, total_tokens: 2598, prompt_tokens_details: { cached_tokens: 0 } });
  });

  it('turns tool_use blocks into tool_calls with JSON arguments and finish_reason tool_calls', () => {
    const out = chat(toolUseJson);
    expect(out.choices[0]!.finish_reason).toBe('tool_calls');
    expect(out.choices[0]!.message.content).toBe("I'll check the current weather in San Francisco for you.");
    expect(out.choices[0]!.message.tool_calls).toEqual([{ id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","unit":"celsius"}' } }]);
  });

  it('does not forward thinking or redacted thinking blocks', () => {
    expect(chat(thinkingJson).choices[0]!.message.content).toBe('Yes, there are infinitely many prime numbers such that n mod 4 = 3.');
  });

  it('counts cache reads and writes inside prompt_tokens and reports them as cached_tokens and cache_write_tokens', () => {
    expect(chat(cacheJson).usage).toEqual({ prompt_tokens: 21 + 1200 + 188086, completion_tokens: 393, total_tokens: 21 + 1200 + 188086 + 393, prompt_tokens_details: { cached_tokens: 1200, cache_write_tokens: 188086 } });
    expect(messagesUsage(json(cacheJson))).toEqual({ promptTokens: 189307, cachedTokens: 1200, cacheWriteTokens: 188086, completionTokens: 393 });
  });

  it('maps max_tokens to length, stop_sequence to stop and refusal to content_filter', () => {
    expect(chat(maxTokensJson).choices[0]!.finish_reason).toBe('length');
    const base = json(textJson) as Record<string, unknown>;
    expect(okValue(messagesToChat({ ...base, stop_reason: 'stop_sequence', stop_sequence: 'END' }, { model: 'c' })).choices[0]!.finish_reason).toBe('stop');
    expect(okValue(messagesToChat({ ...base, stop_reason: 'refusal' }, { model: 'c' })).choices[0]!.finish_reason).toBe('content_filter');
  });

  it('reads stop reasons added after these converters: context window → length, unknown → stop', () => {
    const base = json(textJson) as Record<string, unknown>;
    expect(okValue(messagesToChat({ ...base, stop_reason: 'model_context_window_exceeded' }, { model: 'c' })).choices[0]!.finish_reason).toBe('length');
    expect(okValue(messagesToChat({ ...base, stop_reason: 'some_future_reason' }, { model: 'c' })).choices[0]!.finish_reason).toBe('stop');
  });

  it('returns invalid_shape for an error body instead of a message', () => {
    expect(messagesToChat(json(overloadedJson), { model: 'c' })).toEqual({ ok: false, error: expect.objectContaining({ reason: 'invalid_shape' }) });
    expect(messagesUsage(json(overloadedJson))).toBeUndefined();
  });
});

describe('Anthropic SSE → chat chunks', () => {
  const stream = (includeUsage = false) => new AnthropicToChatStream({ model: 'claude', includeUsage, created: 7 });
  type Chunk = { id: string; model: string; choices: { delta: { content?: string; role?: string; tool_calls?: { index: number; id?: string; function: { name?: string; arguments?: string } }[] }; finish_reason: string | null }[]; usage?: unknown };
  const chunks = (frames: string[]) => parseFrames(frames).map((f) => f.data) as (Chunk | '[DONE]')[];
  const content = (cs: (Chunk | '[DONE]')[]) => cs.flatMap((c) => (c === '[DONE]' ? [] : c.choices.map((x) => x.delta.content ?? ''))).join('');

  it('streams text as chunks, ends with finish_reason stop and [DONE], no usage chunk unless asked', () => {
    const cs = chunks(replay(stream(), textSse));
    expect(cs[0]).toMatchObject({ id: 'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY', object: 'chat.completion.chunk', model: 'claude', created: 7, choices: [{ delta: { role: 'assistant', content: '' } }] });
    expect(content(cs)).toBe('Hello!');
    expect(cs.at(-2)).toMatchObject({ choices: [{ delta: {}, finish_reason: 'stop' }] });
    expect(cs.at(-1)).toBe('[DONE]');
    expect(cs.some((c) => c !== '[DONE]' && c.usage)).toBe(false);
  });

  it('sends a final usage chunk (choices: []) before [DONE] when the caller asked for usage', () => {
    const t = stream(true);
    const cs = chunks(replay(t, textSse));
    expect(cs.at(-2)).toMatchObject({ choices: [], usage: { prompt_tokens: 25, completion_tokens: 15, total_tokens: 40 } });
    expect(t.usage()).toEqual({ promptTokens: 25, cachedTokens: 0, cacheWriteTokens: 0, completionTokens: 15 });
  });

  it('turns tool_use blocks and input_json_delta into indexed tool_call deltas whose arguments join to the input', () => {
    const cs = chunks(replay(stream(), toolUseSse)).filter((c): c is Chunk => c !== '[DONE]');
    const calls = cs.flatMap((c) => c.choices.flatMap((x) => x.delta.tool_calls ?? []));
    expect(calls.filter((c) => c.id)).toEqual([
      { index: 0, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', type: 'function', function: { name: 'get_weather', arguments: '' } },
      { index: 1, id: 'toolu_01Xm2Qp7hYc4Lk9Rz8Wn3Tb5', type: 'function', function: { name: 'get_time', arguments: '' } },
    ]);
    const args = (i: number) => calls.filter((c) => c.index === i).map((c) => c.function.arguments ?? '').join('');
    expect(JSON.parse(args(0))).toEqual({ location: 'San Francisco, CA', unit: 'fahrenheit' });
    expect(JSON.parse(args(1))).toEqual({ timezone: 'America/Los_Angeles' });
    expect(content(cs)).toBe("Okay, let's check the weather for San Francisco, CA:");
    expect(cs.at(-1)!.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('drops thinking and signature deltas but keeps the answer text', () => {
    const cs = chunks(replay(stream(), thinkingSse));
    expect(content(cs)).toBe('27 * 453 = 12,231');
    expect(cs.at(-1)).toBe('[DONE]');
  });

  it('a tool call after thinking and redacted thinking blocks is tool call 0, and nothing of the thinking reaches the caller', () => {
    const t = stream(true);
    const frames = replay(t, thinkingToolSse);
    const cs = chunks(frames).filter((c): c is Chunk => c !== '[DONE]');
    const calls = cs.flatMap((c) => c.choices.flatMap((x) => x.delta.tool_calls ?? []));
    expect(calls[0]).toEqual({ index: 0, id: 'toolu_01ThinkWx9', type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(JSON.parse(calls.map((c) => c.function.arguments ?? '').join(''))).toEqual({ city: 'Paris' });
    expect(content(cs)).toBe('');
    expect(frames.join('')).not.toMatch(/get_weather\. I should|signature|EmwKAh/);
    // The thinking's tokens are in the usage the caller and settlement see.
    expect(t.usage()!.completionTokens).toBe(187);
  });

  it('reads usage from message_start and message_delta, cache reads and writes included', () => {
    const t = stream(true);
    const cs = chunks(replay(t, cacheSse));
    expect(t.usage()).toEqual({ promptTokens: 21 + 1200 + 188086, cachedTokens: 1200, cacheWriteTokens: 188086, completionTokens: 393 });
    expect(cs.at(-2)).toMatchObject({ usage: { prompt_tokens: 189307, completion_tokens: 393, prompt_tokens_details: { cached_tokens: 1200 } } });
  });

  it('keeps message_start usage when message_delta carries only output_tokens', () => {
    const t = stream();
    replay(t, maxTokensSse);
    expect(t.usage()).toEqual({ promptTokens: 12, cachedTokens: 0, cacheWriteTokens: 0, completionTokens: 10 });
  });

  it('sends one finish chunk when the upstream sends more than one message_delta', () => {
    const extra = maxTokensSse.replace('event: message_stop', 'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":11}}\n\nevent: message_stop');
    const t = stream();
    const cs = chunks(replay(t, extra));
    expect(cs.filter((c) => c !== '[DONE]' && c.choices[0]?.finish_reason)).toHaveLength(1);
    expect(t.usage()!.completionTokens).toBe(11);
  });

  it('maps stop_reason max_tokens to finish_reason length', () => {
    const cs = chunks(replay(stream(), maxTokensSse));
    expect(cs.at(-2)).toMatchObject({ choices: [{ finish_reason: 'length' }] });
  });

  it('turns an error event into an OpenAI error frame, with no [DONE], and reports a node fault', () => {
    const t = stream();
    const cs = parseFrames(replay(t, errorSse)).map((f) => f.data);
    expect(cs.at(-1)).toEqual({ error: { message: 'The upstream provider failed (overloaded_error).', type: 'server_error', param: null, code: 'overloaded_error' } });
    expect(cs).not.toContain('[DONE]');
    expect(t.error).toMatchObject({ fault: 'node', status: 503 });
  });

  it('ends with an error frame, never [DONE], when the upstream stops before message_stop', () => {
    const cut = textSse.slice(0, textSse.indexOf('event: message_delta'));
    const cs = parseFrames(replay(stream(), cut)).map((f) => f.data);
    expect(cs.at(-1)).toMatchObject({ error: { type: 'server_error', code: 'api_error' } });
    expect(cs).not.toContain('[DONE]');
  });

  it('gives the same frames whether the bytes arrive whole or one character at a time', () => {
    expect(replay(stream(true), toolUseSse, 1)).toEqual(replay(stream(true), toolUseSse));
  });

  it('ignores event types it does not know (Anthropic may add them) and fails malformed known ones', () => {
    const t = stream();
    expect(t.push({ event: 'future_event', data: '{"type":"future_event","x":1}' })).toEqual([]);
    expect(parseFrames(t.push({ data: '{"type":"content_block_delta","index":"zero"}' }))[0]!.data).toMatchObject({ error: { code: 'api_error' } });
  });
});

describe('Anthropic errors → router outcomes', () => {
  const map = (status: number, body: string, headers: Record<string, string> = {}) => mapAnthropicError(status, new Headers(headers), json(body));

  it('treats 529 overloaded_error as a node fault and shows the caller 503', () => {
    expect(map(529, overloadedJson)).toEqual({ status: 503, fault: 'node', body: { error: { message: 'The upstream provider failed (overloaded_error).', type: 'server_error', param: null, code: 'overloaded_error' } } });
  });

  it('returns 400 invalid_request_error to the caller with its message', () => {
    const m = map(400, invalidJson);
    expect(m).toMatchObject({ status: 400, fault: 'caller', body: { error: { type: 'invalid_request_error', code: 'invalid_request_error' } } });
    expect(m.body.error.message).toContain('roles must alternate');
  });

  it('treats 429 rate_limit_error as rate limited and keeps the retry-after delay', () => {
    expect(map(429, rateLimitJson, { 'retry-after': '7' })).toMatchObject({ status: 429, fault: 'rate-limited', retryAfterMs: 7000, body: { error: { type: 'requests', code: 'rate_limit_error' } } });
  });

  it('treats 401 authentication_error as a node fault without echoing the node-key message', () => {
    const m = map(401, authJson);
    expect(m).toMatchObject({ fault: 'node', body: { error: { code: 'authentication_error' } } });
    expect(m.body.error.message).not.toContain('x-api-key');
  });

  it('treats 404 not_found_error and 402 billing_error as the node\'s configuration, shown as 502', () => {
    expect(mapAnthropicError(404, new Headers(), { type: 'error', error: { type: 'not_found_error', message: 'model: claude-nope' } })).toMatchObject({ status: 502, fault: 'node', body: { error: { code: 'not_found_error' } } });
    expect(mapAnthropicError(402, new Headers(), { type: 'error', error: { type: 'billing_error', message: 'credit balance too low' } })).toMatchObject({ status: 502, fault: 'node' });
  });

  it('maps an unparsable error body by status alone', () => {
    expect(mapAnthropicError(500, new Headers(), '<html>')).toMatchObject({ status: 500, fault: 'node', body: { error: { code: 'api_error' } } });
  });
});

describe("Anthropic's per-minute token 429: the request's size or the node's load", () => {
  const NEW = "This request would exceed your organization's rate limit of 30,000 input tokens per minute (org: o-1, model: claude-sonnet-4-6). For details, refer to: https://docs.claude.com/en/api/rate-limits.";
  const OLD = 'This request would exceed the rate limit for your organization (o-1) of 30,000 input tokens per minute. For details, refer to: https://docs.anthropic.com/en/api/rate-limits.';
  const OUT = "This request would exceed your organization's rate limit of 8,000 output tokens per minute (org: o-1, model: claude-sonnet-4-6).";
  const body = (message: string, type = 'rate_limit_error') => ({ type: 'error', error: { type, message } });
  const input = (remaining: string, limit = '30000') => new Headers({ 'anthropic-ratelimit-input-tokens-limit': limit, 'anthropic-ratelimit-input-tokens-remaining': remaining });

  it('is the request when at least half the bucket it names is free, in either wording', () => {
    expect(anthropicRequestTooLarge(input('30000'), body(NEW))).toBe(true);
    expect(anthropicRequestTooLarge(input('15000'), body(OLD))).toBe(true);
    expect(anthropicRequestTooLarge(new Headers({ 'anthropic-ratelimit-output-tokens-limit': '8000', 'anthropic-ratelimit-output-tokens-remaining': '8000' }), body(OUT))).toBe(true);
  });

  it('is the node when the bucket is mostly spent, its headers are missing or odd, or the 429 names no token bucket', () => {
    expect(anthropicRequestTooLarge(input('14999'), body(NEW))).toBe(false);
    expect(anthropicRequestTooLarge(new Headers(), body(NEW))).toBe(false);
    expect(anthropicRequestTooLarge(input('', '30000'), body(NEW))).toBe(false);
    expect(anthropicRequestTooLarge(input('30000', '0'), body(NEW))).toBe(false);
    // The output bucket's headers do not speak for an input-token refusal.
    expect(anthropicRequestTooLarge(new Headers({ 'anthropic-ratelimit-output-tokens-limit': '8000', 'anthropic-ratelimit-output-tokens-remaining': '8000' }), body(NEW))).toBe(false);
    expect(anthropicRequestTooLarge(input('30000'), body('Number of concurrent connections has exceeded your rate limit.'))).toBe(false);
    expect(anthropicRequestTooLarge(input('30000'), body(NEW, 'overloaded_error'))).toBe(false);
  });
});

describe('Anthropic adapter', () => {
  const node = { baseUrl: 'https://api.anthropic.com/v1', modelMap: {} };

  it('targets /v1/messages with x-api-key and anthropic-version, and probes /v1/models', () => {
    expect(anthropicAdapter().target(node, 'claude', '/chat/completions')).toEqual({ ok: true, value: 'https://api.anthropic.com/v1/messages' });
    expect(anthropicAdapter().authHeaders('sk-ant-test', GET)).toEqual({ 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01' });
    expect(anthropicAdapter().probe(node)).toEqual({ url: 'https://api.anthropic.com/v1/models', method: 'GET' });
  });

  it('refuses endpoints Messages cannot serve', () => {
    expect(anthropicAdapter().target(node, 'claude', '/embeddings')).toEqual({ ok: false, error: expect.objectContaining({ reason: 'unsupported_endpoint' }) });
  });
});
