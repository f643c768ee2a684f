/**
 * The Bedrock adapter's pure parts: chat → Converse, Converse JSON and binary event streams →
 * chat, InvokeModel streams → Anthropic events, URLs, errors — and SigV4 signing checked by
 * the fleet's independent verifier. Fixtures follow the documented Converse formats
 * (test/fixtures/bedrock); stream frames are encoded by the fleet's hand-written encoder.
 */
import type http from 'node:http';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { describe, expect, it } from 'vitest';
import { bedrockAdapter } from '../../src/providers/bedrock/adapter';
import { ConverseToChatStream } from '../../src/providers/bedrock/converse-stream';
import { BEDROCK_THROTTLE_COOLDOWN_MS, mapBedrockError } from '../../src/providers/bedrock/errors';
import { EventStreamDecoder } from '../../src/providers/bedrock/event-stream';
import { converseToChat, converseUsage } from '../../src/providers/bedrock/from-converse';
import { InvokeStreamToMessages } from '../../src/providers/bedrock/invoke-stream';
import { bedrockAuthHeaders, bedrockCredentials } from '../../src/providers/bedrock/sign';
import { chatToConverse } from '../../src/providers/bedrock/to-converse';
import { bedrockModelUrl, bedrockProbeUrl, bedrockRuntimeBase } from '../../src/providers/bedrock/url';
import { encodeFrame, eventFrame, exceptionFrame } from '../fleet/cloud-answers.ts';
import { FLEET_AWS_KEYS } from '../fleet/bedrock.ts';
import { verifySigV4 } from '../fleet/sigv4.ts';
import { json, parseFrames } from './providers-fixtures';
import textJson from '../fixtures/bedrock/converse-text.json?raw';
import toolJson from '../fixtures/bedrock/converse-tool-use.json?raw';
import cacheJson from '../fixtures/bedrock/converse-cache.json?raw';
import streamEvents from '../fixtures/bedrock/converse-stream-tool.events.json?raw';
import reasoningStreamEvents from '../fixtures/bedrock/converse-stream-reasoning.events.json?raw';
import reasoningToolJson from '../fixtures/bedrock/converse-reasoning-tool.json?raw';
import throttlingJson from '../fixtures/bedrock/error-throttling.json?raw';
import validationJson from '../fixtures/bedrock/error-validation.json?raw';

const ctx = { upstreamModel: 'us.anthropic.claude-3-5-haiku-20241022-v1:0', maxTokens: 512 };
const okValue = <T>(r: { ok: true; value: T } | { ok: false; error: unknown }): T => {
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r.error)}`);
  return r.value;
};
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const converse = (body: Record<string, unknown>) => chatToConverse({ model: 'claude', ...body }, ctx);

describe('chat request → Converse request', () => {
  it('puts system text in system, sets maxTokens to the reserved cap whatever the caller asked, and maps sampling and stops', () => {
    const out = okValue(converse({ max_tokens: 100000, temperature: 0.3, top_p: 0.9, stop: ['END'], messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] }));
    expect(out).toEqual({ system: [{ text: 'Be brief.' }], messages: [{ role: 'user', content: [{ text: 'Hi' }] }], inferenceConfig: { maxTokens: 512, temperature: 0.3, topP: 0.9, stopSequences: ['END'] } });
  });

  it('sends images as base64 bytes with their format, tool calls as toolUse and tool answers as toolResult', () => {
    const out = okValue(
      converse({
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } }] },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'look', arguments: '{"q":"x"}' } }] },
          { role: 'tool', tool_call_id: 'call_1', content: 'a pixel' },
        ],
        tools: [{ type: 'function', function: { name: 'look', description: 'Look it up', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }],
        tool_choice: 'required',
      }),
    );
    expect(out.messages).toEqual([
      { role: 'user', content: [{ text: 'What is this?' }, { image: { format: 'png', source: { bytes: PNG } } }] },
      { role: 'assistant', content: [{ toolUse: { toolUseId: 'call_1', name: 'look', input: { q: 'x' } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 'call_1', content: [{ text: 'a pixel' }] } }] },
    ]);
    expect(out.toolConfig).toEqual({ tools: [{ toolSpec: { name: 'look', description: 'Look it up', inputSchema: { json: { type: 'object', properties: { q: { type: 'string' } } } } } }], toolChoice: { any: {} } });
  });

  it('maps a named tool choice and leaves tools out for tool_choice none', () => {
    const tools = [{ type: 'function', function: { name: 'f' } }];
    expect(okValue(converse({ messages: [{ role: 'user', content: 'x' }], tools, tool_choice: { type: 'function', function: { name: 'f' } } })).toolConfig?.toolChoice).toEqual({ tool: { name: 'f' } });
    expect(okValue(converse({ messages: [{ role: 'user', content: 'x' }], tools, tool_choice: 'none' })).toolConfig).toBeUndefined();
  });

  it('refuses image URLs (Converse takes bytes), n > 1 and temperature above 1 with the field named', () => {
    const url = converse({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] });
    expect(url).toMatchObject({ ok: false, error: { reason: 'unsupported_value', param: 'messages.0.content.0' } });
    expect(converse({ n: 2, messages: [{ role: 'user', content: 'x' }] })).toMatchObject({ ok: false, error: { reason: 'unsupported_feature', param: 'n' } });
    expect(converse({ temperature: 1.5, messages: [{ role: 'user', content: 'x' }] })).toMatchObject({ ok: false, error: { reason: 'unsupported_value', param: 'temperature' } });
  });

  it('builds the body from known fields only: provider parameters the caller adds never reach Bedrock', () => {
    const out = okValue(converse({ messages: [{ role: 'user', content: 'x' }], additionalModelRequestFields: { max_tokens: 99999 }, inferenceConfig: { maxTokens: 99999 }, anthropic_beta: ['x'] }));
    expect(Object.keys(out).sort()).toEqual(['inferenceConfig', 'messages']);
    expect(out.inferenceConfig).toEqual({ maxTokens: 512 });
  });
});

describe('reasoning_effort → Claude extended thinking through additionalModelRequestFields', () => {
  // A Claude that thinks (Claude 3.5 Haiku, the ctx's model, takes no thinking: below).
  const thinker = 'us.anthropic.claude-sonnet-4-20250514-v1:0';
  const ask = (extra: Record<string, unknown>, upstreamModel = thinker, maxTokens = 40_000) =>
    chatToConverse({ model: 'claude', messages: [{ role: 'user', content: 'x' }], ...extra }, { upstreamModel, maxTokens });
  const tools = [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }];

  it.each([
    ['low', 4_096],
    ['medium', 10_000],
    ['high', 32_000],
  ])('%s: thinking with a %i-token budget, maxTokens still the reserved cap', (effort, budget) => {
    const out = okValue(ask({ reasoning_effort: effort }));
    expect(out.additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: budget } });
    expect(out.inferenceConfig).toEqual({ maxTokens: 40_000 });
  });

  it('Claude by model id or inference profile; other families (Llama, Nova, Mistral) and Claude before 3.7 Sonnet get no thinking', () => {
    for (const id of ['anthropic.claude-sonnet-4-20250514-v1:0', 'eu.anthropic.claude-3-7-sonnet-20250219-v1:0', 'global.anthropic.claude-sonnet-4-5-20250929-v1:0'])
      expect(okValue(ask({ reasoning_effort: 'low' }, id))).toHaveProperty('additionalModelRequestFields.thinking.budget_tokens', 4_096);
    for (const id of ['meta.llama3-70b-instruct-v1:0', 'us.amazon.nova-pro-v1:0', 'mistral.mistral-large-2407-v1:0', 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc', ctx.upstreamModel, 'anthropic.claude-3-haiku-20240307-v1:0'])
      expect(okValue(ask({ reasoning_effort: 'high' }, id))).not.toHaveProperty('additionalModelRequestFields');
  });

  it('none, minimal or no effort, and a cap below 2,048: no thinking', () => {
    for (const extra of [{ reasoning_effort: 'none' }, { reasoning_effort: 'minimal' }, {}, { reasoning_effort: null }]) expect(okValue(ask(extra))).not.toHaveProperty('additionalModelRequestFields');
    expect(okValue(ask({ reasoning_effort: 'high' }, thinker, 2_047))).toEqual({ messages: [{ role: 'user', content: [{ text: 'x' }] }], inferenceConfig: { maxTokens: 2_047 } });
    expect(okValue(ask({ reasoning_effort: 'high' }, thinker, 16_000)).additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 16_000 - 1_024 } });
  });

  it.each([
    [{ temperature: 0.2 }, { temperature: 0.2 }],
    [{ top_p: 0.9 }, { topP: 0.9 }],
  ])('beside %j (which Claude refuses with thinking): no thinking, the caller\'s setting kept', (extra, sent) => {
    const out = okValue(ask({ reasoning_effort: 'high', ...extra }));
    expect(out).not.toHaveProperty('additionalModelRequestFields');
    expect(out.inferenceConfig).toEqual({ maxTokens: 40_000, ...sent });
  });

  it('a forced tool: no thinking, the tool choice kept; tool_choice auto thinks', () => {
    const forced = okValue(ask({ reasoning_effort: 'low', tools, tool_choice: 'required' }));
    expect(forced).not.toHaveProperty('additionalModelRequestFields');
    expect(forced.toolConfig?.toolChoice).toEqual({ any: {} });
    expect(okValue(ask({ reasoning_effort: 'low', tools, tool_choice: 'auto', temperature: 1, top_p: 0.95 })).additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 4_096 } });
  });

  it('no thinking when tool results answer the last assistant turn, or for a prefill (Claude would want its reasoning block back)', () => {
    const loop = [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
    ];
    expect(okValue(ask({ reasoning_effort: 'low', tools, messages: loop }))).not.toHaveProperty('additionalModelRequestFields');
    expect(okValue(ask({ reasoning_effort: 'low', messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'Sure,' }] }))).not.toHaveProperty('additionalModelRequestFields');
  });

  it('refuses an effort OpenAI does not define, for Claude and for the other families alike', () => {
    for (const id of [ctx.upstreamModel, 'meta.llama3-70b-instruct-v1:0'])
      for (const effort of ['extreme', 'constructor'])
        expect(ask({ reasoning_effort: effort }, id)).toEqual({ ok: false, error: expect.objectContaining({ reason: 'unsupported_value', param: 'reasoning_effort' }) });
  });

  it('additionalModelRequestFields holds the router\'s thinking only: what the caller puts there (a bigger budget, a cap, top_k) never reaches Bedrock', () => {
    const out = okValue(ask({ reasoning_effort: 'low', additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 99_999 }, max_tokens: 200_000, top_k: 5 }, thinking: { type: 'enabled', budget_tokens: 99_999 } }));
    expect(out.additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 4_096 } });
    expect(Object.keys(out).sort()).toEqual(['additionalModelRequestFields', 'inferenceConfig', 'messages']);
    expect(okValue(ask({ additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 99_999 } } }))).not.toHaveProperty('additionalModelRequestFields');
  });
});

describe('Converse JSON → chat completion', () => {
  it('joins text blocks and reads usage structurally', () => {
    const out = okValue(converseToChat(json(textJson), { model: 'claude-haiku', id: 'req-1', created: 1 }));
    expect(out.choices[0]!.message.content).toBe('Hello! How can I help?');
    expect(out.choices[0]!.finish_reason).toBe('stop');
    expect(out.usage).toEqual({ prompt_tokens: 12, completion_tokens: 8, total_tokens: 20, prompt_tokens_details: { cached_tokens: 0 } });
    expect(out.model).toBe('claude-haiku');
  });

  it('turns toolUse blocks into tool_calls with the input as the arguments string', () => {
    const out = okValue(converseToChat(json(toolJson), { model: 'm', id: 'r' }));
    expect(out.choices[0]!.finish_reason).toBe('tool_calls');
    expect(out.choices[0]!.message.tool_calls).toEqual([{ id: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' } }]);
  });

  it('counts cache reads and writes into the prompt (cache reads as cached tokens), drops reasoning, maps max_tokens to length', () => {
    const body = json(cacheJson);
    const out = okValue(converseToChat(body, { model: 'm', id: 'r' }));
    expect(out.choices[0]!.message.content).toBe('42');
    expect(out.choices[0]!.finish_reason).toBe('length');
    expect(converseUsage(body)).toEqual({ promptTokens: 14 + 2048 + 1052, cachedTokens: 2048, cacheWriteTokens: 1052, completionTokens: 100 });
    expect(out.usage.prompt_tokens_details).toEqual({ cached_tokens: 2048, cache_write_tokens: 1052 });
  });

  it('a thinking answer: reasoning and redacted reasoning blocks before the text and tool call are dropped, their tokens in the usage', () => {
    const out = okValue(converseToChat(json(reasoningToolJson), { model: 'm', id: 'r' }));
    expect(out.choices[0]!.message).toEqual({
      role: 'assistant',
      content: 'Checking.',
      refusal: null,
      tool_calls: [{ id: 'tooluse_r3a5on', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
    });
    expect(out.usage.completion_tokens).toBe(96);
    expect(JSON.stringify(out)).not.toMatch(/wants the weather|reasoning|signature|ErUB|RXFv/i);
  });

  it('refuses an answer that is not a Converse response', () => {
    expect(converseToChat({ choices: [] }, { model: 'm', id: 'r' })).toMatchObject({ ok: false, error: { reason: 'invalid_shape' } });
  });
});

function streamBytes(): Buffer {
  const events = json(streamEvents) as { type: string; payload: unknown }[];
  return Buffer.concat(events.map((e) => eventFrame(e.type, e.payload)));
}

describe('AWS event stream decoding', () => {
  it('decodes frames the fleet encoded by hand, and frames encoded by the smithy codec', () => {
    const smithy = new EventStreamCodec(toUtf8, fromUtf8).encode({ headers: { ':message-type': { type: 'string', value: 'event' }, ':event-type': { type: 'string', value: 'messageStop' } }, body: fromUtf8('{"stopReason":"end_turn"}') });
    const frames = new EventStreamDecoder().push(Buffer.concat([eventFrame('messageStart', { role: 'assistant' }), Buffer.from(smithy)]));
    expect(frames).toEqual([
      { messageType: 'event', type: 'messageStart', body: '{"role":"assistant"}' },
      { messageType: 'event', type: 'messageStop', body: '{"stopReason":"end_turn"}' },
    ]);
  });

  it('yields the same frames whatever the read boundaries (every split point, and one byte at a time)', () => {
    const bytes = streamBytes();
    const whole = new EventStreamDecoder().push(bytes);
    expect(whole).toHaveLength(10);
    for (let cut = 1; cut < bytes.length; cut += 7) {
      const d = new EventStreamDecoder();
      expect([...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))]).toEqual(whole);
      expect(d.pending).toBe(0);
    }
    const d = new EventStreamDecoder();
    const out = [];
    for (let i = 0; i < bytes.length; i++) out.push(...d.push(bytes.subarray(i, i + 1)));
    expect(out).toEqual(whole);
  });

  it('throws on a frame whose checksum does not match', () => {
    const frame = Buffer.from(eventFrame('messageStart', { role: 'assistant' }));
    frame[frame.length - 6] ^= 0xff;
    expect(() => new EventStreamDecoder().push(frame)).toThrow();
  });

  it('reports an unfinished frame as pending bytes', () => {
    const d = new EventStreamDecoder();
    d.push(eventFrame('messageStart', { role: 'assistant' }).subarray(0, 10));
    expect(d.pending).toBe(10);
  });
});

describe('ConverseStream → chat chunks', () => {
  const run = (bytes: Buffer, includeUsage = true, piece = bytes.length) => {
    const t = new ConverseToChatStream({ model: 'claude-haiku', includeUsage, id: 'req-9', created: 7 });
    const frames: string[] = [];
    for (let i = 0; i < bytes.length; i += piece) frames.push(...t.pushBytes(bytes.subarray(i, i + piece)));
    frames.push(...t.end());
    return { t, events: parseFrames(frames) };
  };

  it('streams text, then a tool call with its arguments in pieces, the finish reason, the usage chunk and [DONE]', () => {
    const { t, events } = run(streamBytes(), true, 13);
    const deltas = events.slice(0, -3).map((e) => (e.data as { choices: { delta: unknown }[] }).choices[0]!.delta);
    expect(deltas).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Checking' },
      { content: ' now.' },
      { tool_calls: [{ index: 0, id: 'tooluse_abc123', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] },
    ]);
    expect((events.at(-3)!.data as { choices: { finish_reason: string }[] }).choices[0]!.finish_reason).toBe('tool_calls');
    expect(events.at(-2)!.data).toMatchObject({ choices: [], usage: { prompt_tokens: 2420, completion_tokens: 55, prompt_tokens_details: { cached_tokens: 2000 } } });
    expect(events.at(-1)!.data).toBe('[DONE]');
    expect(t.usage()).toEqual({ promptTokens: 2420, cachedTokens: 2000, cacheWriteTokens: 0, completionTokens: 55 });
    expect(t.error).toBeUndefined();
  });

  it('reasoning, signature and redacted deltas send nothing; the text and the tool call after them keep their order, the tool call index 0', () => {
    const events = json(reasoningStreamEvents) as { type: string; payload: unknown }[];
    const { t, events: out } = run(Buffer.concat(events.map((e) => eventFrame(e.type, e.payload))), true, 7);
    const deltas = out.slice(0, -3).map((e) => (e.data as { choices: { delta: unknown }[] }).choices[0]!.delta);
    expect(deltas).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Checking.' },
      { tool_calls: [{ index: 0, id: 'tooluse_r3a5on', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"city":"Paris"}' } }] },
    ]);
    expect(out.at(-2)!.data).toMatchObject({ usage: { completion_tokens: 96 } });
    expect(JSON.stringify(out)).not.toMatch(/wants the weather|reasoning|signature|ErUB|RXFv/i);
    expect(t.error).toBeUndefined();
  });

  it('leaves the usage chunk out when the caller did not ask, but still knows the usage', () => {
    const { t, events } = run(streamBytes(), false);
    expect(events.some((e) => (e.data as { usage?: unknown }).usage)).toBe(false);
    expect(t.usage()?.completionTokens).toBe(55);
  });

  it('turns a throttlingException frame into an OpenAI error frame, no [DONE], rate-limited with a cooldown', () => {
    const bytes = Buffer.concat([eventFrame('messageStart', { role: 'assistant' }), exceptionFrame('throttlingException', 'Too many tokens')]);
    const { t, events } = run(bytes);
    expect(events.at(-1)!.data).toMatchObject({ error: { type: 'requests', code: 'ThrottlingException' } });
    expect(events.some((e) => e.data === '[DONE]')).toBe(false);
    expect(t.error).toMatchObject({ fault: 'rate-limited', retryAfterMs: BEDROCK_THROTTLE_COOLDOWN_MS });
  });

  it('never ends a stream cut before messageStop, or mid-frame, with [DONE]', () => {
    const bytes = streamBytes();
    const cut = run(bytes.subarray(0, bytes.indexOf(Buffer.from('messageStop')) - 40));
    expect(cut.events.at(-1)!.data).toMatchObject({ error: { code: 'ModelStreamErrorException' } });
    expect(cut.t.error?.fault).toBe('node');
    const corrupt = Buffer.from(bytes);
    corrupt[20] ^= 0xff;
    expect(run(corrupt).events.at(-1)!.data).toMatchObject({ error: {} });
  });

  it('treats a frame of :message-type error (AWS’s own failure) as a node fault', () => {
    const bytes = Buffer.concat([eventFrame('messageStart', { role: 'assistant' }), encodeFrame({ ':message-type': 'error', ':error-code': 'InternalFailure', ':error-message': 'boom' }, '')]);
    expect(run(bytes).t.error?.fault).toBe('node');
  });
});

describe('InvokeModelWithResponseStream → Anthropic events (Messages callers)', () => {
  const chunk = (ev: unknown) => encodeFrame({ ':message-type': 'event', ':event-type': 'chunk', ':content-type': 'application/json' }, JSON.stringify({ bytes: Buffer.from(JSON.stringify(ev)).toString('base64') }));
  it('re-frames each base64 event as the SSE Anthropic sends and reads usage from message_start and message_delta', () => {
    const evs = [
      { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude', content: [], stop_reason: null, usage: { input_tokens: 10, output_tokens: 1, cache_read_input_tokens: 5, cache_creation_input_tokens: 3 } } },
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 9 } },
      { type: 'message_stop', 'amazon-bedrock-invocationMetrics': { inputTokenCount: 10, outputTokenCount: 9 } },
    ];
    const bytes = Buffer.concat(evs.map(chunk));
    const t = new InvokeStreamToMessages();
    const frames: string[] = [];
    for (let i = 0; i < bytes.length; i += 29) frames.push(...t.pushBytes(bytes.subarray(i, i + 29)));
    frames.push(...t.end());
    const parsed = parseFrames(frames);
    expect(parsed.map((f) => f.event)).toEqual(evs.map((e) => e.type));
    expect(parsed[2]!.data).toEqual(evs[2]);
    expect(t.usage()).toEqual({ promptTokens: 18, cachedTokens: 5, cacheWriteTokens: 3, completionTokens: 9 });
  });

  it('reads no usage from a figure that is not a count (negative, a string): the request settles at its reservation', () => {
    const start = { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude', content: [], stop_reason: null, usage: { input_tokens: 10, output_tokens: 1 } } };
    for (const usage of [{ output_tokens: -1_000_000 }, { output_tokens: '9' }, { output_tokens: 9, input_tokens: -5 }]) {
      const t = new InvokeStreamToMessages();
      t.pushBytes(Buffer.concat([start, { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage }, { type: 'message_stop' }].map(chunk)));
      expect(t.usage(), JSON.stringify(usage)).toBeUndefined();
    }
  });

  it('ends with an Anthropic error event when the stream is cut or throttled', () => {
    const t = new InvokeStreamToMessages();
    const frames = [...t.pushBytes(exceptionFrame('throttlingException', 'slow down')), ...t.end()];
    expect(parseFrames(frames)).toEqual([{ event: 'error', data: { type: 'error', error: { type: 'rate_limit_error', message: 'The upstream provider rate-limited this request.' } } }]);
    const cut = new InvokeStreamToMessages();
    expect(parseFrames(cut.end())[0]!.data).toMatchObject({ error: { type: 'api_error' } });
  });
});

describe('Bedrock errors → router outcomes', () => {
  const h = (name: string) => new Headers({ 'x-amzn-errortype': `${name}:http://internal.amazon.com/coral/com.amazon.bedrock/` });
  it('ThrottlingException is rate limited with a cooldown; ValidationException is the caller’s with its message', () => {
    expect(mapBedrockError(429, h('ThrottlingException'), json(throttlingJson))).toMatchObject({ status: 429, fault: 'rate-limited', retryAfterMs: BEDROCK_THROTTLE_COOLDOWN_MS });
    expect(mapBedrockError(400, h('ValidationException'), json(validationJson))).toMatchObject({ status: 400, fault: 'caller', body: { error: { message: 'The model returned the following errors: messages.0.content: Field required', code: 'ValidationException' } } });
  });

  it('ModelNotReadyException (a 429) and credential errors are node faults that hide the upstream message', () => {
    for (const [status, name] of [[429, 'ModelNotReadyException'], [403, 'AccessDeniedException'], [403, 'UnrecognizedClientException'], [403, 'InvalidSignatureException'], [404, 'ResourceNotFoundException'], [500, 'InternalServerException']] as const) {
      const m = mapBedrockError(status, h(name), { message: 'arn:aws:iam::123456789012:user/secret-name is not authorized' });
      expect(m.fault, name).toBe('node');
      expect(JSON.stringify(m.body)).not.toContain('123456789012');
    }
    expect(mapBedrockError(503, h('ServiceUnavailableException'), {}).status).toBe(503);
  });

  it('reads the name from __type when the header is missing, else falls back on the status', () => {
    expect(mapBedrockError(429, new Headers(), { __type: 'com.amazon.coral.availability#ThrottlingException' }).fault).toBe('rate-limited');
    expect(mapBedrockError(502, new Headers(), {}).fault).toBe('node');
  });
});

describe('Bedrock URLs and probe', () => {
  it('encodes model ids and inference profiles as one path segment', () => {
    const base = okValue(bedrockRuntimeBase('eu-central-1'));
    expect(base).toBe('https://bedrock-runtime.eu-central-1.amazonaws.com');
    expect(okValue(bedrockModelUrl(base, 'eu.anthropic.claude-3-7-sonnet-20250219-v1:0', 'converse-stream'))).toBe('https://bedrock-runtime.eu-central-1.amazonaws.com/model/eu.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse-stream');
    expect(okValue(bedrockModelUrl(base, 'arn:aws:bedrock:us-east-1:1:application-inference-profile/a1', 'invoke'))).toContain('/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Aapplication-inference-profile%2Fa1/invoke');
    expect(bedrockRuntimeBase('not a region')).toMatchObject({ ok: false, error: { param: 'region' } });
  });

  it('probes GetFoundationModel on the control plane (the foundation model behind an inference profile)', () => {
    expect(bedrockProbeUrl('https://bedrock-runtime.ap-northeast-1.amazonaws.com', 'apac.anthropic.claude-3-haiku-20240307-v1:0')).toBe('https://bedrock.ap-northeast-1.amazonaws.com/foundation-models/anthropic.claude-3-haiku-20240307-v1%3A0');
    expect(bedrockProbeUrl('http://127.0.0.1:9999', 'anthropic.claude-v2')).toBe('http://127.0.0.1:9999/foundation-models/anthropic.claude-v2');
  });

  it('picks Converse for chat callers and InvokeModel for Messages callers', () => {
    const node = { region: 'us-east-1' };
    expect(okValue(bedrockAdapter.target(node, 'anthropic.claude-v2', 'chat', false))).toMatch(/\/converse$/);
    expect(okValue(bedrockAdapter.target(node, 'anthropic.claude-v2', 'messages', true))).toMatch(/\/invoke-with-response-stream$/);
    const body = okValue(bedrockAdapter.translateRequest({ model: 'claude', max_tokens: 99999, stream: true, messages: [{ role: 'user', content: 'x' }] }, 'messages', { ...ctx, model: 'claude', includeUsage: false, stream: true })) as Record<string, unknown>;
    expect(body).toEqual({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 512, messages: [{ role: 'user', content: 'x' }] });
  });
});

/** A request as the fleet's node sees it, from what the router would send. */
function asIncoming(url: string, method: string, headers: Record<string, string>): http.IncomingMessage {
  const u = new URL(url);
  const lower: Record<string, string> = { host: u.host };
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  return { method, url: u.pathname + u.search, headers: lower } as unknown as http.IncomingMessage;
}

describe('SigV4 signing (aws4fetch), checked by the fleet’s independent verifier', () => {
  const url = 'http://127.0.0.1:8123/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse';
  const body = JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'héllo' }] }], inferenceConfig: { maxTokens: 5 } });
  const [permanent, temporary] = FLEET_AWS_KEYS as [(typeof FLEET_AWS_KEYS)[0], (typeof FLEET_AWS_KEYS)[0]];
  const sign = (creds = permanent, region = 'us-east-1', datetime?: string) =>
    bedrockAuthHeaders({ method: 'POST', url, body, headers: { 'content-type': 'application/json' }, region, credentials: { kind: 'sigv4', ...creds }, ...(datetime ? { datetime } : {}) });
  const verify = (headers: Record<string, string>, sent = body, nowMs = Date.now()) =>
    verifySigV4(asIncoming(url, 'POST', headers), Buffer.from(sent), { region: 'us-east-1', service: 'bedrock', keys: FLEET_AWS_KEYS, nowMs });

  it('a signed request verifies, with permanent and with temporary credentials (session token signed)', async () => {
    expect(verify(await sign())).toEqual({ ok: true, accessKeyId: permanent.accessKeyId });
    const temp = await sign(temporary);
    expect(temp['x-amz-security-token']).toBe(temporary.sessionToken);
    expect(verify(temp)).toEqual({ ok: true, accessKeyId: temporary.accessKeyId });
  });

  it('a changed body, the wrong region, a wrong secret or a signature over 5 minutes old is refused', async () => {
    expect(verify(await sign(), body.replace('héllo', 'hello'))).toMatchObject({ ok: false, name: 'InvalidSignatureException' });
    expect(verify(await sign(permanent, 'eu-central-1'))).toMatchObject({ ok: false, name: 'InvalidSignatureException' });
    expect(verify(await sign({ ...permanent, secretAccessKey: 'wrong' }))).toMatchObject({ ok: false, name: 'InvalidSignatureException' });
    const old = new Date(Date.now() - 6 * 60_000).toISOString().replace(/[:-]|\.\d{3}/g, '');
    expect(verify(await sign(permanent, 'us-east-1', old))).toMatchObject({ ok: false, name: 'InvalidSignatureException', message: expect.stringContaining('expired') });
    expect(verify(await sign({ accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' }))).toMatchObject({ ok: false, name: 'UnrecognizedClientException' });
  });

  it('a Bedrock API key goes as a Bearer token, unsigned', async () => {
    expect(await bedrockAuthHeaders({ method: 'POST', url, body, region: 'us-east-1', credentials: { kind: 'apiKey', apiKey: 'ABSK123' } })).toEqual({ authorization: 'Bearer ABSK123' });
  });

  it('credentials come from the named secrets; a missing one is a reason that names the secret, not a value', () => {
    const names = { accessKeyIdEnv: 'AWS_ID', secretAccessKeyEnv: 'AWS_SECRET', sessionTokenEnv: 'AWS_TOKEN', apiKeyEnv: 'BEDROCK_KEY' };
    expect(bedrockCredentials({ AWS_ID: 'a', AWS_SECRET: 's', AWS_TOKEN: 't' }, names)).toEqual({ ok: true, value: { kind: 'sigv4', accessKeyId: 'a', secretAccessKey: 's', sessionToken: 't' } });
    expect(bedrockCredentials({ BEDROCK_KEY: 'k', AWS_ID: 'a' }, names)).toEqual({ ok: true, value: { kind: 'apiKey', apiKey: 'k' } });
    expect(bedrockCredentials({ AWS_ID: 'a' }, names)).toEqual({ ok: false, reason: expect.stringContaining('AWS_SECRET') });
  });
});
