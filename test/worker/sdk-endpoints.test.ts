/**
 * Every OpenAI endpoint the README's API table lists beyond chat, embeddings and Responses
 * creation, called as a new user calls them: through the official `openai` SDK with only
 * baseURL and apiKey changed — its own multipart encoding for uploads, its own SSE parser
 * for typed image events, its own pagination for input items. Its `fetch` is the Worker's
 * entry point, with a caller location attached as Cloudflare's edge attaches it.
 */
import OpenAI, { toFile } from 'openai';
import { beforeEach, describe, expect, it } from 'vitest';
import { newKey, nodeRequests, openaiClient, resetWorld } from './helpers';

let client: OpenAI;
beforeEach(async () => {
  await resetWorld();
  const { key } = await newKey();
  client = openaiClient(key, { maxRetries: 0 });
});

const audio = () => toFile(new Uint8Array(1000).fill(7), 'hello.wav', { type: 'audio/wav' });

describe('openai SDK: the other endpoints', () => {
  it('legacy completions, JSON and streamed', async () => {
    const done = await client.completions.create({ model: 'gpt-4o-mini', prompt: 'Say hi' });
    expect(done.choices[0]!.text).toBe('Hello from n-eu #1 #2');
    const stream = await client.completions.create({ model: 'gpt-4o-mini', prompt: 'Say hi', stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe('Hello from n-eu #1 #2');
  });

  it('moderations', async () => {
    const result = await client.moderations.create({ model: 'gpt-4o-mini', input: 'hello' });
    expect(result.results[0]!.flagged).toBe(false);
  });

  it('image generation, JSON and streamed with partial images (typed events, no [DONE])', async () => {
    const image = await client.images.generate({ model: 'gpt-4o-mini', prompt: 'a cat' });
    expect(image.data![0]!.b64_json).toBe('iVBORw0KGgo=');
    const stream = await client.images.generate({ model: 'gpt-4o-mini', prompt: 'a cat', stream: true, partial_images: 2 });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types).toEqual(['image_generation.partial_image', 'image_generation.partial_image', 'image_generation.completed']);
  });

  it('speech: the binary audio, whole', async () => {
    const speech = await client.audio.speech.create({ model: 'gpt-4o-mini', voice: 'alloy', input: 'Hello' });
    expect(speech.headers.get('content-type')).toBe('audio/mpeg');
    expect(new TextDecoder().decode(await speech.arrayBuffer())).toBe('ID3-n-eu-chunk-0;ID3-n-eu-chunk-1;ID3-n-eu-chunk-2;');
  });

  it("transcription and translation: the SDK's multipart upload reaches the node with its file and model intact", async () => {
    const heard = await client.audio.transcriptions.create({ model: 'gpt-4o-mini', file: await audio() });
    expect(heard.text).toBe('transcribed hello.wav (1000 bytes) with gpt-4o-mini on n-eu');
    const translated = await client.audio.translations.create({ model: 'gpt-4o-mini', file: await audio() });
    expect(translated.text).toBe('translated hello.wav (1000 bytes) with gpt-4o-mini on n-eu');
  });

  it('a stored response: its input items (paged by the SDK), cancel, delete, then a 404 for it', async () => {
    const response = await client.responses.create({ model: 'gpt-4o-mini', input: 'Hi' });
    const items: string[] = [];
    for await (const item of client.responses.inputItems.list(response.id, { limit: 10, order: 'asc' })) items.push(item.type);
    expect(items).toEqual(['message']);
    const [, listed] = await nodeRequests('n-eu');
    expect(listed!.path).toMatch(/^\/v1\/responses\/resp_[^~/]+\/input_items\?limit=10&order=asc$/);
    expect((await client.responses.cancel(response.id)).id).toBe(response.id);
    expect(await client.responses.delete(response.id)).toMatchObject({ id: response.id, deleted: true });
    await expect(client.responses.retrieve(response.id)).rejects.toMatchObject({ status: 404 });
  });

  it('a forged response id is a NotFoundError with code response_not_found, before any node is asked', async () => {
    await expect(client.responses.retrieve('resp_forged')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.responses.inputItems.list('resp_forged')).rejects.toMatchObject({ status: 404, code: 'response_not_found' });
    expect(await nodeRequests('n-eu')).toEqual([]);
  });

  it('conversations: create with items, retrieve, list its items (paged by the SDK); a forged id is a NotFoundError before any node is asked', async () => {
    const conversation = await client.conversations.create({ items: [{ type: 'message', role: 'user', content: 'Hi' }, { type: 'message', role: 'user', content: 'Again' }] });
    expect(await client.conversations.retrieve(conversation.id)).toMatchObject({ id: conversation.id, object: 'conversation' });
    const texts: string[] = [];
    for await (const item of client.conversations.items.list(conversation.id, { limit: 1, order: 'asc' })) texts.push(JSON.stringify(item));
    expect(texts).toHaveLength(2);
    expect(texts[0]).toContain('"Hi"');
    const before = (await nodeRequests('n-eu')).length;
    await expect(client.conversations.retrieve('conv_forged')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.conversations.items.list('conv_forged')).rejects.toMatchObject({ status: 404, code: 'conversation_not_found' });
    expect((await nodeRequests('n-eu')).length).toBe(before);
  });

  it('an endpoint the router does not serve (image variations, retired by OpenAI) is a NotFoundError, unknown_url', async () => {
    const png = await toFile(new Uint8Array([0x89, 0x50, 0x4e, 0x47]), 'a.png', { type: 'image/png' });
    await expect(client.images.createVariation({ model: 'dall-e-2', image: png })).rejects.toMatchObject({ status: 404, code: 'unknown_url' });
  });

  it('image edits: one image and a mask, then two images streamed with a partial image — the SDK reads both', async () => {
    const png = (name: string) => toFile(new Uint8Array([0x89, 0x50, 0x4e, 0x47]), name, { type: 'image/png' });
    const edited = await client.images.edit({ model: 'gpt-4o-mini', image: await png('a.png'), mask: await png('mask.png'), prompt: 'a hat', n: 2 });
    expect(edited.data).toHaveLength(2);
    expect(edited.data![0]!.revised_prompt).toContain('a hat');
    const stream = await client.images.edit({ model: 'gpt-4o-mini', image: [await png('a.png'), await png('b.png')], prompt: 'a hat', stream: true, partial_images: 1 });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types).toEqual(['image_edit.partial_image', 'image_edit.completed']);
    const sent = (await Promise.all(['n-us', 'n-eu', 'n-ap'].map(nodeRequests))).flat().filter((r) => r.path === '/v1/images/edits');
    expect(sent).toHaveLength(2);
  });
});

describe('openai SDK: a base URL without /v1', () => {
  it('is a NotFoundError whose message says to end the base URL in /v1', async () => {
    const bare = openaiClient(client.apiKey!, { baseURL: 'https://router.test', maxRetries: 0 });
    const err = await bare.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err).toMatchObject({ status: 404, code: 'unknown_url' });
    expect((err as Error).message).toContain('the router serves /v1/chat/completions: set the client\'s base URL to end in /v1');
    expect(await nodeRequests('n-eu')).toEqual([]);
  });
});

describe('openai SDK: chat with n', () => {
  it('n = 3: three choices, JSON and streamed (one choice index each), with the usage of all three', async () => {
    const done = await client.chat.completions.create({ model: 'gpt-4o-mini', n: 3, messages: [{ role: 'user', content: 'Hi' }] });
    expect(done.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(done.usage!.completion_tokens).toBe(9);
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', n: 3, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hi' }] });
    const texts = ['', '', ''];
    let completionTokens = 0;
    for await (const chunk of stream) {
      for (const c of chunk.choices) texts[c.index] += c.delta.content ?? '';
      completionTokens = chunk.usage?.completion_tokens ?? completionTokens;
    }
    expect(texts).toEqual(Array(3).fill('Hello from n-eu #1 #2'));
    expect(completionTokens).toBe(9);
  });
});
