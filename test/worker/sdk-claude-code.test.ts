/**
 * Claude Code's requests, as its Anthropic SDK sends them (`client.beta.messages.*`: the
 * `?beta=true` path, `anthropic-beta` flags, `cache_control` on system, tools and messages,
 * `metadata.user_id`, thinking, streamed tool use, `count_tokens`), against the router with
 * only ANTHROPIC_BASE_URL and ANTHROPIC_AUTH_TOKEN set — to an Anthropic node (as sent) and to
 * an OpenAI-format node (translated) — and what README "Providers and Anthropic callers" says
 * it gets on each.
 */
import Anthropic from '@anthropic-ai/sdk';
import { exports } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { CF, newKey, nodeRequests, resetWorld } from './helpers';

let client: Anthropic;
beforeEach(async () => {
  await resetWorld();
  const { key } = await newKey();
  // ANTHROPIC_AUTH_TOKEN: the key goes as `Authorization: Bearer`, no x-api-key.
  client = new Anthropic({
    baseURL: 'https://router.test',
    apiKey: null,
    authToken: key,
    maxRetries: 0,
    fetch: (url: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(url, init), { cf: CF.iad } as RequestInit),
  });
});

const betas = ['claude-code-20250219', 'interleaved-thinking-2025-05-14', 'fine-grained-tool-streaming-2025-05-14'];
const ephemeral = { type: 'ephemeral' as const };
const tools = [{ name: 'Bash', description: 'Run a command', input_schema: { type: 'object' as const, properties: { command: { type: 'string' } } }, cache_control: ephemeral }];
const turn = (model: string) => ({
  model,
  max_tokens: 2048,
  betas,
  metadata: { user_id: 'user_abc' },
  system: [{ type: 'text' as const, text: 'You are Claude Code.', cache_control: ephemeral }],
  tools,
  messages: [{ role: 'user' as const, content: [{ type: 'text' as const, text: 'List the files.', cache_control: ephemeral }] }],
});

describe('Claude Code through the router', () => {
  it('to an Anthropic node: the beta flags and the body (cache_control, thinking) arrive as sent', async () => {
    const stream = client.beta.messages.stream({ ...turn('claude-solo'), thinking: { type: 'enabled', budget_tokens: 1024 } });
    const message = await stream.finalMessage();
    expect(message.stop_reason).toBe('tool_use');
    const [sent] = await nodeRequests('p-anth');
    expect(sent!.path).toBe('/v1/messages');
    expect(sent!.headers['anthropic-beta']).toBe(betas.join(','));
    expect(sent!.headers['x-api-key']).not.toContain('sk-ler-');
    expect(sent!.body).toMatchObject({ system: [{ cache_control: ephemeral }], tools: [{ cache_control: ephemeral }], thinking: { type: 'enabled', budget_tokens: 1024 }, metadata: { user_id: 'user_abc' } });
  });

  it('to an OpenAI-format node: the same turn is translated (cache_control dropped) and its tool call comes back as tool_use', async () => {
    const message = await client.beta.messages.stream(turn('gpt-4o-mini')).finalMessage();
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content).toEqual([expect.objectContaining({ type: 'tool_use', name: 'Bash', input: { city: 'Paris' } })]);
    expect(message.usage).toMatchObject({ cache_read_input_tokens: 0, output_tokens: expect.any(Number) });
    const [sent] = await nodeRequests('n-us');
    expect(sent!.path).toBe('/v1/chat/completions');
    expect(sent!.raw).not.toContain('cache_control');
    expect(sent!.body).toMatchObject({ stream: true, tools: [{ type: 'function', function: { name: 'Bash' } }] });
  });

  it('extended thinking on a model served only by OpenAI-format nodes is a 400 the SDK raises as BadRequestError', async () => {
    const asked = client.beta.messages.create({ ...turn('gpt-4o-mini'), thinking: { type: 'enabled', budget_tokens: 1024 } });
    await expect(asked).rejects.toBeInstanceOf(Anthropic.BadRequestError);
    await expect(asked).rejects.toMatchObject({ status: 400, error: { type: 'error', error: { type: 'invalid_request_error' } } });
  });

  it('count_tokens on the beta path answers from the estimate, whatever serves the model', async () => {
    for (const model of ['claude-solo', 'gpt-4o-mini']) {
      const counted = await client.beta.messages.countTokens({ model, betas: ['token-counting-2024-11-01'], system: 'You are Claude Code.', tools, messages: [{ role: 'user', content: 'List the files.' }] });
      expect(counted.input_tokens).toBeGreaterThan(10);
    }
    expect(await nodeRequests('p-anth')).toEqual([]);
  });
});
