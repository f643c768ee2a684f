/**
 * The isolate's live view end to end: a node that slows down mid-run loses its traffic
 * within a few requests (JSON answers alone when only its decoding slowed), and wins it back after recovering — with no cron run and no table
 * published in between (the table stays what it was: none, so the geo prior).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { env } from 'cloudflare:workers';
import { flushSamples } from '../../src/routing/samples';
import { ADMIN_TOKEN, call, callWithConfig, CF, chatBody, newKey, resetWorld, setNode, testConfig } from './helpers';

let key: string;
beforeEach(async () => {
  await resetWorld();
  key = (await newKey()).key;
});

/** Which node served each of `n` streamed requests from Frankfurt (nearest: n-eu). */
async function servedBy(n: number, send: (body: unknown) => Promise<Response>): Promise<string[]> {
  const nodes: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await send(chatBody({ stream: true }));
    expect(res.status).toBe(200);
    await res.text();
    nodes.push(res.headers.get('x-router-node')!);
  }
  return nodes;
}

/** Which node served each of `n` non-streaming requests; `maxTokens[i]` caps what the i-th one writes. */
async function servedByJson(n: number, send: (body: unknown) => Promise<Response>, maxTokens: number[] = []): Promise<string[]> {
  const nodes: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await send(chatBody(maxTokens[i] ? { max_tokens: maxTokens[i] } : {}));
    expect(res.status).toBe(200);
    await res.text();
    nodes.push(res.headers.get('x-router-node')!);
  }
  return nodes;
}

describe('live view', () => {
  it('moves a colo off a node that slowed down within a few requests, without a new table', async () => {
    const send = (body: unknown) => call('/v1/chat/completions', { key, cf: CF.fra, body });
    expect(await servedBy(5, send)).toEqual(Array(5).fill('n-eu'));
    await setNode('n-eu', { latencyMs: 400 }); // far past the ms a loopback node takes, but within firstByteMs
    const after = await servedBy(10, send);
    // The request that met the slowdown is the only one it costs: the rest go elsewhere.
    expect(after.filter((n) => n === 'n-eu').length).toBeLessThanOrEqual(1);
    expect(after.slice(1).every((n) => n !== 'n-eu')).toBe(true);
  });

  it('re-tries the slowed node after the exploration gap and gives its traffic back once it is fast', async () => {
    const config = testConfig();
    // The defaults' time scale (5 s, 60 s), shrunk — the gap long enough that a loaded machine's five requests do not outlast it.
    config.routing = { ...config.routing, live: { ewmaMs: 30, exploreMs: 1_000, maxExploreMs: 1_000 } };
    const send = (body: unknown) => callWithConfig(config, '/v1/chat/completions', { key, cf: CF.fra, body });
    // On loopback every node is as near as the next: give the others their distance.
    await setNode('n-us', { latencyMs: 60 });
    await setNode('n-ap', { latencyMs: 60 });
    expect(await servedBy(3, send)).toEqual(['n-eu', 'n-eu', 'n-eu']);
    await setNode('n-eu', { latencyMs: 400 });
    await servedBy(3, send);
    await setNode('n-eu', { latencyMs: 0 });
    expect(await servedBy(2, send)).toEqual(['n-us', 'n-us']); // still held slow: no sample disproved it yet
    await new Promise((r) => setTimeout(r, 1_050));
    // The first request after the gap explores n-eu, finds it fast, and the traffic stays there.
    expect(await servedBy(4, send)).toEqual(['n-eu', 'n-eu', 'n-eu', 'n-eu']);
  });

  it('moves JSON-only traffic off a node whose answers slowed for the same output size, within a few requests', async () => {
    const send = (body: unknown) => call('/v1/chat/completions', { key, cf: CF.fra, body });
    expect(await servedByJson(5, send)).toEqual(Array(5).fill('n-eu'));
    await setNode('n-eu', { latencyMs: 400 }); // 8× and more what its answers took, same size
    const after = await servedByJson(10, send);
    expect(after.filter((n) => n === 'n-eu').length).toBeLessThanOrEqual(1);
    expect(after.slice(1).every((n) => n !== 'n-eu')).toBe(true);
  });

  it('judges JSON answers per output token: long answers at normal speed keep the traffic, slower ones of the same size lose it', async () => {
    const send = (body: unknown) => call('/v1/chat/completions', { key, cf: CF.fra, body });
    for (const id of ['n-eu', 'n-us', 'n-ap']) await setNode(id, { completionTokens: 1000, msPerToken: 1 });
    const sizes = [5, 5, 5, 60, 5, 60, 60, 5, 60, 60];
    // 60 tokens take 12× what 5 take: written at the node's usual speed, they do not move traffic.
    expect(await servedByJson(sizes.length, send, sizes)).toEqual(Array(sizes.length).fill('n-eu'));
    await setNode('n-eu', { msPerToken: 8 }); // decoding 8× slower: the same sizes take far longer
    const after = await servedByJson(8, send, [60, 60, 60, 60, 60, 60, 60, 60]);
    expect(after.filter((n) => n === 'n-eu').length).toBeLessThanOrEqual(2);
    expect(after.slice(2).every((n) => n !== 'n-eu')).toBe(true);
  });

  it('moves JSON answers off a node whose decoding slowed, while streams, whose first byte it still wins, stay on it', async () => {
    const send = (body: unknown) => call('/v1/chat/completions', { key, cf: CF.fra, body });
    for (const id of ['n-eu', 'n-us', 'n-ap']) await setNode(id, { completionTokens: 1000, msPerToken: 1 });
    for (let i = 0; i < 3; i++) {
      expect(await servedBy(1, send)).toEqual(['n-eu']);
      expect(await servedByJson(1, send, [60])).toEqual(['n-eu']);
    }
    await setNode('n-eu', { msPerToken: 8 }); // its first byte unchanged, its answers 8× as long to write
    const streams: string[] = [];
    const json: string[] = [];
    for (let i = 0; i < 6; i++) {
      streams.push(...(await servedBy(1, send)));
      json.push(...(await servedByJson(1, send, [60])));
    }
    expect(streams).toEqual(Array(6).fill('n-eu'));
    expect(json.filter((n) => n === 'n-eu').length).toBeLessThanOrEqual(2);
    expect(json.slice(2).every((n) => n !== 'n-eu')).toBe(true);
  });

  it('keeps a healthy nearest node\'s JSON traffic when its first bytes were seen before any answer', async () => {
    const send = (body: unknown) => call('/v1/chat/completions', { key, cf: CF.fra, body });
    for (const id of ['n-eu', 'n-us', 'n-ap']) await setNode(id, { completionTokens: 1000, msPerToken: 8 });
    expect(await servedBy(3, send)).toEqual(['n-eu', 'n-eu', 'n-eu']);
    // Mixed traffic at the node's usual speed, answers of varied size. On main the first answer (its decoding
    // included) read as a rise over n-eu's first byte: JSON left it, and its fit was held from the reference.
    const json: string[] = [];
    for (const size of [40, 80, 20, 60, 100, 30, 70, 50]) {
      await servedBy(1, send);
      json.push(...(await servedByJson(1, send, [size])));
    }
    expect(json).toEqual(Array(json.length).fill('n-eu'));
  });

  it('does not let pinned Responses follow-ups with tiny answers bring other callers\' JSON back to a node whose decoding slowed', async () => {
    const respond = async (body: Record<string, unknown>) => {
      const res = await call('/v1/responses', { key, cf: CF.fra, body: { model: 'gpt-4o-mini', input: 'Hi', ...body } });
      expect(res.status).toBe(200);
      const json = (await res.json()) as { id: string };
      return { node: res.headers.get('x-router-node')!, id: json.id };
    };
    const served = async (sizes: number[]) => {
      const nodes: string[] = [];
      for (const n of sizes) nodes.push((await respond({ max_output_tokens: n })).node);
      return nodes;
    };
    for (const id of ['n-eu', 'n-us', 'n-ap']) await setNode(id, { completionTokens: 1000, msPerToken: 1 });
    // On loopback every node is as near as the next: give the others their distance.
    await setNode('n-us', { latencyMs: 40 });
    await setNode('n-ap', { latencyMs: 80 });
    const first = await respond({ max_output_tokens: 60 });
    expect(first.node).toBe('n-eu');
    expect(await served([20, 60, 20, 60, 60, 20, 60])).toEqual(Array(7).fill('n-eu'));
    await setNode('n-eu', { msPerToken: 8 }); // its answers of the same size take far longer
    const moved = await served([60, 60, 60, 60, 60]);
    expect(moved.slice(2).every((n) => n !== 'n-eu')).toBe(true);
    // A caller pinned to n-eu by its stored response asks for one token, again and again.
    for (let i = 0; i < 20; i++) expect((await respond({ previous_response_id: first.id, max_output_tokens: 1 })).node).toBe('n-eu');
    // Other callers' long answers stay off the slower decoder.
    expect((await served([60, 60, 60, 60, 60])).filter((n) => n === 'n-eu')).toEqual([]);
  });

  /** The test config with room for an answer that takes 2 s (its timeouts are tight for the other tests). */
  const patient = () => {
    const config = testConfig();
    config.timeouts = { firstByteMs: 3000, responseMs: 3000, idleMs: 3000, totalMs: 8000 };
    return config;
  };

  it('moves traffic off a node whose attempt is still out far past its figure, before that attempt ends', async () => {
    const config = patient();
    const send = (body: unknown) => callWithConfig(config, '/v1/chat/completions', { key, cf: CF.fra, body });
    await setNode('n-us', { latencyMs: 30 });
    await setNode('n-ap', { latencyMs: 60 });
    expect(await servedBy(4, send)).toEqual(Array(4).fill('n-eu'));
    await setNode('n-eu', { latencyMs: 2000 }); // hanging, by loopback's standards
    const slow = send(chatBody({ stream: true }));
    // Nothing has come back from n-eu yet: only the attempt still out says it is slow (out past n-us's geo prior).
    await new Promise((r) => setTimeout(r, 500));
    expect(await servedBy(3, send)).toEqual(['n-us', 'n-us', 'n-us']);
    const res = await slow;
    expect(res.headers.get('x-router-node')).toBe('n-eu');
    await res.text();
  });

  it('takes no first-byte evidence from Responses calls on a stored conversation: its items, of the caller\'s choosing, are prefilled before the first byte', async () => {
    const config = patient();
    const other = (await newKey()).key;
    const stream = async (as: string, extra: Record<string, unknown> = {}) => {
      const res = await callWithConfig(config, '/v1/responses', { key: as, cf: CF.fra, body: { model: 'gpt-4o-mini', input: 'Hi', stream: true, ...extra } });
      expect(res.status).toBe(200);
      await res.text();
      return res.headers.get('x-router-node')!;
    };
    await setNode('n-us', { latencyMs: 30 });
    await setNode('n-ap', { latencyMs: 60 });
    await setNode('n-eu', { prefillMsPerKb: 2 });
    for (let i = 0; i < 4; i++) expect(await stream(other)).toBe('n-eu');
    // One caller grows a conversation on n-eu (items cost it no tokens), then streams on it: each first byte waits ~600 ms of prefill.
    const created = await callWithConfig(config, '/v1/conversations', { key, cf: CF.fra, body: {} });
    expect(created.headers.get('x-router-node')).toBe('n-eu');
    const { id } = (await created.json()) as { id: string };
    const big = 'lorem ipsum '.repeat(4_000); // 48 KB an item: the tests' bodies stop at 64 KiB
    for (let i = 0; i < 6; i++) {
      const added = await callWithConfig(config, `/v1/conversations/${id}/items`, { key, cf: CF.fra, body: { items: [{ type: 'message', role: 'user', content: big }] } });
      expect(added.status).toBe(200);
    }
    for (let i = 0; i < 3; i++) expect(await stream(key, { conversation: id })).toBe('n-eu');
    // The other callers' traffic stays where it was.
    for (let i = 0; i < 3; i++) expect(await stream(other)).toBe('n-eu');
  });

  it('takes no first-byte evidence from a structured-output schema the node meets for the first time: processing it is the caller\'s choice', async () => {
    const config = patient();
    const other = (await newKey()).key;
    const stream = async (as: string, extra: Record<string, unknown> = {}) => {
      const res = await callWithConfig(config, '/v1/chat/completions', { key: as, cf: CF.fra, body: chatBody({ stream: true, ...extra }) });
      expect(res.status).toBe(200);
      await res.text();
      return res.headers.get('x-router-node')!;
    };
    await setNode('n-us', { latencyMs: 30 });
    await setNode('n-ap', { latencyMs: 60 });
    for (const id of ['n-eu', 'n-us', 'n-ap']) await setNode(id, { schemaMs: 600 });
    for (let i = 0; i < 4; i++) expect(await stream(other)).toBe('n-eu');
    // One caller sends a schema never seen before (as it could each time): its first byte waits while the node processes it.
    const fresh = (i: number) => ({ type: 'json_schema', json_schema: { name: 'x', strict: true, schema: { type: 'object', properties: { [`p${i}`]: { type: 'string' } }, required: [`p${i}`], additionalProperties: false } } });
    expect(await stream(key, { response_format: fresh(0) })).toBe('n-eu');
    // The other callers' traffic stays where it was.
    for (let i = 0; i < 3; i++) expect(await stream(other)).toBe('n-eu');
  });

  it('reads a JSON answer still out against what its cap lets it write', async () => {
    const config = patient();
    const send = (body: unknown) => callWithConfig(config, '/v1/chat/completions', { key, cf: CF.fra, body });
    for (const id of ['n-eu', 'n-us', 'n-ap']) await setNode(id, { completionTokens: 1000, msPerToken: 1 });
    await setNode('n-us', { latencyMs: 30 });
    await setNode('n-ap', { latencyMs: 60 });
    const sizes = [5, 60, 5, 60, 5, 60];
    expect(await servedByJson(sizes.length, send, sizes)).toEqual(Array(sizes.length).fill('n-eu'));
    await setNode('n-eu', { latencyMs: 2000 });
    // Out 500 ms with at most 60 tokens to write at ~1 ms a token: its base is far past what n-eu's figure says.
    const capped = send(chatBody({ max_tokens: 60 }));
    await new Promise((r) => setTimeout(r, 500));
    expect(await servedByJson(2, send, [60, 60])).toEqual(['n-us', 'n-us']);
    await (await capped).text();
  });

  it('keeps a fast model\'s streams on their node while another caller\'s reasoning model, slow to its first byte, streams on the same node', async () => {
    const config = patient();
    // The OpenAI nodes serve a reasoning model too: its first chunk comes after it has reasoned, on every node.
    for (const n of config.nodes) if (['n-eu', 'n-us', 'n-ap'].includes(n.id)) n.models = [...n.models, 'o3'];
    config.models.o3 = {};
    // The other nodes farther off than loopback's jitter under load (their geo priors ≈ 385 and 515 ms), nearer than a reasoned first byte.
    config.routing = { ...config.routing, priorMsPerKm: 0.05 };
    for (const id of ['n-eu', 'n-us', 'n-ap']) await setNode(id, { modelLatencyMs: { o3: 1000 } });
    await setNode('n-us', { latencyMs: 30 });
    await setNode('n-ap', { latencyMs: 60 });
    const other = (await newKey()).key;
    // Frankfurt's neighbour, a colo no other test samples from (its samples are read below): nearest n-eu.
    const cf = { ...CF.fra, colo: 'MUC' };
    const send = (body: unknown) => callWithConfig(config, '/v1/chat/completions', { key, cf, body });
    const reason = async () => {
      const res = await callWithConfig(config, '/v1/chat/completions', { key: other, cf, body: chatBody({ model: 'o3', stream: true }) });
      expect(res.status).toBe(200);
      await res.text();
      return res.headers.get('x-router-node')!;
    };
    expect(await servedBy(3, send)).toEqual(['n-eu', 'n-eu', 'n-eu']);
    // Its first stream goes to the nearest node (no figure of its own anywhere yet); while it reasons there (out past
    // n-us's prior), the fast model stays.
    const first = reason();
    await new Promise((r) => setTimeout(r, 500));
    const fast = await servedBy(2, send);
    const reasoned = [await first, await reason()];
    expect(reasoned[0]).toBe('n-eu');
    for (let i = 0; i < 3; i++) {
      fast.push(...(await servedBy(2, send)));
      reasoned.push(await reason());
    }
    expect(reasoned).toContain('n-eu');
    expect(fast).toEqual(Array(8).fill('n-eu'));
    // Nor do its first bytes reach the colo's samples, whose figure per node pools every model: the fast model's alone.
    await flushSamples(env, Date.now(), true);
    const stat = (await env.COLO_STATS.getByName('MUC').snapshot())!.stats['n-eu']!;
    expect(stat.good).toBeGreaterThan(3 + 8 - 0.5);
    expect(stat.good).toBeLessThan(3 + 8 + 0.5);
    expect(stat.sum / stat.good).toBeLessThan(200);
  });

  it('feeds a fallback model\'s own levels with its attempts: a slowdown its fallback met moves that model\'s own traffic', async () => {
    const send = (body: unknown) => call('/v1/chat/completions', { key, cf: CF.fra, body });
    expect(await servedBy(3, send)).toEqual(['n-eu', 'n-eu', 'n-eu']);
    // solo-model's one node fails: it falls back to gpt-4o-mini, on its nearest node — which has slowed.
    await setNode('n-solo', { status: 500 });
    await setNode('n-eu', { latencyMs: 400 });
    for (let i = 0; i < 2; i++) {
      const res = await send(chatBody({ model: 'solo-model', stream: true }));
      expect(res.status).toBe(200);
      await res.text();
      expect(res.headers.get('x-router-model')).toBe('gpt-4o-mini');
    }
    expect(await servedBy(3, send)).not.toContain('n-eu');
  });

  it('shows the isolate\'s own figure in the route explanation', async () => {
    const send = (body: unknown) => call('/v1/chat/completions', { key, cf: CF.fra, body });
    await servedBy(2, send);
    const res = await call('/admin/route?model=gpt-4o-mini&colo=FRA&lat=50.05&lon=8.6', { key: ADMIN_TOKEN });
    const body = (await res.json()) as { chain: { candidates: { node: string; liveMs?: number }[] }[] };
    expect(body.chain[0]!.candidates.find((c) => c.node === 'n-eu')!.liveMs).toBeGreaterThanOrEqual(0);
    expect(body.chain[0]!.candidates.find((c) => c.node === 'n-ap')!.liveMs).toBeUndefined();
  });
});
