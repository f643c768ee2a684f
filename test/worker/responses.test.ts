/**
 * The Responses API through the router: JSON and typed SSE, failover before the first byte,
 * the stream error event, stateful follow-ups pinned to the node that holds the state
 * (ids carry it), and limits settled from Responses usage.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, call, CF, eventually, newKey, nodeRequests, resetWorld, setNode } from './helpers';

let key: string;
beforeEach(async () => {
  await resetWorld();
  ({ key } = await newKey());
});

const create = (body: Record<string, unknown>, cf: Record<string, unknown> = CF.iad, k = key) =>
  call('/v1/responses', { key: k, body: { model: 'gpt-4o-mini', input: 'Hi', ...body }, cf });
const posts = async (id: string) => (await nodeRequests(id)).filter((r) => r.body !== null);

interface ResponseJson {
  id: string;
  output: { content: { text: string }[] }[];
  usage: { input_tokens: number; output_tokens: number };
  previous_response_id: string | null;
}

/** SSE as [event name, parsed data] pairs. */
async function events(res: Response): Promise<[string, Record<string, unknown>][]> {
  return (await res.text())
    .split(/\n\n/)
    .filter((e) => e.trim())
    .map((e) => {
      const name = e.match(/^event: (.+)$/m)?.[1] ?? '';
      const data = e.match(/^data: (.+)$/m)?.[1] ?? 'null';
      return [name, JSON.parse(data)];
    });
}

describe('POST /v1/responses', () => {
  it('answers JSON with an id that names its node, and caps uncapped output at the reservation', async () => {
    const res = await create({});
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('n-us');
    const body = await res.json<ResponseJson>();
    expect(body.output[0]!.content[0]!.text).toContain('Hello from n-us');
    expect(body.id).toMatch(/^resp_\w+~[\w-]+\.[\w-]{43}$/);
    const [seen] = await posts('n-us');
    expect(seen!.body.max_output_tokens).toBe(1024);
  });

  it('streams typed events, ending with response.completed, ids tagged in every event', async () => {
    const res = await create({ stream: true });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const list = await events(res);
    expect(list[0]![0]).toBe('response.created');
    expect(list.at(-1)![0]).toBe('response.completed');
    expect(list.filter(([n]) => n === 'response.output_text.delta').map(([, d]) => d.delta).join('')).toBe('Hello from n-us #1 #2');
    const id = (list[0]![1].response as { id: string }).id;
    expect(id).toContain('~');
    expect((list.at(-1)![1].response as { id: string }).id).toBe(id);
  });

  for (const stream of [false, true]) {
    it(`fails over before the first byte (${stream ? 'stream' : 'JSON'})`, async () => {
      await setNode('n-us', { status: 503 });
      const res = await create({ stream });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-router-node')).toBe('n-eu');
      expect(await res.text()).toContain('Hello from n-eu');
    });
  }

  it('ends a stream cut after its first byte with an error event, never response.completed', async () => {
    await setNode('n-us', { cutAfterChunks: 1, chunks: 3, chunkDelayMs: 30 });
    const res = await create({ stream: true });
    expect(res.status).toBe(200);
    const list = await events(res);
    expect(list.map(([n]) => n)).not.toContain('response.completed');
    const [name, data] = list.at(-1)!;
    expect(name).toBe('error');
    expect(data).toMatchObject({ type: 'error', code: expect.stringMatching(/^upstream_stream_(lost|truncated)$/) });
    expect(await posts('n-eu')).toHaveLength(0);
  });
});

describe('stateful follow-ups', () => {
  async function stored(): Promise<string> {
    const res = await create({}, CF.iad); // stored on n-us
    return (await res.json<ResponseJson>()).id;
  }

  it('sends previous_response_id to the node that holds it, from anywhere, with its own id restored', async () => {
    const id = await stored();
    const res = await create({ previous_response_id: id, input: 'And then?' }, CF.fra); // Frankfurt would go to n-eu
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('n-us');
    const body = await res.json<ResponseJson>();
    expect(body.previous_response_id).toBe(id); // tagged again on the way out
    const [, second] = await posts('n-us');
    expect(second!.body.previous_response_id).toBe(id.split('~')[0]);
    expect(await posts('n-eu')).toHaveLength(0);
  });

  it('retrieves, lists input items, cancels and deletes on the node that holds the response', async () => {
    const id = await stored();
    const path = `/v1/responses/${id}`;
    const got = await call(path, { key, cf: CF.fra });
    expect(got.status).toBe(200);
    expect(got.headers.get('x-router-node')).toBe('n-us');
    expect((await got.json<ResponseJson>()).id).toBe(id);
    const items = await call(`${path}/input_items`, { key, cf: CF.fra });
    expect((await items.json<{ data: { content: { text: string }[] }[] }>()).data[0]!.content[0]!.text).toBe('Hi');
    expect((await call(`${path}/cancel`, { key, method: 'POST', cf: CF.fra })).status).toBe(200);
    expect(await (await call(path, { key, method: 'DELETE', cf: CF.fra })).json()).toMatchObject({ id, deleted: true });
    expect((await call(path, { key, cf: CF.fra })).status).toBe(404);
  });

  it('is a clear 503 when the holding node is down, never a reroute', async () => {
    const id = await stored();
    await setNode('n-us', { status: 500 });
    const follow = await create({ previous_response_id: id }, CF.fra);
    expect(follow.status).toBe(503);
    expect(await follow.json()).toMatchObject({ error: { code: 'stateful_node_unavailable' } });
    const got = await call(`/v1/responses/${id}`, { key, cf: CF.fra });
    expect(got.status).toBe(503);
    expect(await posts('n-eu')).toHaveLength(0);
  });

  it('keeps one key\'s stored responses from another key', async () => {
    const id = await stored();
    const other = await newKey();
    expect((await call(`/v1/responses/${id}`, { key: other.key })).status).toBe(404);
    const follow = await create({ previous_response_id: id }, CF.iad, other.key);
    expect(follow.status).toBe(400);
    expect(await follow.json()).toMatchObject({ error: { code: 'previous_response_not_found', param: 'previous_response_id' } });
  });

  it('routes store: false requests freely', async () => {
    const res = await create({ store: false }, CF.fra);
    expect(res.headers.get('x-router-node')).toBe('n-eu');
  });
});

describe('limits', () => {
  for (const stream of [false, true]) {
    it(`reserve max_output_tokens and settle from Responses usage (${stream ? 'response.completed' : 'JSON'})`, async () => {
      const limited = await newKey({ limits: { tpm: 100_000 } });
      const res = await create({ stream, max_output_tokens: 3000 }, CF.iad, limited.key);
      expect(Number(res.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThanOrEqual(100_000 - 3000);
      const text = await res.text();
      const usage = stream
        ? (JSON.parse(text.split('\n\n').find((e) => e.includes('response.completed'))!.split('data: ')[1]!).response.usage as ResponseJson['usage'])
        : (JSON.parse(text) as ResponseJson).usage;
      const report = await eventually(
        async () => (await admin(`/keys/${limited.id}/usage`)).json<{ window: { tokens: number }; inFlight: number }>(),
        (u) => u.inFlight === 0,
      );
      expect(report.window.tokens).toBe(usage.input_tokens + usage.output_tokens);
    });
  }
});
