/**
 * The official Anthropic SDK (`@anthropic-ai/sdk`) against `/v1/messages` with only
 * baseURL and apiKey changed — as Claude Code is pointed at the router with
 * `ANTHROPIC_BASE_URL`. Its `fetch` is the Worker's own entry point.
 */
import Anthropic from '@anthropic-ai/sdk';
import { exports } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { CF, newKey, resetWorld, setNode } from './helpers';

function sdk(key: string, options: { maxRetries?: number } = {}) {
  return new Anthropic({
    baseURL: 'https://router.test',
    apiKey: key,
    maxRetries: options.maxRetries ?? 0,
    fetch: (url: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(url, init), { cf: CF.iad } as RequestInit),
  });
}

let client: Anthropic;
beforeEach(async () => {
  await resetWorld();
  client = sdk((await newKey()).key);
});

describe('@anthropic-ai/sdk', () => {
  it('creates a message on an Anthropic node', async () => {
    const message = await client.messages.create({ model: 'claude-solo', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'Hello from p-anth' });
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  it('a base URL ending in /v1 (the SDK adds its own) is a NotFoundError in Anthropic\'s shape that says to drop it', async () => {
    const doubled = new Anthropic({
      baseURL: 'https://router.test/v1',
      apiKey: client.apiKey,
      maxRetries: 0,
      fetch: (url: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(url, init), { cf: CF.iad } as RequestInit),
    });
    const err = await doubled.messages.create({ model: 'claude-solo', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    const body = (err as { error: { type: string; error: { type: string; message: string } } }).error;
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('not_found_error');
    expect(body.error.message).toContain('the router serves /v1/messages');
    expect(body.error.message).toContain('the Anthropic SDK and ANTHROPIC_BASE_URL take the origin alone');
  });

  it('creates a message on an OpenAI-format node (translated both ways)', async () => {
    const message = await client.messages.create({ model: 'gpt-4o-mini', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
    expect(message.type).toBe('message');
    expect(message.content[0]).toMatchObject({ type: 'text', text: expect.stringMatching(/^Hello from n-/) });
  });

  it('streams, from an Anthropic node and from a translated OpenAI node', async () => {
    for (const model of ['claude-solo', 'gpt-4o-mini']) {
      const stream = client.messages.stream({ model, max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
      let text = '';
      stream.on('text', (t) => (text += t));
      const final = await stream.finalMessage();
      expect(text).toMatch(/^Hello from \S+ #1 #2$/);
      expect(final.usage.output_tokens).toBe(3);
    }
  });

  it('a stream cut mid-way raises an error in the SDK', async () => {
    await setNode('p-anth', { cutAfterChunks: 1, chunkDelayMs: 50 });
    const stream = client.messages.stream({ model: 'claude-solo', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
    await expect(stream.finalMessage()).rejects.toThrow();
  });

  it('tools: the model calls a tool, the SDK sends the result back', async () => {
    const tools = [{ name: 'weather', description: 'Weather for a city', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } } }];
    const first = await client.messages.create({ model: 'claude-solo', max_tokens: 64, tools, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    expect(first.stop_reason).toBe('tool_use');
    const use = first.content.find((b) => b.type === 'tool_use')!;
    expect(use).toMatchObject({ name: 'weather', input: { city: 'Paris' } });
    const second = await client.messages.create({
      model: 'claude-solo',
      max_tokens: 64,
      tools,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.type === 'tool_use' ? use.id : '', content: 'sunny' }] },
      ],
    });
    expect(second.content[0]).toMatchObject({ type: 'text', text: 'Hello from p-anth' });
  });

  it('counts tokens', async () => {
    const counted = await client.messages.countTokens({ model: 'claude-solo', messages: [{ role: 'user', content: 'Hello there' }] });
    expect(counted.input_tokens).toBeGreaterThan(0);
  });

  it("raises RateLimitError on the key's 429", async () => {
    const limited = sdk((await newKey({ limits: { rpm: 1 } })).key);
    await limited.messages.create({ model: 'claude-solo', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] });
    await expect(limited.messages.create({ model: 'claude-solo', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] })).rejects.toBeInstanceOf(Anthropic.RateLimitError);
  });

  it('raises AuthenticationError on an unknown key', async () => {
    await expect(sdk('sk-nope').messages.create({ model: 'claude-solo', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] })).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
  });
});
