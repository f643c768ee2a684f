/**
 * The Responses API through the router: JSON and typed SSE, failover before the first byte,
 * the stream error event, stateful follow-ups pinned to the node that holds the state
 * (ids carry it, signed), isolation between keys against forged ids, the stored context
 * reserved from the signed id, `background: true`, and limits settled from Responses usage.
 */
import { env } from 'cloudflare:workers';
import { createExecutionContext } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { admin, call, callWithConfig, CF, eventually, newKey, nodeRequests, resetWorld, setNode, testConfig } from './helpers';

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

  it('signs the ids in a retrieved event stream (GET …?stream=true), event by event', async () => {
    const id = await stored();
    const res = await call(`/v1/responses/${id}?stream=true`, { key, cf: CF.fra });
    expect(res.status).toBe(200);
    const list = (await events(res)) as [string, { response: { id: string } }][];
    expect(list.map(([name]) => name)).toEqual(['response.created', 'response.completed']);
    expect(list.map(([, data]) => data.response.id)).toEqual([id, id]);
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

const NODES = ['n-us', 'n-eu', 'n-ap', 'n-solo'];
const allNodeRequests = async () => (await Promise.all(NODES.map(nodeRequests))).flat().length;
const b64url = (text: string) => btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

describe('isolation: another key gets 404, whatever it does to the id', () => {
  /** Forgeries of `id` (key A's) that key B (`otherKeyId`, owning `ownId`) can make without the secret. */
  function forgeries(id: string, otherKeyId: string, ownId: string): Record<string, string> {
    const [upstream, tag] = id.split('~') as [string, string];
    const [payload, mac] = tag.split('.') as [string, string];
    const [node, , context] = atob(payload.replace(/-/g, '+').replace(/_/g, '/')).split(' ');
    return {
      'untagged upstream id': upstream,
      're-encoded tag with own key id, old mac': `${upstream}~${b64url(`${node} ${otherKeyId} ${context}`)}.${mac}`,
      'unsigned tag as the router used to issue': `${upstream}~${b64url(`${node} ${otherKeyId}`)}`,
      'own valid tag moved onto the other id': `${upstream}~${ownId.split('~')[1]}`,
      'dot-dot with a tag': `..~${tag}`,
    };
  }

  it('refuses forged ids on GET, DELETE, input_items, cancel (404) and previous_response_id (400); no node is asked', async () => {
    const id = (await (await create({})).json<ResponseJson>()).id;
    const other = await newKey();
    const ownId = (await (await create({}, CF.iad, other.key)).json<ResponseJson>()).id;
    const before = await allNodeRequests();
    for (const [what, forged] of Object.entries(forgeries(id, other.id, ownId))) {
      const path = `/v1/responses/${encodeURIComponent(forged)}`;
      for (const [suffix, method] of [['', 'GET'], ['', 'DELETE'], ['/input_items', 'GET'], ['/cancel', 'POST']] as const) {
        const res = await call(`${path}${suffix}`, { key: other.key, method });
        expect(res.status, `${what}: ${method} ${suffix}`).toBe(404);
        expect((await res.json<{ error: { code: string } }>()).error.code, what).toMatch(/^(response_not_found|unknown_url)$/);
      }
      const follow = await create({ previous_response_id: forged }, CF.iad, other.key);
      expect(follow.status, what).toBe(400);
      expect(await follow.json(), what).toMatchObject({ error: { code: 'previous_response_not_found', param: 'previous_response_id' } });
    }
    // The owner's own id is refused to the other key too.
    expect((await call(`/v1/responses/${id}`, { key: other.key })).status).toBe(404);
    expect((await create({ previous_response_id: id }, CF.iad, other.key)).status).toBe(400);
    expect(await allNodeRequests()).toBe(before);
    // ... and is still there for its owner.
    expect((await call(`/v1/responses/${id}`, { key })).status).toBe(200);
  });

  it('refuses ids that are not ids: path segments, dot-dot, overlong, wrong charset; no node is asked', async () => {
    const before = await allNodeRequests();
    for (const bad of ['..', '%2e%2e', 'resp_x%2F..%2F..', `resp_${'a'.repeat(600)}`, 'resp_a%20b~x.y', 'resp_%E2%9C%93']) {
      const res = await call(`/v1/responses/${bad}/input_items`, { key });
      expect(res.status, bad).toBe(404);
    }
    for (const bad of ['..', '../../models', 'resp_x/../..', `resp_${'a'.repeat(600)}`]) {
      const res = await create({ previous_response_id: bad });
      expect(res.status, bad).toBe(400);
      expect(await res.json(), bad).toMatchObject({ error: { code: 'previous_response_not_found', param: 'previous_response_id' } });
    }
    expect(await allNodeRequests()).toBe(before);
  });

  it('never signs a resp_ id the caller planted in echoed metadata', async () => {
    const res = await create({ metadata: { id: 'resp_someone_elses' } });
    const body = await res.json<ResponseJson & { metadata: { id: string } }>();
    expect(body.id).toContain('~');
    expect(body.metadata.id).toBe('resp_someone_elses');
  });

  it('fails closed without RESPONSE_ID_SECRET: stored state is a clear 503, store: false still works', async () => {
    const noSecret = { ...env, RESPONSE_ID_SECRET: undefined } as never;
    const send = (path: string, body?: unknown) =>
      worker.fetch(
        new Request(`https://router.test${path}`, {
          method: body ? 'POST' : 'GET',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          ...(body ? { body: JSON.stringify(body) } : {}),
          cf: CF.iad,
        } as RequestInit) as never,
        noSecret,
        createExecutionContext(),
      );
    const id = (await (await create({})).json<ResponseJson>()).id;
    const before = await allNodeRequests();
    for (const res of [await send('/v1/responses', { model: 'gpt-4o-mini', input: 'Hi' }), await send('/v1/responses', { model: 'gpt-4o-mini', input: 'Hi', previous_response_id: id }), await send(`/v1/responses/${id}`)]) {
      expect(res.status).toBe(503);
      expect(res.headers.get('x-should-retry')).toBe('false');
      expect(await res.json()).toMatchObject({ error: { code: 'response_ids_unavailable', message: expect.stringContaining('RESPONSE_ID_SECRET') } });
    }
    expect(await allNodeRequests()).toBe(before);
    const stateless = await send('/v1/responses', { model: 'gpt-4o-mini', input: 'Hi', store: false });
    expect(stateless.status).toBe(200);
    expect((await stateless.json<ResponseJson>()).id).not.toContain('~');
  });
});

describe('stored context is reserved from the signed id', () => {
  it('a chain of follow-ups never lets the upstream bill more than the key\'s tpm in the minute', async () => {
    const tpm = 1000;
    const limited = await newKey({ limits: { tpm } });
    await setNode('n-us', { completionTokens: 100_000 }); // every answer writes its whole cap
    let billed = 0;
    let served = 0;
    let previous: string | undefined;
    let last = 0;
    for (let turn = 0; turn < 10; turn++) {
      const res = await create({ max_output_tokens: 100, ...(previous ? { previous_response_id: previous } : {}) }, CF.iad, limited.key);
      last = res.status;
      if (res.status !== 200) break;
      const body = await res.json<ResponseJson>();
      billed += body.usage.input_tokens + body.usage.output_tokens;
      served++;
      previous = body.id;
      await eventually(async () => (await admin(`/keys/${limited.id}/usage`)).json<{ inFlight: number }>(), (u) => u.inFlight === 0);
    }
    expect(served).toBeGreaterThanOrEqual(3); // the chain grew: 101, 202, 303 tokens billed …
    expect(last).toBe(429); // … until the stored context no longer fits
    expect(billed).toBeLessThanOrEqual(tpm);
  });

  it('a chain of follow-ups never spends past the key\'s daily budget (context at the input price)', async () => {
    const config = testConfig();
    config.models['gpt-4o-mini'].price = { input: 1000, output: 1000 }; // $0.001 a token either way
    const budget = 0.3;
    const limited = await newKey({ limits: { dailyUsd: budget } });
    await setNode('n-us', { completionTokens: 100_000 }); // every answer writes its whole cap
    let spent = 0;
    let previous: string | undefined;
    let last = 0;
    for (let turn = 0; turn < 10; turn++) {
      const body = { model: 'gpt-4o-mini', input: 'Hi', max_output_tokens: 100, ...(previous ? { previous_response_id: previous } : {}) };
      const res = await callWithConfig(config, '/v1/responses', { key: limited.key, body, cf: CF.iad });
      last = res.status;
      if (res.status !== 200) break;
      const answer = await res.json<ResponseJson>();
      spent += (answer.usage.input_tokens + answer.usage.output_tokens) / 1000;
      previous = answer.id;
      await eventually(async () => (await admin(`/keys/${limited.id}/usage`)).json<{ inFlight: number }>(), (u) => u.inFlight === 0);
    }
    expect(spent).toBeGreaterThan(0.1); // the first turn (101 tokens) was served …
    expect(last).toBe(429); // … and the follow-up whose stored context would overspend was not
    expect(spent).toBeLessThanOrEqual(budget);
  });

  const contextIn = (id: string) => Number(atob(id.split('~')[1]!.split('.')[0]!.replace(/-/g, '+').replace(/_/g, '/')).split(' ')[2]);

  it('reserves the previous response\'s stored context as prompt: a JSON answer\'s as reported, a stream\'s bound', async () => {
    const limited = await newKey({ limits: { tpm: 100_000 } });
    const first = await (await create({ max_output_tokens: 500 }, CF.iad, limited.key)).json<ResponseJson>();
    const used = first.usage.input_tokens + first.usage.output_tokens;
    expect(contextIn(first.id)).toBe(used); // what the provider says it stored
    const streamed = (await events(await create({ stream: true, max_output_tokens: 500 }, CF.iad, limited.key))).at(-1)![1].response as ResponseJson;
    expect(contextIn(streamed.id)).toBeGreaterThanOrEqual(500 + streamed.usage.input_tokens); // its input and output cap
    const settled = () => eventually(async () => (await admin(`/keys/${limited.id}/usage`)).json<{ window: { tokens: number }; inFlight: number }>(), (u) => u.inFlight === 0);
    for (const previous of [first.id, streamed.id]) {
      const { window } = await settled();
      const res = await create({ previous_response_id: previous, max_output_tokens: 500 }, CF.iad, limited.key);
      expect(res.status).toBe(200);
      // Its own reservation holds the stored context, on top of its prompt and cap.
      expect(Number(res.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThanOrEqual(100_000 - window.tokens - contextIn(previous) - 500);
      await res.text();
    }
  });
});

describe('server-side compaction (a compaction entry in context_management, a compaction_trigger item)', () => {
  // A first pass reads the whole context and writes a summary, then the answer reads the compacted context: OpenAI
  // bills both (the fleet as it does), so the prompt is held twice over — a stored context named by id too.
  const dense = '1,'.repeat(2_000); // over 4,000 tokens of input
  const TPM = 1_000_000;

  async function heldAndBilled(limited: { id: string; key: string }, body: Record<string, unknown>) {
    const { window } = await eventually(async () => (await admin(`/keys/${limited.id}/usage`)).json<{ window: { tokens: number }; inFlight: number }>(), (u) => u.inFlight === 0);
    const res = await create({ store: false, max_output_tokens: 10, ...body }, CF.iad, limited.key);
    expect(res.status, await res.clone().text()).toBe(200);
    const held = TPM - window.tokens - Number(res.headers.get('x-ratelimit-remaining-tokens'));
    const { usage } = await res.json<ResponseJson>();
    return { held, billed: usage.input_tokens + usage.output_tokens };
  }

  const cases: [string, Record<string, unknown>][] = [
    ['context_management compaction', { input: dense, context_management: [{ type: 'compaction', compact_threshold: 1_000 }] }],
    ['a compaction_trigger item', { input: [{ role: 'user', content: dense }, { type: 'compaction_trigger' }] }],
  ];
  for (const [what, body] of cases) {
    it(`${what}: held at least what the node bills for both passes`, async () => {
      const limited = await newKey({ limits: { tpm: TPM } });
      const { held, billed } = await heldAndBilled(limited, body);
      expect(billed).toBeGreaterThan(4_000 + 500); // the fleet billed the pass (the whole context, its summary) and the answer
      expect(held).toBeGreaterThanOrEqual(billed);
    });
  }

  it('a stored context named by previous_response_id is read twice over too', async () => {
    const limited = await newKey({ limits: { tpm: TPM } });
    const first = await create({ input: dense, max_output_tokens: 10 }, CF.iad, limited.key);
    const { id } = await first.json<ResponseJson>();
    const { held, billed } = await heldAndBilled(limited, { previous_response_id: id, input: 'Go on', context_management: [{ type: 'compaction' }] });
    expect(held).toBeGreaterThanOrEqual(billed);
  });
});

describe('background: true', () => {
  it('is refused (400, param background) for a key with a concurrency limit, before any node is asked', async () => {
    const limited = await newKey({ limits: { concurrency: 5 } });
    const before = await allNodeRequests();
    const res = await create({ background: true }, CF.iad, limited.key);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'background_not_allowed', param: 'background', type: 'invalid_request_error' } });
    expect(await allNodeRequests()).toBe(before);
  });

  it('is refused for a key with a tpm limit: the work outlives the 60-s window its reservation sits in', async () => {
    const limited = await newKey({ limits: { tpm: 100_000 } });
    const before = await allNodeRequests();
    const res = await create({ background: true, max_output_tokens: 300 }, CF.iad, limited.key);
    expect(res.status).toBe(400);
    const { error } = await res.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe('background_not_allowed');
    expect(error.message).toContain('tokens-per-minute');
    expect(await allNodeRequests()).toBe(before);
  });

  it('passes for a key with only rpm, and its tokens stay held at the reservation (the answer has no usage)', async () => {
    const limited = await newKey({ limits: { rpm: 100 } });
    const res = await create({ background: true, max_output_tokens: 300 }, CF.iad, limited.key);
    expect(res.status).toBe(200);
    const body = await res.json<{ id: string; status: string }>();
    expect(body.status).toBe('queued');
    const report = await eventually(
      async () => (await admin(`/keys/${limited.id}/usage`)).json<{ window: { tokens: number }; inFlight: number }>(),
      (u) => u.inFlight === 0,
    );
    expect(report.window.tokens).toBeGreaterThanOrEqual(300);
    expect((await call(`/v1/responses/${body.id}`, { key: limited.key })).status).toBe(200);
  });
});
