/** The OpenAI endpoints end to end: workerd → router → simulated fleet. */
import { beforeEach, describe, expect, it } from 'vitest';
import { call, CF, chatBody, newKey, nodeRequests, resetWorld, setNode, sseEvents } from './helpers';

let key: string;
beforeEach(async () => {
  await resetWorld();
  key = (await newKey()).key;
});

describe('POST /v1/chat/completions (JSON)', () => {
  it('answers from the nearest node with router headers', async () => {
    const res = await call('/v1/chat/completions', { key, body: chatBody(), cf: CF.fra });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('n-eu');
    expect(res.headers.get('x-router-model')).toBe('gpt-4o-mini');
    expect(res.headers.get('x-router-attempts')).toBe('1');
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    const json = await res.json<{ object: string; model: string; choices: { message: { content: string } }[] }>();
    expect(json.object).toBe('chat.completion');
    expect(json.choices[0]!.message.content).toBe('Hello from n-eu');
  });

  it('echoes a sane caller request id and sends it upstream with a suffix of the router\'s', async () => {
    const res = await call('/v1/chat/completions', { key, body: chatBody(), headers: { 'x-request-id': 'trace-42' } });
    expect(res.headers.get('x-request-id')).toBe('trace-42');
    const [seen] = (await nodeRequests('n-us')).slice(-1);
    expect(seen!.headers['x-request-id']).toMatch(/^trace-42\.[0-9a-f]{12}$/);
  });

  it('resends the caller body byte for byte, unknown fields included', async () => {
    const body = JSON.stringify(chatBody({ temperature: 0.2, max_tokens: 50, vendor_extension: { a: [1, 2] } }));
    const res = await call('/v1/chat/completions', { key, body });
    expect(res.status).toBe(200);
    const [seen] = (await nodeRequests('n-us')).slice(-1);
    expect(seen!.raw).toBe(body);
  });

  it('adds the reserved cap to a request without one, every other byte as sent', async () => {
    const body = '{ "model" : "gpt-4o-mini", "messages": [{"role":"user","content":"Hi"}], "x": [1, 2] }';
    expect((await call('/v1/chat/completions', { key, body })).status).toBe(200);
    const [seen] = (await nodeRequests('n-us')).slice(-1);
    expect(seen!.raw).toBe('{ "model" : "gpt-4o-mini", "messages": [{"role":"user","content":"Hi"}], "x": [1, 2] ,"max_tokens":1024}');
  });

  it('resolves an alias to its model', async () => {
    const res = await call('/v1/chat/completions', { key, body: chatBody({ model: 'mini' }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-model')).toBe('gpt-4o-mini');
  });

  it("maps the model to the node's own name upstream", async () => {
    const res = await call('/v1/chat/completions', { key, body: chatBody({ model: 'solo-model' }) });
    expect(res.headers.get('x-router-node')).toBe('n-solo');
    const [seen] = (await nodeRequests('n-solo')).slice(-1);
    expect(seen!.body.model).toBe('solo-upstream-v2');
  });
});

describe('POST /v1/chat/completions (stream)', () => {
  it('passes SSE chunks through and ends with [DONE], without a usage chunk nobody asked for', async () => {
    const res = await call('/v1/chat/completions', { key, body: chatBody({ stream: true }), cf: CF.nrt });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('x-router-node')).toBe('n-ap');
    const events = await sseEvents(res);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks[0].choices[0].delta.content).toBe('Hello from n-ap');
    expect(chunks.every((c) => c.choices.length > 0)).toBe(true);
    // The router asked the upstream for usage on the caller's behalf.
    const [seen] = (await nodeRequests('n-ap')).slice(-1);
    expect(seen!.body.stream_options).toEqual({ include_usage: true });
  });

  it('keeps the usage chunk when the caller asked for it', async () => {
    const body = chatBody({ stream: true, stream_options: { include_usage: true } });
    const events = await sseEvents(await call('/v1/chat/completions', { key, body }));
    const usage = JSON.parse(events.at(-2)!);
    expect(usage.choices).toEqual([]);
    expect(usage.usage.completion_tokens).toBe(3);
  });

  it('relays events larger than one read (reassembled, the usage chunk still found and dropped)', async () => {
    await setNode('n-us', { chunks: 3, padBytes: 10_000 }); // each event ~10 KB, several reads
    const events = await sseEvents(await call('/v1/chat/completions', { key, body: chatBody({ stream: true }) }));
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello from n-us #1 #2');
    expect(chunks.every((c) => c.padding === undefined || c.padding.length === 10_000)).toBe(true);
    expect(chunks.every((c) => c.choices.length > 0)).toBe(true);
  });

  it('does not take a client that reads slowly for a stalled upstream', async () => {
    // ~1.5 MB, sent at once: more than the buffers between router and client hold, so the
    // router's writes wait on this reader, far longer than the 600 ms idle timeout.
    await setNode('n-us', { chunks: 5, padBytes: 300_000 });
    const res = await call('/v1/chat/completions', { key, body: chatBody({ stream: true }) });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value, { stream: true });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += decoder.decode(r.value, { stream: true });
    expect(text).not.toContain('upstream_stream_stalled');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('delivers the first chunk before the upstream has finished', async () => {
    await setNode('n-us', { chunks: 3, chunkDelayMs: 300 });
    const started = Date.now();
    const res = await call('/v1/chat/completions', { key, body: chatBody({ stream: true }) });
    const reader = res.body!.getReader();
    const first = await reader.read();
    const firstAt = Date.now() - started;
    expect(new TextDecoder().decode(first.value)).toContain('Hello from n-us');
    while (!(await reader.read()).done);
    const total = Date.now() - started;
    expect(total).toBeGreaterThanOrEqual(850);
    expect(firstAt).toBeLessThan(total - 500);
  });
});

describe('POST /v1/embeddings', () => {
  it('returns vectors for each input', async () => {
    const res = await call('/v1/embeddings', { key, body: { model: 'text-embedding-3-small', input: ['a', 'b'] } });
    expect(res.status).toBe(200);
    const json = await res.json<{ data: { index: number; embedding: number[] }[] }>();
    expect(json.data.map((d) => d.index)).toEqual([0, 1]);
    expect(json.data[0]!.embedding).toHaveLength(8);
  });
});

describe('GET /v1/models and /healthz', () => {
  it('lists the union of served models plus aliases, in OpenAI list shape', async () => {
    const res = await call('/v1/models', { key });
    expect(res.status).toBe(200);
    const json = await res.json<{ object: string; data: { id: string; object: string }[] }>();
    expect(json.object).toBe('list');
    expect(json.data.map((m) => m.id)).toEqual(['azure-solo', 'azure-v1', 'claude-solo', 'claude-x', 'gemini-status', 'gpt-4o-mini', 'mini', 'solo-model', 'text-embedding-3-small']);
    expect(json.data.every((m) => m.object === 'model')).toBe(true);
  });

  it('answers liveness without a key and without calling upstream', async () => {
    const before = (await nodeRequests('n-us')).length;
    const res = await call('/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect((await nodeRequests('n-us')).length).toBe(before);
  });
});
