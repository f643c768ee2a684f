/**
 * Fields the router acts on, sent as values an upstream coerces: Python nodes (vLLM's
 * OpenAI server, pydantic in lax mode) read `"true"` or `1` as true and `"3"` as 3. The
 * router must read them as the node will, or refuse them.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { call, newKey, nodeRequests, resetWorld } from './helpers';

beforeEach(resetWorld);

const allNodeRequests = async () => (await Promise.all(['n-us', 'n-eu', 'n-ap'].map(nodeRequests))).reduce((sum, r) => sum + r.length, 0);

describe('values an upstream coerces', () => {
  it('background: "true" is refused like background: true for a key with a concurrency limit (a lax node runs it in the background)', async () => {
    const { key } = await newKey({ limits: { concurrency: 5 } });
    const before = await allNodeRequests();
    for (const background of ['true', 1, 'yes']) {
      const res = await call('/v1/responses', { key, body: { model: 'gpt-4o-mini', input: 'Hi', background } });
      expect(res.status).toBe(400);
      expect((await res.json<{ error: { param: string } }>()).error.param).toBe('background');
    }
    expect(await allNodeRequests()).toBe(before);
  });

  it('partial_images and an image stream flag that are not what OpenAI takes are refused: the reservation counts partial images only as an integer', async () => {
    const { key } = await newKey();
    for (const [field, value] of [['partial_images', '3'], ['partial_images', 4], ['stream', 'true']] as const) {
      const res = await call('/v1/images/generations', { key, body: { model: 'gpt-4o-mini', prompt: 'a cat', [field]: value } });
      expect(res.status).toBe(400);
      expect((await res.json<{ error: { param: string } }>()).error.param).toBe(field);
    }
  });
});

describe('names an upstream folds', () => {
  it('SERVICE_TIER (a Go node reads it as service_tier: priority, billed at about twice the rates) is a 400 for a budgeted key, never forwarded', async () => {
    const { key } = await newKey({ limits: { dailyUsd: 1 } });
    const before = await allNodeRequests();
    for (const name of ['SERVICE_TIER', 'Service_Tier']) {
      const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"max_tokens":10,"${name}":"priority"}`;
      const res = await call('/v1/chat/completions', { key, body });
      expect(res.status, name).toBe(400);
      expect((await res.json<{ error: { code: string; param: string } }>()).error).toMatchObject({ code: 'invalid_request', param: name });
    }
    expect(await allNodeRequests()).toBe(before);
  });
});
