/**
 * SDKs that use the Responses API by default, against the router with only baseURL and
 * apiKey changed: the official `openai` SDK (`responses.create`, streaming,
 * `responses.retrieve`) and the Vercel AI SDK's default OpenAI provider (`createOpenAI`
 * then `openai('<model>')`, which speaks `/v1/responses`). Their `fetch` is the Worker's
 * own entry point, with a caller location attached as Cloudflare's edge attaches it.
 */
import { exports } from 'cloudflare:workers';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText } from 'ai';
import OpenAI from 'openai';
import { beforeEach, describe, expect, it } from 'vitest';
import { CF, newKey, nodeRequests, resetWorld, setNode } from './helpers';

const edgeFetch = (url: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(url, init), { cf: CF.fra } as RequestInit);

let key: string;
beforeEach(async () => {
  await resetWorld();
  ({ key } = await newKey());
});

describe('openai SDK: Responses', () => {
  const client = () => new OpenAI({ baseURL: 'https://router.test/v1', apiKey: key, fetch: edgeFetch, maxRetries: 0 });

  it('creates a response and retrieves it by its id', async () => {
    const response = await client().responses.create({ model: 'gpt-4o-mini', input: 'Hi' });
    expect(response.output_text).toBe('Hello from n-eu #1 #2');
    expect(response.usage?.output_tokens).toBeGreaterThan(0);
    const again = await client().responses.retrieve(response.id);
    expect(again.id).toBe(response.id);
    expect(again.output_text).toBe(response.output_text);
  });

  it('streams a response, and continues it with previous_response_id', async () => {
    const stream = await client().responses.create({ model: 'gpt-4o-mini', input: 'Hi', stream: true });
    let text = '';
    let id = '';
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') id = event.response.id;
    }
    expect(text).toBe('Hello from n-eu #1 #2');
    const next = await client().responses.create({ model: 'gpt-4o-mini', input: 'More', previous_response_id: id });
    expect(next.output_text).toContain(`(after ${id.split('~')[0]})`);
  });

  it('raises the stream error event as an error', async () => {
    await setNode('n-eu', { cutAfterChunks: 1, chunks: 3, chunkDelayMs: 20 });
    const stream = await client().responses.create({ model: 'gpt-4o-mini', input: 'Hi', stream: true });
    await expect(
      (async () => {
        for await (const event of stream) void event;
      })(),
    ).rejects.toThrow(/upstream/i);
  });
});

describe('Vercel AI SDK, default OpenAI provider', () => {
  const model = () => createOpenAI({ baseURL: 'https://router.test/v1', apiKey: key, fetch: edgeFetch as typeof fetch })('gpt-4o-mini');

  it('generates text', async () => {
    const result = await generateText({ model: model(), prompt: 'Hi', maxRetries: 0 });
    expect(result.text).toBe('Hello from n-eu #1 #2');
    expect(result.usage.outputTokens).toBeGreaterThan(0);
    expect((await nodeRequests('n-eu')).map((r) => r.path)).toEqual(['/v1/responses']); // its default API
  });

  it('streams text', async () => {
    const result = streamText({ model: model(), prompt: 'Hi', maxRetries: 0 });
    let text = '';
    for await (const delta of result.textStream) text += delta;
    expect(text).toBe('Hello from n-eu #1 #2');
  });
});
