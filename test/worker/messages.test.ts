/**
 * Inbound `POST /v1/messages` (Anthropic callers): the key from `x-api-key` or Bearer, the
 * body byte for byte to an Anthropic node but for the model, translated to chat for
 * OpenAI-format nodes and back, Anthropic-shaped errors (the router's own too) with
 * `anthropic-ratelimit-*` headers, reservation from `max_tokens`, the stream contract, and
 * thinking blocks never sent across formats.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { textTokens } from '../../src/limits/estimate';
import { admin, call, callWithConfig, CF, eventually, newKey, nodeRequests, resetWorld, setNode, testConfig } from './helpers';

beforeEach(resetWorld);

const messages = (extra: Record<string, unknown> = {}) => ({ model: 'claude-solo', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }], ...extra });
const anthropic = (key: string, body: unknown, headers: Record<string, string> = {}) =>
  call('/v1/messages', { body, headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', ...headers } });

/** SSE events as [name, data]. */
async function events(res: Response): Promise<[string, Record<string, unknown>][]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((e) => e.trim())
    .map((e) => {
      const name = /^event: (.*)$/m.exec(e)?.[1] ?? '';
      const data = /^data: (.*)$/m.exec(e)?.[1] ?? '{}';
      return [name, JSON.parse(data) as Record<string, unknown>];
    });
}

describe('POST /v1/messages', () => {
  it('reaches an Anthropic node byte for byte but for the model: cache_control, thinking blocks and signatures survive', async () => {
    const { key } = await newKey();
    // Odd spacing, key order and a thinking block with its signature: only "model" may change.
    const raw = `{"max_tokens":  100, "model":"claude-solo","system":[{"type":"text","text":"Long system prompt","cache_control":{"type":"ephemeral"}}],
      "messages":[{"role":"user","content":[{"type":"text","text":"Hi","cache_control":{"type":"ephemeral","ttl":"5m"}}]},
      {"role":"assistant","content":[{"type":"thinking","thinking":"Let me think","signature":"EqQBCkYIARgCKkD+sig=="},{"type":"text","text":"Hello"}]},
      {"role":"user","content":"And now?"}],"metadata":{"user_id":"u-1"}}`;
    const res = await anthropic(key, raw, { 'anthropic-beta': 'prompt-caching-2024-07-31' });
    expect(res.status).toBe(200);
    const [sent] = await nodeRequests('p-anth');
    expect(sent!.raw).toBe(raw.replace('"model":"claude-solo"', '"model":"claude-solo-sim"'));
    expect(sent!.headers['anthropic-beta']).toBe('prompt-caching-2024-07-31');
    expect(sent!.headers['x-api-key']).toBe('node-secret-anth-0005');
    const body = (await res.json()) as { type: string; content: { text: string }[] };
    expect(body.type).toBe('message');
    expect(body.content[0]!.text).toBe('Hello from p-anth');
  });

  it('takes the key from Authorization: Bearer as well as x-api-key', async () => {
    const { key } = await newKey();
    const res = await call('/v1/messages', { key, body: messages() });
    expect(res.status).toBe(200);
  });

  it('the router\'s own 401 is Anthropic-shaped', async () => {
    const res = await call('/v1/messages', { body: messages(), headers: { 'x-api-key': 'sk-wrong' } });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
  });

  it('a wrong method (GET /v1/messages, GET count_tokens) is a 405 in Anthropic\'s shape with Allow: POST', async () => {
    const { key } = await newKey();
    for (const path of ['/v1/messages', '/v1/messages/count_tokens']) {
      const res = await call(path, { key, method: 'GET' });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
      expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('use POST') } });
    }
  });

  it('a missing max_tokens is an Anthropic-shaped 400 from the router', async () => {
    const { key } = await newKey();
    const res = await anthropic(key, { model: 'claude-solo', messages: [{ role: 'user', content: 'Hi' }] });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(body.error.message).toMatch(/max_tokens/);
  });

  it('over the key\'s rpm: 429 rate_limit_error with retry-after and anthropic-ratelimit-* headers', async () => {
    const { key } = await newKey({ limits: { rpm: 1 } });
    const ok = await anthropic(key, messages());
    expect(ok.status).toBe(200);
    expect(ok.headers.get('anthropic-ratelimit-requests-limit')).toBe('1');
    expect(ok.headers.get('anthropic-ratelimit-requests-remaining')).toBe('0');
    expect(Date.parse(ok.headers.get('anthropic-ratelimit-requests-reset')!)).toBeGreaterThan(Date.now() - 1000);
    const refused = await anthropic(key, messages());
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('anthropic-ratelimit-requests-remaining')).toBe('0');
  });

  it('reserves max_tokens: a max_tokens above the key\'s tpm is refused before any node is called', async () => {
    const { key } = await newKey({ limits: { tpm: 500 } });
    const res = await anthropic(key, messages({ max_tokens: 1000 }));
    expect(res.status).toBe(429);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(await nodeRequests('p-anth')).toHaveLength(0);
  });

  it('streams from an Anthropic node: events pass through, ending in message_stop', async () => {
    const { key } = await newKey();
    const res = await anthropic(key, messages({ stream: true }));
    expect(res.status).toBe(200);
    const names = (await events(res)).map(([n]) => n);
    expect(names[0]).toBe('message_start');
    expect(names.at(-1)).toBe('message_stop');
    expect(names).toContain('content_block_delta');
  });

  it('a stream cut mid-way ends with an Anthropic error event, never message_stop', async () => {
    const { key } = await newKey();
    await setNode('p-anth', { cutAfterChunks: 1, chunkDelayMs: 50 });
    const res = await anthropic(key, messages({ stream: true }));
    expect(res.status).toBe(200);
    const evs = await events(res);
    expect(evs.map(([n]) => n)).not.toContain('message_stop');
    expect(evs.at(-1)).toEqual(['error', { type: 'error', error: { type: 'api_error', message: expect.any(String) } }]);
  });

  it('to an OpenAI-format node: translated to chat, the answer translated back to a Message', async () => {
    const { key } = await newKey();
    const res = await anthropic(key, { model: 'gpt-4o-mini', max_tokens: 50, system: 'Be brief.', stop_sequences: ['END'], messages: [{ role: 'user', content: 'Hi' }] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { type: string; role: string; model: string; content: { type: string; text: string }[]; stop_reason: string; usage: { input_tokens: number; output_tokens: number } };
    expect(body).toMatchObject({ type: 'message', role: 'assistant', model: 'gpt-4o-mini', stop_reason: 'end_turn' });
    expect(body.content[0]!.text).toMatch(/^Hello from n-/);
    expect(body.usage.output_tokens).toBeGreaterThan(0);
    const node = res.headers.get('x-router-node')!;
    const [sent] = await nodeRequests(node);
    expect(sent!.path).toBe('/v1/chat/completions');
    expect(sent!.body).toMatchObject({ model: 'gpt-4o-mini', max_tokens: 50, stop: ['END'], messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] });
  });

  it('to an OpenAI-format node, streamed: chat chunks become Messages events with usage in message_delta', async () => {
    const { key } = await newKey();
    const res = await anthropic(key, { model: 'gpt-4o-mini', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'Hi' }] });
    const evs = await events(res);
    expect(evs[0]![0]).toBe('message_start');
    expect(evs.at(-1)![0]).toBe('message_stop');
    const delta = evs.find(([n]) => n === 'message_delta')![1] as { delta: { stop_reason: string }; usage: { output_tokens: number } };
    expect(delta.delta.stop_reason).toBe('end_turn');
    expect(delta.usage.output_tokens).toBe(3);
    // The node was asked for usage (settlement) though the caller did not say.
    const [sent] = await nodeRequests(res.headers.get('x-router-node')!);
    expect(sent!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('tools to an OpenAI-format node: Messages tools become chat tools, tool_use/tool_result history becomes tool_calls/tool messages', async () => {
    const { key } = await newKey();
    const res = await anthropic(key, {
      model: 'gpt-4o-mini',
      max_tokens: 50,
      tools: [{ name: 'weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] },
      ],
    });
    expect(res.status).toBe(200);
    const [sent] = await nodeRequests(res.headers.get('x-router-node')!);
    expect(sent!.body).toMatchObject({
      tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
      ],
    });
  });

  it('a failed tool (tool_result is_error) reaches an OpenAI-format node as a tool message that says so; a good result is left as it was', async () => {
    const { key } = await newKey();
    const res = await anthropic(key, {
      model: 'gpt-4o-mini',
      max_tokens: 50,
      tools: [{ name: 'weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        { role: 'assistant', content: [
          { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_2', name: 'weather', input: { city: 'Rome' } },
        ] },
        { role: 'user', content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', is_error: true, content: [{ type: 'text', text: 'weather service timed out' }] },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: 'sunny' },
        ] },
      ],
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const [sent] = await nodeRequests(res.headers.get('x-router-node')!);
    const tools = (sent!.body.messages as { role: string }[]).filter((m) => m.role === 'tool');
    expect(tools).toEqual([
      { role: 'tool', tool_call_id: 'toolu_1', content: 'Error: weather service timed out' },
      { role: 'tool', tool_call_id: 'toolu_2', content: 'sunny' },
    ]);
  });

  it('images to an Anthropic node are validated by the node (a bad media type is its 400, Anthropic-shaped)', async () => {
    const { key } = await newKey();
    const res = await anthropic(key, messages({ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: 'AAAA' } }] }] }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });

  it('thinking: null is a 400 in Anthropic\'s shape whichever node is asked: the translator refuses it for an OpenAI-format node, an Anthropic node refuses it (the fleet\'s reset, a 502 after both)', async () => {
    const { key } = await newKey();
    for (const stream of [false, true]) {
      const res = await anthropic(key, { model: 'claude-x', max_tokens: 50, stream, thinking: null, messages: [{ role: 'user', content: 'Hi' }] });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('thinking') } });
    }
  });

  it('an OpenAI-format node\'s error reaches the Anthropic caller in Anthropic\'s shape', async () => {
    const { key } = await newKey();
    for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { status: 503 });
    const res = await anthropic(key, { model: 'gpt-4o-mini', max_tokens: 50, messages: [{ role: 'user', content: 'Hi' }] });
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: expect.stringMatching(/overloaded_error|api_error/) } });
  });

  it('a fallback that would cross formats with thinking blocks in the history is skipped with the reason', async () => {
    const { key } = await newKey();
    await setNode('p-anth', { status: 529 });
    const res = await anthropic(key, messages({
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm', signature: 'sig' }, { type: 'text', text: 'Hello' }] },
        { role: 'user', content: 'Again' },
      ],
    }));
    expect(res.status).toBeGreaterThanOrEqual(500);
    const body = (await res.json()) as { type: string; error: { message: string } };
    expect(body.type).toBe('error');
    expect(body.error.message).toMatch(/thinking/i);
    expect(await nodeRequests('p-azure')).toHaveLength(0);
  });

  it('thinking blocks to an OpenAI-only model: a 400 naming the block, and no node called', async () => {
    const { key } = await newKey();
    const res = await anthropic(key, {
      model: 'gpt-4o-mini',
      max_tokens: 50,
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm', signature: 'sig' }] },
        { role: 'user', content: 'Again' },
      ],
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(/messages\.1\.content\.0/);
    for (const id of ['n-us', 'n-eu', 'n-ap']) expect(await nodeRequests(id)).toHaveLength(0);
  });

  it('count_tokens answers the estimate (4 ASCII characters a token, not the reservation\'s bound), calls no node and spends no tpm', async () => {
    const { key } = await newKey({ limits: { tpm: 200 } });
    const res = await call('/v1/messages/count_tokens', { body: { model: 'claude-solo', system: 'Be brief.', messages: [{ role: 'user', content: 'Hello there, how are you?' }] }, headers: { 'x-api-key': key } });
    expect(res.status).toBe(200);
    const { input_tokens } = (await res.json()) as { input_tokens: number };
    const t = (text: string) => textTokens(text, 'estimate');
    // Each part framed as a message (4) with the reply's priming (3): the system prompt, then the user's.
    expect(input_tokens).toBe(4 + t('system') + t('Be brief.') + 3 + (4 + t('user') + t('Hello there, how are you?') + 3));
    expect(await nodeRequests('p-anth')).toHaveLength(0);
    const after = await anthropic(key, messages({ max_tokens: 150 }));
    expect(after.status).toBe(200);
  });

  it('a Messages request reserves its prompt by the bound (UTF-8 bytes): dense text past tpm is refused, naming the figure', async () => {
    const { key } = await newKey({ limits: { tpm: 300 } });
    const dense = '1,'.repeat(200); // about a token a character upstream; the estimate would reserve a quarter
    const res = await anthropic(key, messages({ messages: [{ role: 'user', content: dense }] }));
    expect(res.status).toBe(429);
    const requested = 4 + 'user'.length + dense.length + 3 + 100; // framing, the message's strings, reply priming, max_tokens
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(`Limit 300, Requested ${requested}.`);
    expect(await nodeRequests('p-anth')).toHaveLength(0);
  });

  it('count_tokens refuses a body nested past MAX_JSON_DEPTH with a 400, as /v1/messages does, not a 500 from the recursive estimate', async () => {
    const { key } = await newKey();
    const levels = 30_000; // 60 KB, under the test limit of 64 KiB
    const body = `{"model":"claude-solo","messages":[{"role":"user","content":${'['.repeat(levels)}${']'.repeat(levels)}}]}`;
    const res = await call('/v1/messages/count_tokens', { body, headers: { 'x-api-key': key } });
    expect(res.status).toBe(400);
    const json = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(json.type).toBe('error');
    expect(json.error.type).toBe('invalid_request_error');
    expect(json.error.message).toMatch(/levels deep/);
  });

  it('settles an Anthropic node\'s usage, cache reads and writes included, and prices cache writes at cacheWrite', async () => {
    const { id, key } = await newKey();
    await setNode('p-anth', { cacheReadTokens: 1000, cacheWriteTokens: 2000 });
    await setNode('p-azure', { status: 503 });
    const res = await anthropic(key, { model: 'claude-x', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'Hi' }] });
    expect(res.headers.get('x-router-node')).toBe('p-anth');
    const start = (await events(res)).find(([n]) => n === 'message_start')![1] as { message: { usage: { input_tokens: number } } };
    const input = start.message.usage.input_tokens;
    const rows = await eventually(
      async () => (await (await admin(`/usage?key=${id}&groupBy=node`)).json<{ data: { node: string; inputTokens: number; cachedTokens: number; outputTokens: number; costUsd: number }[] }>()).data,
      (r) => r.some((row) => row.node === 'p-anth'),
    );
    const row = rows.find((r) => r.node === 'p-anth')!;
    expect(row).toMatchObject({ inputTokens: input + 3000, cachedTokens: 1000, outputTokens: 3 });
    expect(row.costUsd).toBeCloseTo((input * 3 + 1000 * 0.3 + 2000 * 3.75 + 3 * 15) / 1e6, 9);
  });

  it('to an Azure deployment: translated to chat at the deployment URL with api-key, answered as a Message', async () => {
    const { key } = await newKey();
    const res = await anthropic(key, { model: 'azure-solo', max_tokens: 50, messages: [{ role: 'user', content: 'Hi' }] });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { content: { text: string }[] }).content[0]!.text).toBe('Hello from p-azure');
    const [sent] = await nodeRequests('p-azure');
    expect(sent!.path).toBe('/openai/deployments/dep-solo/chat/completions?api-version=2024-10-21');
    expect(sent!.headers['api-key']).toBe('node-secret-azure-0006');
  });
});

describe('extended thinking on an OpenAI reasoning model (Claude Code pointed at o-series or gpt-5)', () => {
  /** n-eu also serves o4-mini, which the fleet, like OpenAI, lets take `reasoning_effort`. */
  const reasoning = () => {
    const config = testConfig();
    config.nodes.find((n: { id: string }) => n.id === 'n-eu').models.push('o4-mini');
    config.models['o4-mini'] = {};
    return config;
  };
  const send = (config: object, key: string, model: string, extra: Record<string, unknown>) =>
    callWithConfig(config, '/v1/messages', {
      cf: CF.fra,
      body: { model, max_tokens: 16_000, messages: [{ role: 'user', content: 'Hi' }], ...extra },
      headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' },
    });

  it("reaches the node as reasoning_effort, the budget's level, inside the cap the router reserved", async () => {
    const { key } = await newKey();
    const res = await send(reasoning(), key, 'o4-mini', { thinking: { type: 'enabled', budget_tokens: 10_000 } });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ type: 'message', content: [{ type: 'text' }] });
    const [sent] = (await nodeRequests('n-eu')).filter((r) => r.body !== null);
    expect(sent!.body).toMatchObject({ model: 'o4-mini', reasoning_effort: 'medium', max_completion_tokens: 16_000 });
    expect(sent!.body).not.toHaveProperty('thinking');
    expect(sent!.body).not.toHaveProperty('max_tokens');
  });

  it('a temperature or top_p the reasoning model cannot take (OpenAI: only the default, 1) is left out, not relayed as a 400; other models keep them', async () => {
    const { key } = await newKey();
    const res = await send(reasoning(), key, 'o4-mini', { temperature: 0, top_p: 0.9 });
    expect(res.status, await res.clone().text()).toBe(200);
    const [sent] = (await nodeRequests('n-eu')).filter((r) => r.body !== null);
    expect(sent!.body).not.toHaveProperty('temperature');
    expect(sent!.body).not.toHaveProperty('top_p');
    const one = await send(reasoning(), key, 'o4-mini', { temperature: 1, thinking: { type: 'enabled', budget_tokens: 4_096 } });
    expect(one.status, await one.clone().text()).toBe(200);
    const plain = await send(reasoning(), key, 'gpt-4o-mini', { temperature: 0.3, top_p: 0.9 });
    expect(plain.status).toBe(200);
    const kept = (await nodeRequests('n-eu')).filter((r) => r.body !== null).map((r) => r.body as Record<string, unknown>);
    expect(kept.find((b) => b.model === 'o4-mini' && b.reasoning_effort === 'low')).toMatchObject({ temperature: 1 });
    expect(kept.find((b) => b.model === 'gpt-4o-mini')).toMatchObject({ temperature: 0.3, top_p: 0.9 });
  });

  it("a budget Anthropic would refuse is refused in Anthropic's shape; a model that does not reason still says so", async () => {
    const { key } = await newKey();
    const over = await send(reasoning(), key, 'o4-mini', { thinking: { type: 'enabled', budget_tokens: 16_000 } });
    expect(over.status).toBe(400);
    expect(await over.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('max_tokens') } });
    const plain = await send(reasoning(), key, 'gpt-4o-mini', { thinking: { type: 'enabled', budget_tokens: 10_000 } });
    expect(plain.status).toBe(400);
    expect(await plain.json()).toMatchObject({ error: { message: expect.stringContaining('thinking') } });
    expect((await nodeRequests('n-eu')).filter((r) => r.body !== null)).toHaveLength(0);
  });
});
