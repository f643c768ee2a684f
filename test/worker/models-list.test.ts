/** `GET /v1/models` and `GET /v1/models/{id}` as the official SDKs call them, seen through the key's own restrictions. */
import Anthropic from '@anthropic-ai/sdk';
import { exports } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { call, CF, newKey, resetWorld } from './helpers';

beforeEach(resetWorld);

const ids = async (res: Response) => (await res.json<{ data: { id: string }[] }>()).data.map((m) => m.id);

describe('GET /v1/models', () => {
  it('lists only the models (and their aliases) a restricted key may use', async () => {
    const { key } = await newKey({ models: ['mini'] });
    const res = await call('/v1/models', { key });
    expect(res.status).toBe(200);
    expect(await ids(res)).toEqual(['gpt-4o-mini', 'mini']);
  });
});

describe('GET /v1/models/{id}', () => {
  it("answers a served model in OpenAI's model shape (client.models.retrieve)", async () => {
    const { key } = await newKey();
    const res = await call('/v1/models/mini', { key });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: 'mini', object: 'model', created: 0, owned_by: 'llm-edge-router' });
  });

  it('is a 404 model_not_found for a model not served, or one the key may not use', async () => {
    const { key } = await newKey({ models: ['mini'] });
    for (const id of ['no-such-model', 'text-embedding-3-small']) {
      const res = await call(`/v1/models/${id}`, { key });
      expect(res.status).toBe(404);
      expect((await res.json<{ error: { code: string; param: string } }>()).error).toMatchObject({ code: 'model_not_found', param: 'model' });
    }
  });

  it('needs a key', async () => {
    expect((await call('/v1/models/mini')).status).toBe(401);
  });
});

describe("Anthropic's SDK (it sends anthropic-version and x-api-key)", () => {
  const client = (key: string) =>
    new Anthropic({ baseURL: 'https://router.test', apiKey: key, fetch: (url: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(url, init), { cf: CF.iad } as RequestInit) });

  it("lists the key's models in Anthropic's shape (client.models.list)", async () => {
    const { key } = await newKey({ models: ['mini'] });
    const page = await client(key).models.list();
    expect(page.data.map((m) => m.id)).toEqual(['gpt-4o-mini', 'mini']);
    expect(page.data[0]).toEqual({ type: 'model', id: 'gpt-4o-mini', display_name: 'gpt-4o-mini', created_at: '1970-01-01T00:00:00Z' });
    expect(page.has_more).toBe(false);
  });

  it('retrieves one (client.models.retrieve), and a model not the key\'s is the SDK\'s NotFoundError in Anthropic\'s shape', async () => {
    const { key } = await newKey({ models: ['mini'] });
    expect(await client(key).models.retrieve('mini')).toMatchObject({ type: 'model', id: 'mini' });
    const err = await client(key).models.retrieve('text-embedding-3-small').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect((err as { error: unknown }).error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });
});

describe('a model the router does not serve, asked by a restricted key', () => {
  it('is a 400 model_not_found whose message lists only the models the key may use', async () => {
    const { key } = await newKey({ models: ['mini'] });
    const res = await call('/v1/chat/completions', { key, body: { model: 'no-such-model', messages: [{ role: 'user', content: 'Hi' }] } });
    expect(res.status).toBe(400);
    const { error } = await res.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe('model_not_found');
    expect(error.message).toContain('gpt-4o-mini, mini');
    // As `GET /v1/models` does not show them: the names of the models it may not use stay unlisted.
    expect(error.message).not.toContain('text-embedding-3-small');
    expect(error.message).not.toContain('claude');
  });
});
