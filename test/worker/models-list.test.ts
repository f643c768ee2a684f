/** `GET /v1/models` and `GET /v1/models/{id}` as the official SDKs call them, seen through the key's own restrictions. */
import { beforeEach, describe, expect, it } from 'vitest';
import { call, newKey, resetWorld } from './helpers';

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
