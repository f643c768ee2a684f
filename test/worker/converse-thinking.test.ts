/**
 * An OpenAI caller's `reasoning_effort` on Claude served by a Bedrock node through Converse:
 * the node (the fleet's Bedrock runtime, which holds `additionalModelRequestFields` to what
 * the model knows and thinking to Claude's rules, and answers a thinking request with a
 * reasoning block first) receives `thinking` with a budget under the reserved cap; the caller
 * gets plain chat, the reasoning's tokens in its usage. A temperature Claude refuses beside
 * thinking, a tool-result step, or a model that is not Claude: served without thinking.
 * The Worker runs with its own config (one Bedrock node, Claude and Llama) and AWS secrets.
 */
import { env } from 'cloudflare:workers';
import { createExecutionContext } from 'cloudflare:test';
import OpenAI from 'openai';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { FLEET_AWS_KEYS, FLEET_BEDROCK_API_KEY } from '../fleet/bedrock.ts';
import { newKey, nodeRequests, resetWorld, readChatStream } from './helpers';

const CONTROL = () => (env as unknown as { FLEET_CONTROL_URL: string }).FLEET_CONTROL_URL;
const IAD = { colo: 'IAD', latitude: '38.95', longitude: '-77.45', country: 'US', continent: 'NA' };
const CLAUDE_ID = 'us.anthropic.claude-sonnet-4-20250514-v1:0';
const LLAMA_ID = 'meta.llama3-3-70b-instruct-v1:0';

let base = '';
beforeAll(async () => {
  const nodes = await (await fetch(`${CONTROL()}/nodes`)).json<{ id: string; url: string }[]>();
  base = nodes.find((n) => n.id === 'bedrock-use1')!.url.replace(/\/v1$/, '');
});
beforeEach(resetWorld);

function bedrockEnv() {
  const shared = JSON.parse(env.ROUTER_CONFIG as unknown as string) as Record<string, unknown>;
  const config = {
    ...shared,
    nodes: [
      {
        id: 'bedrock-use1', provider: 'bedrock', baseUrl: base, region: 'us-east-1', lat: 39.04, lon: -77.49, models: ['claude-think', 'llama'],
        modelMap: { 'claude-think': CLAUDE_ID, llama: LLAMA_ID },
        bedrock: { region: 'us-east-1', accessKeyIdEnv: 'AWS_ID', secretAccessKeyEnv: 'AWS_SECRET' },
      },
    ],
    models: { 'claude-think': {}, llama: {} },
  };
  const [key] = FLEET_AWS_KEYS;
  return { ...env, ROUTER_CONFIG: JSON.stringify(config), AWS_ID: key!.accessKeyId, AWS_SECRET: key!.secretAccessKey };
}

/** The official SDK against the Worker running the Bedrock config (no SDK retries: a 400 is seen once). */
function client(key: string): OpenAI {
  return new OpenAI({
    baseURL: 'https://router.test/v1',
    apiKey: key,
    maxRetries: 0,
    fetch: async (url: RequestInfo | URL, init?: RequestInit) => {
      const res = await worker.fetch(new Request(url, { ...init, cf: IAD } as RequestInit) as never, bedrockEnv() as never, createExecutionContext());
      return new Response(await res.text(), { status: res.status, headers: res.headers });
    },
  });
}

const tools = [{ type: 'function' as const, function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
/** What the fleet's reasoning block holds: none of it may reach the caller. */
const REASONING = /Let me think|about this|signature|reasoning|Eq[A-Za-z0-9]*simulated/i;

let openai: OpenAI;
beforeEach(async () => {
  openai = client((await newKey()).key);
});

describe('reasoning_effort → Claude extended thinking on Bedrock Converse', () => {
  it('low effort, JSON: Converse gets thinking with 4,096 of the 8,000-token cap in additionalModelRequestFields; the caller gets plain chat with the reasoning tokens in usage', async () => {
    const { data, response } = await openai.chat.completions
      .create({ model: 'claude-think', messages: [{ role: 'user', content: 'Is 1,001 prime?' }], reasoning_effort: 'low', max_tokens: 8_000 })
      .withResponse();
    expect(response.headers.get('x-router-node')).toBe('bedrock-use1');
    const [sent] = await nodeRequests('bedrock-use1');
    expect(sent!.path).toBe(`/model/${encodeURIComponent(CLAUDE_ID)}/converse`);
    expect(sent!.body).toMatchObject({ inferenceConfig: { maxTokens: 8_000 }, additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 4_096 } } });
    expect(sent!.body).not.toHaveProperty('reasoning_effort');
    expect(data.choices[0]!.message).toEqual({ role: 'assistant', content: 'Hello from bedrock-use1', refusal: null });
    expect(JSON.stringify(data)).not.toMatch(REASONING);
    // The fleet's answer: 3 tokens of text and 12 of reasoning, all in outputTokens.
    expect(data.usage?.completion_tokens).toBe(15);
  });

  it('high effort, stream: reasoning and signature deltas never reach the caller; the text and the usage do', async () => {
    const stream = await openai.chat.completions.create({ model: 'claude-think', messages: [{ role: 'user', content: 'Hi' }], reasoning_effort: 'high', max_tokens: 40_000, stream: true, stream_options: { include_usage: true } });
    const { text, raw, completion } = await readChatStream(stream);
    expect(text).toBe('Hello from bedrock-use1 #1 #2');
    expect(raw).not.toMatch(REASONING);
    expect(completion).toBe(15);
    const [sent] = await nodeRequests('bedrock-use1');
    expect(sent!.path).toMatch(/\/converse-stream$/);
    expect(sent!.body).toMatchObject({ inferenceConfig: { maxTokens: 40_000 }, additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 32_000 } } });
  });

  it('a tool loop: the streamed call thinks (its tool call, after the reasoning block, is tool call 0), the step returning the result does not, and both are served', async () => {
    const stream = await openai.chat.completions.create({ model: 'claude-think', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools, reasoning_effort: 'low', max_tokens: 8_000, stream: true });
    const calls: OpenAI.Chat.Completions.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    let finish: string | null = null;
    let raw = '';
    for await (const chunk of stream) {
      raw += JSON.stringify(chunk);
      calls.push(...(chunk.choices[0]?.delta.tool_calls ?? []));
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('tool_calls');
    expect(raw).not.toMatch(REASONING);
    expect(calls.map((c) => c.index)).toEqual([0, 0, 0]);
    const id = calls[0]!.id!;
    expect(calls.map((c) => c.function?.arguments ?? '').join('')).toBe('{"city": "Paris"}');
    const second = await openai.chat.completions.create({
      model: 'claude-think',
      tools,
      reasoning_effort: 'low',
      max_tokens: 8_000,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: 'weather', arguments: '{"city": "Paris"}' } }] },
        { role: 'tool', tool_call_id: id, content: 'sunny' },
      ],
    });
    expect(second.choices[0]!.message.content).toBe('Hello from bedrock-use1');
    const [asked, returned] = await nodeRequests('bedrock-use1');
    expect(asked!.body).toMatchObject({ additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 4_096 } } });
    expect(returned!.body).not.toHaveProperty('additionalModelRequestFields');
  });

  it('temperature 0.2 beside high effort: served by Claude without thinking, the caller\'s temperature kept', async () => {
    const res = await openai.chat.completions.create({ model: 'claude-think', messages: [{ role: 'user', content: 'Hi' }], reasoning_effort: 'high', temperature: 0.2, max_tokens: 40_000 });
    expect(res.choices[0]!.message.content).toBe('Hello from bedrock-use1');
    const [sent] = await nodeRequests('bedrock-use1');
    expect(sent!.body).toMatchObject({ inferenceConfig: { maxTokens: 40_000, temperature: 0.2 } });
    expect(sent!.body).not.toHaveProperty('additionalModelRequestFields');
  });

  it('a model that is not Claude (Llama on the same node) goes without thinking and is served', async () => {
    const res = await openai.chat.completions.create({ model: 'llama', messages: [{ role: 'user', content: 'Hi' }], reasoning_effort: 'high', max_tokens: 8_000 });
    expect(res.choices[0]!.message.content).toBe('Hello from bedrock-use1');
    const [sent] = await nodeRequests('bedrock-use1');
    expect(sent!.path).toBe(`/model/${encodeURIComponent(LLAMA_ID)}/converse`);
    expect(sent!.body).not.toHaveProperty('additionalModelRequestFields');
  });

  it('an effort OpenAI does not define is a 400 unsupported_value naming reasoning_effort; the node never sees it', async () => {
    const err = await openai.chat.completions
      .create({ model: 'claude-think', messages: [{ role: 'user', content: 'Hi' }], reasoning_effort: 'extreme' as 'high', max_tokens: 8_000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ code: 'unsupported_value', param: 'reasoning_effort' });
    expect(await nodeRequests('bedrock-use1')).toHaveLength(0);
  });

  it('what the caller puts in additionalModelRequestFields (a bigger budget, top_k) never reaches the node: only the router\'s thinking does', async () => {
    const res = await openai.chat.completions.create({
      model: 'claude-think',
      messages: [{ role: 'user', content: 'Hi' }],
      reasoning_effort: 'low',
      max_tokens: 8_000,
      // @ts-expect-error -- a Bedrock-only field a caller might try to pass through
      additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 200_000 }, top_k: 5 },
    });
    expect(res.choices[0]!.message.content).toBe('Hello from bedrock-use1');
    const [sent] = await nodeRequests('bedrock-use1');
    expect(sent!.body.additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 4_096 } });
  });
});

describe('the fleet Bedrock node checks Converse thinking as Bedrock and Claude do', () => {
  const converse = async (modelId: string, body: Record<string, unknown>) => {
    const res = await fetch(`${base}/model/${encodeURIComponent(modelId)}/converse`, {
      method: 'POST',
      headers: { authorization: `Bearer ${FLEET_BEDROCK_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'Hi' }] }], inferenceConfig: { maxTokens: 4_000 }, ...body }),
    });
    return { status: res.status, type: res.headers.get('x-amzn-errortype')?.split(':')[0], body: await res.json<Record<string, unknown>>() };
  };
  const thinking = (budget_tokens = 2_000) => ({ additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens } } });

  it('refuses with a 400 ValidationException: temperature 0.5, top_p 0.9, a forced tool, a budget below 1,024 or not below maxTokens, thinking on Llama, an unknown field', async () => {
    const refused = [
      await converse(CLAUDE_ID, { ...thinking(), inferenceConfig: { maxTokens: 4_000, temperature: 0.5 } }),
      await converse(CLAUDE_ID, { ...thinking(), inferenceConfig: { maxTokens: 4_000, topP: 0.9 } }),
      await converse(CLAUDE_ID, { ...thinking(), toolConfig: { tools: [{ toolSpec: { name: 'w', inputSchema: { json: { type: 'object' } } } }], toolChoice: { any: {} } } }),
      await converse(CLAUDE_ID, thinking(1_000)),
      await converse(CLAUDE_ID, thinking(4_000)),
      await converse(LLAMA_ID, thinking()),
      await converse(CLAUDE_ID, { additionalModelRequestFields: { max_tokens: 99_999 } }),
    ];
    for (const r of refused) expect(r).toMatchObject({ status: 400, type: 'ValidationException', body: { message: expect.stringContaining('The model returned the following errors:') } });
    expect(refused[0]!.body.message).toContain('`temperature` may only be set to 1 when thinking is enabled');
    expect(refused[6]!.body.message).toContain('extraneous key [max_tokens]');
  });

  it('refuses thinking when tool results answer an assistant turn that does not open with its reasoning block', async () => {
    const loop = await converse(CLAUDE_ID, {
      ...thinking(),
      toolConfig: { tools: [{ toolSpec: { name: 'w', inputSchema: { json: { type: 'object' } } } }] },
      messages: [
        { role: 'user', content: [{ text: 'Weather?' }] },
        { role: 'assistant', content: [{ toolUse: { toolUseId: 't1', name: 'w', input: {} } }] },
        { role: 'user', content: [{ toolResult: { toolUseId: 't1', content: [{ text: 'sunny' }] } }] },
      ],
    });
    expect(loop).toMatchObject({ status: 400, type: 'ValidationException', body: { message: expect.stringContaining('must start with a thinking block') } });
  });

  it('answers thinking with a reasoning block first, its tokens in outputTokens', async () => {
    const ok = await converse(CLAUDE_ID, thinking());
    expect(ok.status).toBe(200);
    const content = (ok.body.output as { message: { content: Record<string, unknown>[] } }).message.content;
    expect(Object.keys(content[0]!)).toEqual(['reasoningContent']);
    expect(content[1]).toEqual({ text: 'Hello from bedrock-use1' });
    expect(ok.body.usage).toMatchObject({ outputTokens: 15 });
  });
});
