/**
 * The official `openai` SDK against the router with only baseURL and apiKey changed. Its
 * `fetch` is the Worker's own entry point (same runtime, same code path as HTTPS), with a
 * caller location attached the way Cloudflare's edge attaches `request.cf`.
 */
import OpenAI from 'openai';
import { beforeEach, describe, expect, it } from 'vitest';
import { newKey, openaiClient, resetWorld, setNode } from './helpers';

let client: OpenAI;
beforeEach(async () => {
  await resetWorld();
  const { key } = await newKey();
  client = openaiClient(key);
});

describe('openai SDK', () => {
  it('creates a chat completion', async () => {
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
    expect(completion.choices[0]!.message.content).toBe('Hello from n-eu');
    expect(completion.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('streams a chat completion, usage included on request', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Hello from n-eu #1 #2');
    expect(usage).toMatchObject({ completion_tokens: 3 });
  });

  it('creates embeddings and lists models', async () => {
    const emb = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
    expect(emb.data[0]!.embedding).toHaveLength(8);
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toContain('gpt-4o-mini');
  });

  it('retrieves a model, and raises NotFoundError for one not served', async () => {
    expect(await client.models.retrieve('mini')).toMatchObject({ id: 'mini', object: 'model' });
    const err = await client.models.retrieve('no-such-model').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
  });

  it('raises typed errors: BadRequestError for an unknown model', async () => {
    const err = await client.chat.completions
      .create({ model: 'nope', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('model_not_found');
  });

  it('does not retry on its own after the router has exhausted failover', async () => {
    for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { status: 503 });
    const started = Date.now();
    const err = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    // x-should-retry: false stops the SDK's two default retries (each with ~0.5-8 s sleeps).
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('surfaces a mid-stream cut as an error, not a short success', async () => {
    await setNode('n-eu', { cutAfterChunks: 2, chunks: 4, chunkDelayMs: 50 });
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    const consume = async () => {
      for await (const _ of stream) void _;
    };
    await expect(consume()).rejects.toThrow(/upstream/i);
  });
});
