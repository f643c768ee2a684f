/**
 * The router chooses the model: a node's own fallback list in the body — Anthropic's server-side
 * `fallbacks` (re-runs a refused request on another model, at that model's rates), OpenRouter's
 * `models` and `route: "fallback"` (LiteLLM's `fallbacks` alike) — would have the node serve a
 * model the router did not route, reserve for or price. Refused before any node sees it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { call, newKey, nodeRequests, resetWorld } from './helpers';

beforeEach(resetWorld);

const messages = [{ role: 'user', content: 'Hi' }];

describe("a node's own model fallbacks in the body", () => {
  it("Anthropic's fallbacks on /v1/messages: a 400 in Anthropic's shape, no node asked", async () => {
    const { key } = await newKey();
    const res = await call('/v1/messages', {
      headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'server-side-fallback-2026-06-01' },
      body: { model: 'claude-solo', max_tokens: 10, messages, fallbacks: [{ model: 'claude-opus-4-8', max_tokens: 64_000 }] },
    });
    expect(res.status).toBe(400);
    const body = await res.json<{ type: string; error: { type: string; message: string } }>();
    expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(body.error.message).toContain('fallbacks');
    expect(await nodeRequests('p-anth')).toHaveLength(0);
  });

  for (const [name, extra] of [
    ['models', { models: ['anthropic/claude-opus-4.8', 'openai/gpt-4o'] }],
    ['route', { route: 'fallback' }],
    ['fallbacks', { fallbacks: ['gpt-4o'] }],
  ] as const) {
    it(`${name} on /v1/chat/completions: a 400 naming it, no node asked`, async () => {
      const { key } = await newKey();
      const res = await call('/v1/chat/completions', { key, body: { model: 'gpt-4o-mini', messages, ...extra } });
      expect(res.status).toBe(400);
      expect((await res.json<{ error: { code: string; param: string } }>()).error).toMatchObject({ code: 'invalid_request', param: name });
      for (const id of ['n-us', 'n-eu', 'n-ap']) expect(await nodeRequests(id)).toHaveLength(0);
    });
  }

  it('null is no list: passed as absent', async () => {
    const { key } = await newKey();
    const res = await call('/v1/chat/completions', { key, body: { model: 'gpt-4o-mini', messages, models: null, fallbacks: null } });
    expect(res.status, await res.text()).toBe(200);
  });
});
