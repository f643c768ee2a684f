/** Every refusal leaves as OpenAI-shaped JSON with a clear message; none is a bare 500. */
import { exports } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, call, callWithConfig, chatBody, newKey, nodeRequests, resetWorld, setNode, testConfig } from './helpers';

interface ErrorJson {
  error: { message: string; type: string; param: string | null; code: string | null };
}

async function expectError(res: Response, status: number, code: string | null): Promise<ErrorJson['error']> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/json');
  expect(res.headers.get('x-request-id')).toBeTruthy();
  const json = await res.json<ErrorJson>();
  expect(Object.keys(json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(json.error.code).toBe(code);
  expect(json.error.message).not.toMatch(/\n\s+at /); // no stack trace
  return json.error;
}

let key: string;
beforeEach(async () => {
  await resetWorld();
  key = (await newKey()).key;
});

describe('caller errors', () => {
  it('400 for malformed JSON', async () => {
    await expectError(await call('/v1/chat/completions', { key, body: '{"model": ' }), 400, 'invalid_json');
  });

  it('400 naming the missing field', async () => {
    const err = await expectError(await call('/v1/chat/completions', { key, body: { model: 'gpt-4o-mini' } }), 400, 'invalid_request');
    expect(err.param).toBe('messages');
    expect(err.message).toContain('messages');
  });

  it('400 for a field of the wrong type', async () => {
    const err = await expectError(await call('/v1/embeddings', { key, body: { model: 'text-embedding-3-small', input: 42 } }), 400, 'invalid_request');
    expect(err.param).toBe('input');
  });

  it('400 for an unknown model, listing what is served', async () => {
    const err = await expectError(await call('/v1/chat/completions', { key, body: chatBody({ model: 'gpt-9' }) }), 400, 'model_not_found');
    expect(err.param).toBe('model');
    expect(err.message).toContain("'gpt-9'");
    expect(err.message).toContain('gpt-4o-mini, mini, solo-model, text-embedding-3-small');
  });

  it('403 when the key may not use the model', async () => {
    const limited = await newKey({ models: ['text-embedding-3-small'] });
    const err = await expectError(await call('/v1/chat/completions', { key: limited.key, body: chatBody() }), 403, 'model_not_allowed');
    expect(err.type).toBe('permission_error');
  });

  it('401 without a key', async () => {
    await expectError(await call('/v1/chat/completions', { body: chatBody() }), 401, 'missing_api_key');
  });

  it('401 for an unknown key, without echoing it whole', async () => {
    const bad = 'sk-ler-thisisnotarealkeybutlongenough';
    const err = await expectError(await call('/v1/chat/completions', { key: bad, body: chatBody() }), 401, 'invalid_api_key');
    expect(err.message).not.toContain(bad);
  });

  it('413 for a body over the cap, before parsing it', async () => {
    const huge = JSON.stringify(chatBody({ messages: [{ role: 'user', content: 'x'.repeat(70 * 1024) }] }));
    const err = await expectError(await call('/v1/chat/completions', { key, body: huge }), 413, 'request_too_large');
    expect(err.message).toContain('65536');
  });

  it('405 with Allow for a wrong method', async () => {
    const res = await call('/v1/chat/completions', { key, method: 'GET' });
    await expectError(res, 405, 'method_not_allowed');
    expect(res.headers.get('allow')).toBe('POST');
    await expectError(await call('/v1/models', { key, method: 'POST', body: {} }), 405, 'method_not_allowed');
  });

  it('404 for an unknown path', async () => {
    const err = await expectError(await call('/v1/nothing-here', { key }), 404, 'unknown_url');
    expect(err.message).toBe('Invalid URL (GET /v1/nothing-here)');
  });

  it('POST routes match paths with a query string, a trailing slash (Hono\'s pattern router allows one) or an escaped letter', async () => {
    for (const path of ['/v1/chat/completions?trace=1', '/v1/chat/completions/', '/v1/chat/c%6Fmpletions']) {
      const res = await call(path, { key, body: chatBody() });
      expect(res.status, path).toBe(200);
      expect(res.headers.get('x-request-id'), path).toMatch(/^req_/);
      expect(res.headers.get('x-router-node'), path).toBe('n-us');
    }
    const err = await expectError(await call('/v1/chat/completions/x', { key, body: chatBody() }), 404, 'unknown_url');
    expect(err.message).toBe('Invalid URL (POST /v1/chat/completions/x)');
  });

  it('an error on a POST route carries the caller\'s request id', async () => {
    const res = await call('/v1/chat/completions', { key, body: '{"model":', headers: { 'x-request-id': 'trace-7' } });
    await expectError(res, 400, 'invalid_json');
    expect(res.headers.get('x-request-id')).toBe('trace-7');
  });
});

describe('upstream and configuration errors', () => {
  it('a node\'s 400 for the request itself (tools: [null]) reaches the caller as it was, from one node, and counts against no node', async () => {
    for (let i = 0; i < 3; i++) {
      const err = await expectError(await call('/v1/chat/completions', { key, body: chatBody({ tools: [null] }) }), 400, 'invalid_type');
      expect(err.param).toBe('tools[0]');
      expect(err.message).toContain("Invalid type for 'tools[0]'");
    }
    expect((await nodeRequests('n-us')).length).toBe(3);
    expect([...(await nodeRequests('n-eu')), ...(await nodeRequests('n-ap'))]).toEqual([]);
    const ok = await call('/v1/chat/completions', { key, body: chatBody() });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-router-node')).toBe('n-us');
  });

  it('a node\'s 400 for a schema that is not one, or a Responses tool or item that is not an object, reaches the caller as it was (the fleet refuses them as OpenAI does; it reset the connection: a 502 after three nodes)', async () => {
    for (const stream of [false, true]) {
      const schema = await call('/v1/chat/completions', { key, body: chatBody({ stream, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: 0 } } } } }) });
      expect((await expectError(schema, 400, null)).message).toContain('Invalid schema for response_format');
    }
    const format = await call('/v1/responses', { key, body: { model: 'gpt-4o-mini', input: 'Hi', store: false, text: { format: { type: 'json_schema', name: 'x', schema: { type: 'object', properties: 'a' } } } } });
    expect((await expectError(format, 400, null)).param).toBe('text.format.schema');
    const tool = await call('/v1/responses', { key, body: { model: 'gpt-4o-mini', input: 'Hi', store: false, tools: [null] } });
    expect((await expectError(tool, 400, 'invalid_type')).param).toBe('tools[0]');
    const item = await call('/v1/responses', { key, body: { model: 'gpt-4o-mini', input: ['Hi'], store: false } });
    expect((await expectError(item, 400, 'invalid_type')).param).toBe('input[0]');
  });

  it('502 with x-should-retry: false when no node can serve', async () => {
    for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { status: 500 });
    const res = await call('/v1/chat/completions', { key, body: chatBody() });
    const err = await expectError(res, 502, 'upstream_error');
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(err.message).toMatch(/n-us.*HTTP 500.*n-eu.*n-ap/);
  });

  it('500 config_invalid for callers, without the config\'s details', async () => {
    const config = testConfig();
    config.nodes[1].baseUrl = 'http://internal.example:9/v1?secret=hunter2';
    config.nodes[1].weight = -1;
    const err = await expectError(await callWithConfig(config, '/v1/models', { key }), 500, 'config_invalid');
    expect(err.message).toBe('The router is misconfigured and cannot serve requests. Its operator has the details.');
    expect(err.message).not.toContain('nodes[1]');
  });

  it('shows the bad field to an admin', async () => {
    const config = testConfig();
    config.nodes[1].baseUrl = 'not a url';
    const err = await expectError(await callWithConfig(config, '/admin/status', { key: ADMIN_TOKEN }), 500, 'config_invalid');
    expect(err.message).toContain('nodes[1].baseUrl: must be an http(s) URL');
  });

  it('shows an admin the JSON parse error when ROUTER_CONFIG is not JSON', async () => {
    expect((await expectError(await callWithConfig('{nodes:', '/v1/models', { key }), 500, 'config_invalid')).message).not.toContain('JSON');
    const err = await expectError(await callWithConfig('{nodes:', '/admin/status', { key: ADMIN_TOKEN }), 500, 'config_invalid');
    expect(err.message).toContain('not valid JSON');
  });

  it('the working config is used again once the broken one is gone', async () => {
    expect((await exports.default.fetch('https://router.test/healthz')).status).toBe(200);
    expect((await call('/v1/models', { key })).status).toBe(200);
  });
});
