/**
 * Prices, cost per settled request, the usage rollups and their query API, and the request
 * log line — end to end in workerd against the simulated fleet.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { admin, callWithConfig, CF, chatBody, newKey, resetWorld, setNode, testConfig } from './helpers';
import { NODE_SECRETS } from '../setup/test-config';

beforeEach(resetWorld);
afterEach(() => vi.restoreAllMocks());

/** $0.15 / $0.60 per 1M for gpt-4o-mini; n-eu charges $0.30 / $1.20 for it; solo-model $2 / $8. */
function pricedConfig() {
  const config = testConfig();
  config.models['gpt-4o-mini'].price = { input: 0.15, cachedInput: 0.075, output: 0.6 };
  config.models['solo-model'].price = { input: 2, output: 8 };
  config.nodes[1].prices = { 'gpt-4o-mini': { input: 0.3, output: 1.2 } }; // n-eu
  return config;
}

interface UsageRow {
  key?: string;
  model?: string;
  node?: string;
  hour?: string;
  day?: string;
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  unpriced: number;
}
async function usage(query: string) {
  const res = await admin(`/usage?${query}`);
  expect(res.status).toBe(200);
  return (await res.json<{ data: UsageRow[] }>()).data;
}
const expectedCost = (u: { prompt_tokens: number; completion_tokens: number }, input: number, output: number) =>
  (u.prompt_tokens * input + u.completion_tokens * output) / 1e6;

describe('cost per settled request', () => {
  it('prices a JSON answer at the model\'s price, and the same model on another node at that node\'s price', async () => {
    const { key, id } = await newKey();
    const config = pricedConfig();
    const us = await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody(), cf: CF.iad });
    const eu = await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody({ messages: [{ role: 'user', content: 'a longer question' }] }), cf: CF.fra });
    expect([us.headers.get('x-router-node'), eu.headers.get('x-router-node')]).toEqual(['n-us', 'n-eu']);
    const [uUs, uEu] = [(await us.json<{ usage: { prompt_tokens: number; completion_tokens: number } }>()).usage, (await eu.json<{ usage: { prompt_tokens: number; completion_tokens: number } }>()).usage];
    const rows = await usage(`key=${id}&groupBy=node`);
    expect(rows.find((r) => r.node === 'n-us')!.costUsd).toBeCloseTo(expectedCost(uUs, 0.15, 0.6), 12);
    expect(rows.find((r) => r.node === 'n-eu')!.costUsd).toBeCloseTo(expectedCost(uEu, 0.3, 1.2), 12);
    expect(rows.map((r) => r.inputTokens)).toEqual(expect.arrayContaining([uUs.prompt_tokens, uEu.prompt_tokens]));
  });

  it('prices a stream from the usage the router read as it passed', async () => {
    const { key, id } = await newKey();
    const res = await callWithConfig(pricedConfig(), '/v1/chat/completions', { key, body: chatBody({ stream: true, stream_options: { include_usage: true } }) });
    const text = await res.text();
    const u = JSON.parse(text.split('\n\n').find((e) => e.includes('"usage"') && !e.includes('"usage":null'))!.slice(6)).usage;
    const [row] = await usage(`key=${id}`);
    expect(row).toMatchObject({ requests: 1, errors: 0, inputTokens: u.prompt_tokens, outputTokens: u.completion_tokens, unpriced: 0 });
    expect(row!.costUsd).toBeCloseTo(expectedCost(u, 0.15, 0.6), 12);
  });

  it('prices a fallback at the model that answered, not the one asked for', async () => {
    const { key, id } = await newKey();
    await setNode('n-solo', { status: 503 });
    const res = await callWithConfig(pricedConfig(), '/v1/chat/completions', { key, body: chatBody({ model: 'solo-model' }) });
    expect(res.headers.get('x-router-model')).toBe('gpt-4o-mini');
    const u = (await res.json<{ usage: { prompt_tokens: number; completion_tokens: number } }>()).usage;
    const rows = await usage(`key=${id}&groupBy=model`);
    expect(rows).toEqual([expect.objectContaining({ model: 'gpt-4o-mini', requests: 1 })]);
    expect(rows[0]!.costUsd).toBeCloseTo(expectedCost(u, 0.15, 0.6), 12);
  });

  it('never guesses: a model with no price counts as unpriced, at no cost', async () => {
    const { key, id } = await newKey();
    await callWithConfig(testConfig(), '/v1/chat/completions', { key, body: chatBody() });
    expect(await usage(`key=${id}`)).toEqual([expect.objectContaining({ requests: 1, costUsd: 0, unpriced: 1 })]);
  });

  it('counts a request no node could serve as an error, on no node', async () => {
    const { key, id } = await newKey();
    for (const n of ['n-us', 'n-eu', 'n-ap']) await setNode(n, { status: 500 });
    expect((await callWithConfig(pricedConfig(), '/v1/chat/completions', { key, body: chatBody() })).status).toBe(502);
    expect(await usage(`key=${id}&groupBy=node`)).toEqual([expect.objectContaining({ node: '-', requests: 1, errors: 1, unpriced: 1 })]);
  });
});

describe('GET /admin/usage', () => {
  it('filters by key, model and node, and groups by hour and day', async () => {
    const a = await newKey();
    const b = await newKey();
    const config = pricedConfig();
    for (let i = 0; i < 3; i++) await (await callWithConfig(config, '/v1/chat/completions', { key: a.key, body: chatBody() })).text();
    await (await callWithConfig(config, '/v1/embeddings', { key: b.key, body: { model: 'text-embedding-3-small', input: 'x' } })).text();
    expect(await usage(`key=${a.id}&groupBy=key,model`)).toEqual([expect.objectContaining({ key: a.id, model: 'gpt-4o-mini', requests: 3 })]);
    expect(await usage(`key=${b.id}&model=text-embedding-3-small&node=n-us`)).toEqual([expect.objectContaining({ requests: 1 })]);
    expect(await usage(`key=${b.id}&model=gpt-4o-mini`)).toEqual([]);
    const hour = new Date();
    hour.setUTCMinutes(0, 0, 0);
    expect(await usage(`key=${a.id}&groupBy=hour`)).toEqual([expect.objectContaining({ hour: hour.toISOString(), requests: 3 })]);
    const day = new Date(hour);
    day.setUTCHours(0);
    expect(await usage(`key=${a.id}&groupBy=day`)).toEqual([expect.objectContaining({ day: day.toISOString(), requests: 3 })]);
    // A range that ends before this hour holds nothing.
    expect(await usage(`key=${a.id}&from=${hour.getTime() - 7_200_000}&to=${hour.getTime()}`)).toEqual([]);
  });

  it('answers "the last minute" with the hour that holds it, and says the bounds are whole hours', async () => {
    const { key, id } = await newKey();
    await (await callWithConfig(pricedConfig(), '/v1/chat/completions', { key, body: chatBody() })).text();
    const sent = Date.now();
    const from = sent - 60_000;
    const res = await admin(`/usage?key=${id}&from=${from}`);
    const body = await res.json<{ granularity: string; from: string; to: string; data: UsageRow[] }>();
    expect(body.data).toEqual([expect.objectContaining({ requests: 1 })]);
    expect(body.granularity).toBe('hour');
    expect(body.from).toBe(new Date(from - (from % 3_600_000)).toISOString());
    const now = Date.now();
    expect(body.to).toBe(new Date(now - (now % 3_600_000) + 3_600_000).toISOString());
    // `to` inside an hour takes that whole hour too.
    const to = await (await admin(`/usage?key=${id}&from=${from}&to=${sent}`)).json<{ to: string; data: UsageRow[] }>();
    expect(to.to).toBe(new Date(sent - 1 - ((sent - 1) % 3_600_000) + 3_600_000).toISOString());
    expect(to.data).toEqual([expect.objectContaining({ requests: 1 })]);
  });

  it('answers CSV with a header row, one line per group', async () => {
    const { key, id } = await newKey();
    await (await callWithConfig(pricedConfig(), '/v1/chat/completions', { key, body: chatBody() })).text();
    const res = await admin(`/usage?key=${id}&groupBy=key,node&format=csv`);
    expect(res.headers.get('content-type')).toContain('text/csv');
    const [header, line, end] = (await res.text()).split('\r\n');
    expect(header).toBe('key,node,requests,errors,inputTokens,cachedTokens,outputTokens,costUsd,unpriced');
    expect(line!.split(',').slice(0, 4)).toEqual([id, 'n-us', '1', '0']);
    expect(end).toBe('');
  });

  it('refuses a bad query with an OpenAI-shaped 400 naming the field', async () => {
    for (const q of ['groupBy=colo', 'from=yesterday', 'from=2000&to=1000', 'format=xml', 'groupBy=key,key']) {
      const res = await admin(`/usage?${q}`);
      expect(res.status).toBe(400);
      expect((await res.json<{ error: { code: string; message: string } }>()).error.code).toBe('invalid_query');
    }
  });
});

describe('request log', () => {
  it('writes one JSON line per request with its route, tokens and cost — and no secret', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
    const { key, id } = await newKey();
    const res = await callWithConfig(pricedConfig(), '/v1/chat/completions', { key, body: chatBody(), cf: CF.iad });
    await res.text();
    await usage(`key=${id}`); // after the request has settled
    const record = lines.map((l) => JSON.parse(l)).find((l) => l.event === 'request' && l.keyId === id);
    expect(record).toMatchObject({
      requestId: res.headers.get('x-request-id'),
      model: 'gpt-4o-mini',
      answeredModel: 'gpt-4o-mini',
      node: 'n-us',
      colo: 'IAD',
      endpoint: 'chat',
      attempts: 1,
      status: 200,
      costUsd: expect.any(Number),
      promptTokens: expect.any(Number),
      completionTokens: 3,
    });
    expect(record.ttfbMs).toBeGreaterThanOrEqual(0);
    expect(record.durationMs).toBeGreaterThanOrEqual(record.ttfbMs);
    const all = lines.join('\n');
    expect(all).not.toContain(key);
    for (const secret of Object.values(NODE_SECRETS)) expect(all).not.toContain(secret);
  });
});
