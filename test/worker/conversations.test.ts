/**
 * The Conversations API through the router: served as OpenAI serves it (the official SDK's
 * `conversations.*` with only baseURL and apiKey changed), each conversation on the node that
 * created it, its id signed for that node and the key. Another key's id, a forged one and an
 * unsigned one are OpenAI's 404 for an unknown conversation — on every route and as a
 * Responses `conversation` — before any node is asked; a Responses call that reads a
 * conversation is pinned to its node and still holds the model's whole context window.
 */
import { env } from 'cloudflare:workers';
import { createExecutionContext } from 'cloudflare:test';
import OpenAI from 'openai';
import worker from '../../src/index';
import { beforeEach, describe, expect, it } from 'vitest';
import { call, CF, newKey, nodeRequests, openaiClient, resetWorld, setNode } from './helpers';

let key: string;
let client: OpenAI;
beforeEach(async () => {
  await resetWorld();
  ({ key } = await newKey());
  client = openaiClient(key, { maxRetries: 0 }); // from Frankfurt: n-eu
});

const NODES = ['n-us', 'n-eu', 'n-ap', 'n-solo'];
/** Every request the OpenAI nodes got on a conversations path. */
const conversationCalls = async () => (await Promise.all(NODES.map(nodeRequests))).flat().filter((r) => r.path.startsWith('/v1/conversations'));
const upstreamOf = (id: string) => id.split('~')[0]!;
const hi = [{ type: 'message' as const, role: 'user' as const, content: 'Hi' }];

describe('openai SDK: conversations', () => {
  it('create, retrieve, update, items create/list/retrieve/delete, delete — on the node that holds it, its id signed', async () => {
    const created = await client.conversations.create({ items: hi, metadata: { topic: 'demo' } });
    expect(created.object).toBe('conversation');
    expect(created.id).toMatch(/^conv_[A-Za-z0-9_-]+~[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(created.metadata).toEqual({ topic: 'demo' });
    const [posted] = await conversationCalls();
    expect(posted).toMatchObject({ path: '/v1/conversations', body: { items: hi, metadata: { topic: 'demo' } } });
    expect((await nodeRequests('n-eu')).some((r) => r.path === '/v1/conversations')).toBe(true);

    expect(await client.conversations.retrieve(created.id)).toMatchObject({ id: created.id, metadata: { topic: 'demo' } });
    expect(await client.conversations.update(created.id, { metadata: { topic: 'changed' } })).toMatchObject({ id: created.id, metadata: { topic: 'changed' } });
    const added = await client.conversations.items.create(created.id, { items: [{ type: 'message', role: 'user', content: 'More' }] });
    expect(added.data).toHaveLength(1);
    const listed: string[] = [];
    for await (const item of client.conversations.items.list(created.id, { order: 'asc', limit: 1 })) listed.push(item.id!);
    expect(listed).toHaveLength(2); // paged by the SDK, one item a page
    const item = await client.conversations.items.retrieve(listed[0]!, { conversation_id: created.id });
    expect(item).toMatchObject({ id: listed[0], type: 'message', role: 'user' });
    expect(await client.conversations.items.delete(listed[0]!, { conversation_id: created.id })).toMatchObject({ id: created.id, object: 'conversation' });
    expect(await client.conversations.delete(created.id)).toEqual({ id: created.id, object: 'conversation.deleted', deleted: true });
    await expect(client.conversations.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
    // Every call went to n-eu with the node's own id; the signed one never left the router.
    const calls = await conversationCalls();
    expect(calls.every((r) => !r.path.includes('~') && !r.raw.includes('~'))).toBe(true);
    expect(calls.filter((r) => r.path.startsWith(`/v1/conversations/${upstreamOf(created.id)}`))).toHaveLength(9);
  });

  it('a Responses call with the conversation reads it on its node, from anywhere, and names it by the caller\'s id', async () => {
    const { id } = await client.conversations.create({ items: hi });
    const tokyo = openaiClient(key, { maxRetries: 0, cf: CF.nrt }); // would route to n-ap
    const response = await tokyo.responses.create({ model: 'gpt-4o-mini', input: 'And now?', conversation: id });
    expect(response.output_text).toMatch(/^Hello from n-eu \(in a conversation of 1 items\)/);
    expect(response.conversation).toEqual({ id });
    const sent = (await nodeRequests('n-eu')).find((r) => r.path === '/v1/responses')!;
    expect(sent.body.conversation).toBe(upstreamOf(id));
    // `{id}` too, streamed: every event's response names the conversation by the caller's id.
    const stream = await tokyo.responses.create({ model: 'gpt-4o-mini', input: 'Again', conversation: { id }, stream: true });
    const named: unknown[] = [];
    for await (const event of stream) if ('response' in event) named.push(event.response.conversation);
    expect(named.length).toBeGreaterThan(1);
    expect(named.every((c) => JSON.stringify(c) === JSON.stringify({ id }))).toBe(true);
    const streamed = (await nodeRequests('n-eu')).filter((r) => r.path === '/v1/responses').at(-1)!;
    expect(streamed.body.conversation).toEqual({ id: upstreamOf(id) });
    // Both turns were added to the conversation: its first item, then input and output twice.
    const items: string[] = [];
    for await (const item of client.conversations.items.list(id)) items.push(item.id!);
    expect(items).toHaveLength(5);
  });
});

/** A conversation another caller made on n-eu, with the node's own credential: its bare id, as a log line or a screenshot would show it. */
async function conversationOnNode(): Promise<string> {
  const nodes = await (await fetch(`${(env as unknown as { FLEET_CONTROL_URL: string }).FLEET_CONTROL_URL}/nodes`)).json<{ id: string; url: string }[]>();
  const res = await fetch(`${nodes.find((n) => n.id === 'n-eu')!.url}/conversations`, {
    method: 'POST',
    headers: { authorization: 'Bearer node-secret-eu-0002', 'content-type': 'application/json' },
    body: JSON.stringify({ items: [{ type: 'message', role: 'user', content: 'The secret is 42' }] }),
  });
  return (await res.json<{ id: string }>()).id;
}

describe('conversation ids are bound to the key', () => {
  it('a conversation id learned elsewhere (bare, as the node wrote it) reads and appends nothing through the router', async () => {
    const leaked = await conversationOnNode();
    const before = (await nodeRequests('n-eu')).length;
    for (const conversation of [leaked, { id: leaked }]) {
      const res = await call('/v1/responses', { key, body: { model: 'gpt-4o-mini', input: 'What is the secret?', conversation }, cf: CF.fra });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: { message: `Conversation with id '${leaked}' not found.`, type: 'invalid_request_error', param: 'conversation', code: 'conversation_not_found' } });
    }
    for (const path of [`/v1/conversations/${leaked}`, `/v1/conversations/${leaked}/items`]) {
      const res = await call(path, { key, cf: CF.fra });
      expect(res.status).toBe(404);
      expect((await res.json<{ error: { code: string } }>()).error.code).toBe('conversation_not_found');
    }
    expect((await call(`/v1/conversations/${leaked}/items`, { key, body: { items: hi }, cf: CF.fra })).status).toBe(404);
    expect((await nodeRequests('n-eu')).length).toBe(before);
  });

  it("another key's id, a forged one and an unsigned one are OpenAI's 404 on every route; no node is asked", async () => {
    const { id } = await client.conversations.create({ items: hi });
    const other = openaiClient((await newKey()).key, { maxRetries: 0 });
    const [upstream, tag] = id.split('~') as [string, string];
    const forged = [id, upstream, `${upstream}~${tag.slice(0, -2)}AA`, `conv_other~${tag}`];
    const before = (await conversationCalls()).length;
    for (const bad of forged) {
      const by = bad === id ? other : client;
      const attempts = [
        () => by.conversations.retrieve(bad),
        () => by.conversations.update(bad, { metadata: { x: 'y' } }),
        () => by.conversations.delete(bad),
        () => by.conversations.items.create(bad, { items: hi }),
        () => by.conversations.items.list(bad),
        () => by.conversations.items.retrieve('msg_1', { conversation_id: bad }),
        () => by.conversations.items.delete('msg_1', { conversation_id: bad }),
      ];
      for (const attempt of attempts) {
        await expect(attempt()).rejects.toMatchObject({
          status: 404,
          type: 'invalid_request_error',
          code: 'conversation_not_found',
          error: { message: `Conversation with id '${bad}' not found.`, param: null },
        });
      }
    }
    expect((await conversationCalls()).length).toBe(before);
    // The owner's conversation is as it was.
    expect(await client.conversations.retrieve(id)).toMatchObject({ id });
  });

  it("a Responses call with another key's (or a forged) conversation is the 404 before admission; no node is asked", async () => {
    const { id } = await client.conversations.create({ items: hi });
    const other = openaiClient((await newKey()).key, { maxRetries: 0 });
    const responsesBefore = (await Promise.all(NODES.map(nodeRequests))).flat().filter((r) => r.path === '/v1/responses').length;
    for (const [by, conversation] of [[other, id], [other, { id }], [client, upstreamOf(id)], [client, { id: upstreamOf(id) }]] as const) {
      await expect(by.responses.create({ model: 'gpt-4o-mini', input: 'Hi', conversation })).rejects.toMatchObject({
        status: 404,
        code: 'conversation_not_found',
        param: 'conversation',
      });
    }
    await expect(other.responses.inputTokens.count({ model: 'gpt-4o-mini', input: 'Hi', conversation: id })).rejects.toMatchObject({ status: 404, code: 'conversation_not_found' });
    // The owner's own id is still the count's 400: the router cannot see the node's items.
    await expect(client.responses.inputTokens.count({ model: 'gpt-4o-mini', input: 'Hi', conversation: id })).rejects.toMatchObject({ status: 400, param: 'conversation' });
    const responsesAfter = (await Promise.all(NODES.map(nodeRequests))).flat().filter((r) => r.path === '/v1/responses').length;
    expect(responsesAfter).toBe(responsesBefore);
  });

  it('conversation with previous_response_id is a 400 (two pins), before any node is asked', async () => {
    const { id } = await client.conversations.create({});
    const previous = await client.responses.create({ model: 'gpt-4o-mini', input: 'Hi' });
    await expect(client.responses.create({ model: 'gpt-4o-mini', input: 'Hi', conversation: id, previous_response_id: previous.id })).rejects.toMatchObject({
      status: 400,
      param: 'conversation',
    });
  });
});

describe('conversations: nodes and limits', () => {
  it('create fails over to the next node; a later call on a failed node is a 503, never a reroute', async () => {
    await setNode('n-eu', { status: 500 });
    const { id } = await client.conversations.create({ items: hi });
    expect((await conversationCalls()).filter((r) => r.path === '/v1/conversations').length).toBe(2);
    const holder = (await Promise.all(['n-us', 'n-ap'].map(async (n) => ((await nodeRequests(n)).some((r) => r.path === '/v1/conversations') ? n : undefined)))).find(Boolean)!;
    await setNode(holder, { status: 500 });
    await expect(client.conversations.retrieve(id)).rejects.toMatchObject({ status: 503, code: 'stateful_node_unavailable' });
    await expect(client.responses.create({ model: 'gpt-4o-mini', input: 'Hi', conversation: id })).rejects.toMatchObject({ status: 503, code: 'stateful_node_unavailable' });
  });

  it('create passes over a node without the Conversations API (its 404) to the next; with none that has it, that 404 as it came', async () => {
    await setNode('n-eu', { noConversations: true });
    const { id } = await client.conversations.create({ items: hi });
    const creates = (await conversationCalls()).filter((r) => r.path === '/v1/conversations');
    expect(creates).toHaveLength(2);
    expect((await nodeRequests('n-eu')).some((r) => r.path === '/v1/conversations')).toBe(true);
    expect(await client.conversations.retrieve(id)).toMatchObject({ id });
    for (const node of ['n-us', 'n-ap', 'n-solo']) await setNode(node, { noConversations: true });
    await expect(client.conversations.create({})).rejects.toMatchObject({ status: 404 });
  });

  it('x-router-model on create picks among the nodes that serve that model, so the model can read the conversation', async () => {
    const { id } = await client.conversations.create({ items: hi }, { headers: { 'x-router-model': 'solo-model' } });
    expect((await nodeRequests('n-solo')).some((r) => r.path === '/v1/conversations')).toBe(true);
    expect((await nodeRequests('n-solo')).every((r) => r.headers['x-router-model'] === undefined)).toBe(true);
    const response = await client.responses.create({ model: 'solo-model', input: 'Next', conversation: id });
    expect(response.output_text).toMatch(/^Hello from n-solo \(in a conversation of 1 items\)/);
    await expect(client.conversations.create({}, { headers: { 'x-router-model': 'no-such-model' } })).rejects.toMatchObject({ status: 400, code: 'model_not_found' });
    const restricted = openaiClient((await newKey({ models: ['gpt-4o-mini'] })).key, { maxRetries: 0 });
    await expect(restricted.conversations.create({}, { headers: { 'x-router-model': 'solo-model' } })).rejects.toMatchObject({ status: 403, code: 'model_not_allowed' });
  });

  it('every conversations call is a request of the key: rpm counts it and answers carry the rate-limit headers', async () => {
    const limited = await newKey({ limits: { rpm: 3 } });
    const created = await call('/v1/conversations', { key: limited.key, body: {}, cf: CF.fra });
    expect(created.status).toBe(200);
    expect(created.headers.get('x-ratelimit-limit-requests')).toBe('3');
    const { id } = await created.json<{ id: string }>();
    expect((await call(`/v1/conversations/${id}/items`, { key: limited.key, cf: CF.fra })).status).toBe(200);
    expect((await call(`/v1/conversations/${id}`, { key: limited.key, cf: CF.fra })).status).toBe(200);
    const spent = await call(`/v1/conversations/${id}`, { key: limited.key, cf: CF.fra });
    expect(spent.status).toBe(429);
    expect((await spent.json<{ error: { code: string } }>()).error.code).toBe('rate_limit_exceeded');
  });

  it('holds a concurrency slot while it runs', async () => {
    const limited = await newKey({ limits: { concurrency: 1 } });
    const { id } = await (await call('/v1/conversations', { key: limited.key, body: {}, cf: CF.fra })).json<{ id: string }>();
    await setNode('n-eu', { latencyMs: 400 });
    const slow = call(`/v1/conversations/${id}`, { key: limited.key, cf: CF.fra });
    await new Promise((r) => setTimeout(r, 100));
    const second = await call(`/v1/conversations/${id}/items`, { key: limited.key, cf: CF.fra });
    expect(second.status).toBe(429);
    expect((await second.json<{ error: { message: string } }>()).error.message).toContain('concurrent requests');
    expect((await slow).status).toBe(200);
  });

  it("a Responses call that reads a conversation still reserves the model's whole context window", async () => {
    const limited = await newKey({ limits: { tpm: 50_000 } });
    const own = openaiClient(limited.key, { maxRetries: 0 });
    const { id } = await own.conversations.create({ items: hi });
    const refused = await call('/v1/responses', { key: limited.key, body: { model: 'gpt-4o-mini', input: 'Hi', conversation: id }, cf: CF.fra });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('x-should-retry')).toBe('false');
    expect((await refused.json<{ error: { message: string } }>()).error.message).toMatch(/Request too large/);
    // Without the conversation the same request fits.
    expect((await call('/v1/responses', { key: limited.key, body: { model: 'gpt-4o-mini', input: 'Hi' }, cf: CF.fra })).status).toBe(200);
  });

  it('a key whose models no OpenAI node serves gets a clear 400, not an upstream error', async () => {
    const claude = await newKey({ models: ['claude-x'] });
    const res = await call('/v1/conversations', { key: claude.key, body: {}, cf: CF.fra });
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe('conversations_unavailable');
    expect(await conversationCalls()).toHaveLength(0);
  });

  it('fails closed without RESPONSE_ID_SECRET: a clear 503, never an unsigned id; no node is asked', async () => {
    const res = await worker.fetch(
      new Request('https://router.test/v1/conversations', { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}', cf: CF.fra } as RequestInit) as never,
      { ...env, RESPONSE_ID_SECRET: undefined } as never,
      createExecutionContext(),
    );
    expect(res.status).toBe(503);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe('response_ids_unavailable');
    expect(await conversationCalls()).toHaveLength(0);
  });

  it('without /v1 in the base URL, the 404 says which base URL the SDK wants', async () => {
    const res = await call('/conversations', { key, body: {}, cf: CF.fra });
    expect(res.status).toBe(404);
    expect((await res.json<{ error: { message: string } }>()).error.message).toContain('the router serves /v1/conversations');
  });

  it('bodies are checked as every route checks them: not JSON, or items not an array, is a 400 before any node is asked', async () => {
    const before = (await conversationCalls()).length;
    expect((await call('/v1/conversations', { key, body: 'not json', cf: CF.fra })).status).toBe(400);
    const res = await call('/v1/conversations', { key, body: { items: 'Hi' }, cf: CF.fra });
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { param: string } }>()).error.param).toBe('items');
    expect((await conversationCalls()).length).toBe(before);
    // A Responses `conversation` that is neither an id nor `{id}` is the router's 400 too, not the node's.
    const responsesBefore = (await Promise.all(NODES.map(nodeRequests))).flat().length;
    for (const conversation of [42, '', { id: 7 }, ['conv_a']]) {
      const bad = await call('/v1/responses', { key, body: { model: 'gpt-4o-mini', input: 'Hi', conversation }, cf: CF.fra });
      expect(bad.status).toBe(400);
      expect((await bad.json<{ error: { param: string } }>()).error.param).toMatch(/^conversation/);
    }
    expect((await Promise.all(NODES.map(nodeRequests))).flat().length).toBe(responsesBefore);
  });
});
