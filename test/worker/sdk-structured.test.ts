/**
 * Structured outputs through the router, as the SDKs' typed helpers ask for them: the
 * `openai` SDK's `chat.completions.parse` and `responses.parse` (a `json_schema` response
 * format; the helper parses the answer) and the Vercel AI SDK's `generateObject` and
 * `streamObject` (chat and Responses). The router splices only the model name; the schema
 * reaches the node as sent, and the node's JSON (`test/fleet/structured.ts`) comes back
 * whole, streamed or not.
 */
import { exports } from 'cloudflare:workers';
import { createOpenAI } from '@ai-sdk/openai';
import { generateObject, jsonSchema, streamObject } from 'ai';
import OpenAI from 'openai';
import { beforeEach, describe, expect, it } from 'vitest';
import { CF, newKey, nodeRequests, resetWorld } from './helpers';

const edgeFetch = (url: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(url, init), { cf: CF.fra } as RequestInit);

let key: string;
beforeEach(async () => {
  await resetWorld();
  ({ key } = await newKey());
});

const schema = {
  type: 'object',
  properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] }, days: { type: 'array', items: { type: 'number' } } },
  required: ['city', 'unit', 'days'],
  additionalProperties: false,
} as const;
const expected = { city: 'Hello from n-eu', unit: 'celsius', days: [] };

describe('openai SDK: parse helpers', () => {
  const client = () => new OpenAI({ baseURL: 'https://router.test/v1', apiKey: key, maxRetries: 0, fetch: edgeFetch });

  it('chat.completions.parse returns the parsed object; the schema reached the node as sent', async () => {
    const completion = await client().chat.completions.parse({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Weather?' }],
      response_format: { type: 'json_schema', json_schema: { name: 'weather', strict: true, schema } },
    });
    expect(completion.choices[0]!.message.parsed).toEqual(expected);
    const [sent] = await nodeRequests('n-eu');
    expect(sent!.body).toMatchObject({ response_format: { type: 'json_schema', json_schema: { name: 'weather', strict: true, schema } } });
  });

  it('responses.parse returns output_parsed', async () => {
    const response = await client().responses.parse({ model: 'gpt-4o-mini', input: 'Weather?', text: { format: { type: 'json_schema', name: 'weather', strict: true, schema } } });
    expect(response.output_parsed).toEqual(expected);
  });

  it("the chat stream helper's final message is parsed from the streamed pieces", async () => {
    const stream = client().chat.completions.stream({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Weather?' }],
      response_format: { type: 'json_schema', json_schema: { name: 'weather', strict: true, schema } },
    });
    expect((await stream.finalChatCompletion()).choices[0]!.message.parsed).toEqual(expected);
  });
});

describe('Vercel AI SDK: object generation', () => {
  const openai = () => createOpenAI({ baseURL: 'https://router.test/v1', apiKey: key, fetch: edgeFetch });

  it('generateObject over Responses (the default provider) and over chat', async () => {
    for (const model of [openai()('gpt-4o-mini'), openai().chat('gpt-4o-mini')]) {
      const { object } = await generateObject({ model, schema: jsonSchema<typeof expected>(schema), prompt: 'Weather?', maxRetries: 0 });
      expect(object).toEqual(expected);
    }
  });

  it('streamObject assembles the object from the streamed pieces', async () => {
    const result = streamObject({ model: openai()('gpt-4o-mini'), schema: jsonSchema<typeof expected>(schema), prompt: 'Weather?', maxRetries: 0 });
    for await (const _ of result.partialObjectStream) void _;
    expect(await result.object).toEqual(expected);
  });
});
