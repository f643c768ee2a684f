/**
 * The request id a node runs a request under is the router's, never the caller's alone: vLLM's
 * engine runs each request under the `X-Request-Id` it is sent, refuses a second request with
 * an id still running, and its error path aborts that id — so a caller who could choose the
 * id a node sees could abort another key's generation on a shared node by sending its id.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { call, chatBody, newKey, nodeRequests, resetWorld, setNode } from './helpers';

beforeEach(resetWorld);

describe('the request id sent upstream', () => {
  it('two keys sending the same x-request-id to a vLLM node do not abort each other', async () => {
    for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { engineRequestIds: true, latencyMs: 400 });
    const [a, b] = [await newKey(), await newKey()];
    const first = call('/v1/chat/completions', { key: a.key, body: chatBody(), headers: { 'x-request-id': 'trace-1' } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = call('/v1/chat/completions', { key: b.key, body: chatBody(), headers: { 'x-request-id': 'trace-1' } });
    const [resA, resB] = await Promise.all([first, second]);
    for (const res of [resA, resB]) {
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toBe('trace-1'); // the caller's id is still its answer's
      expect(res.headers.get('x-router-attempts')).toBe('1'); // neither was aborted and retried elsewhere
      await res.text();
    }
    const seen = (await nodeRequests('n-us')).map((r) => r.headers['x-request-id']);
    expect(seen).toHaveLength(2);
    expect(new Set(seen).size).toBe(2);
    for (const id of seen) expect(id).toMatch(/^trace-1\./); // still found by the caller's id in the node's logs
  });
});

describe('a retry on the same node', () => {
  it('is sent an id of its own: the abandoned attempt may still be running under the first one', async () => {
    // The model's only node hangs on its first request past firstByteMs, then answers; its engine
    // notices the abandoned attempt's hang-up late, so that attempt's id is still running.
    await setNode('n-solo', { engineRequestIds: true, engineAbortLagMs: 3_000, hangFirst: 1 });
    const { key } = await newKey();
    for (const headers of [{ 'x-request-id': 'trace-2' }, {}] as Record<string, string>[]) {
      await setNode('n-solo', { engineRequestIds: true, engineAbortLagMs: 3_000, hangFirst: (await nodeRequests('n-solo')).length + 1 });
      const res = await call('/v1/chat/completions', { key, body: { ...chatBody(), model: 'solo-model', stream: true }, headers });
      const text = await res.text();
      expect(res.status, text).toBe(200);
      expect(res.headers.get('x-router-node')).toBe('n-solo'); // not refused as a duplicate and sent on to the fallback
      expect(res.headers.get('x-router-attempts')).toBe('2');
      expect(text).toContain('data: [DONE]');
    }
    const seen = (await nodeRequests('n-solo')).map((r) => r.headers['x-request-id']);
    expect(seen).toHaveLength(4);
    expect(new Set(seen).size).toBe(4);
    for (const id of seen.slice(0, 2)) expect(id).toMatch(/^trace-2\./); // still the caller's id, found in the node's logs
  });
});
