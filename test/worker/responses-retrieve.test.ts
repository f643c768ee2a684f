/** `GET /v1/responses/{id}?stream=true` from a node that ends its lines in CRLF (sse-starlette's default): the ids are still signed. */
import { beforeEach, expect, it } from 'vitest';
import { call, CF, newKey, resetWorld, setNode } from './helpers';

let key: string;
beforeEach(async () => {
  await resetWorld();
  ({ key } = await newKey());
});

it('signs the ids of a retrieved event stream whose lines end in CRLF, event by event', async () => {
  const created = await call('/v1/responses', { key, body: { model: 'gpt-4o-mini', input: 'Hi' }, cf: CF.iad }); // stored on n-us
  const { id } = await created.json<{ id: string }>();
  await setNode('n-us', { crlf: true });
  const res = await call(`/v1/responses/${id}?stream=true`, { key, cf: CF.fra });
  expect(res.status).toBe(200);
  const text = await res.text();
  const ids = [...text.matchAll(/"response":\{"id":"([^"]+)"/g)].map((m) => m[1]);
  // Both events carry the id as the caller knows it (signed), never the node's bare one.
  expect(ids).toEqual([id, id]);
});

it('follow-ups on stored responses are requests of the key: they count against its rpm (a 429 once it is spent) and answer with its rate-limit headers', async () => {
  const limited = await newKey({ limits: { rpm: 3 } });
  const created = await call('/v1/responses', { key: limited.key, body: { model: 'gpt-4o-mini', input: 'Hi' }, cf: CF.iad });
  const { id } = await created.json<{ id: string }>();
  const first = await call(`/v1/responses/${id}`, { key: limited.key, cf: CF.fra });
  expect(first.status).toBe(200);
  expect(first.headers.get('x-ratelimit-limit-requests')).toBe('3');
  await first.text();
  expect((await call(`/v1/responses/${id}/input_items`, { key: limited.key, cf: CF.fra }).then(async (r) => (await r.text(), r.status)))).toBe(200);
  const spent = await call(`/v1/responses/${id}`, { key: limited.key, cf: CF.fra });
  expect(spent.status).toBe(429);
  expect((await spent.json<{ error: { code: string } }>()).error.code).toBe('rate_limit_exceeded');
});

it('a resumed stream of a response still running is relayed as it comes: its first event, signed, then — the node gone silent — an error event (it was a 503 after waiting for the whole stream)', async () => {
  const created = await call('/v1/responses', { key, body: { model: 'gpt-4o-mini', input: 'Hi' }, cf: CF.iad }); // stored on n-us
  const { id } = await created.json<{ id: string }>();
  await setNode('n-us', { stallAfterChunks: 0 }); // response.created, then nothing: still running
  const res = await call(`/v1/responses/${id}?stream=true`, { key, cf: CF.fra });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const text = await res.text();
  const ids = [...text.matchAll(/"response":\{"id":"([^"]+)"/g)].map((m) => m[1]);
  expect(ids).toEqual([id]);
  expect(text).not.toContain('response.completed');
  // The relay's idle timeout ends it as every stream it relays: an error event the SDK raises.
  expect(text).toMatch(/event: error\ndata: \{"type":"error","code":"upstream_stream_stalled"/);
});
