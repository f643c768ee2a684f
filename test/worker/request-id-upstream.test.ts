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
