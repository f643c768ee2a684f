/**
 * Large request bodies share an isolate budget (`limits.isolateBodyBytes`, `http/body-budget.ts`):
 * a body is held two or three times while its request runs and an isolate has 128 MB, so
 * large bodies beyond the budget wait for others to end, then get a 503 the SDKs retry.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { heldBodyBytes } from '../../src/http/body-budget';
import { callWithConfig, chatBody, eventually, newKey, nodeRequests, resetWorld, setNode, testConfig } from './helpers';

beforeEach(resetWorld);

/** A chat body of about `mb` MiB, sent with its length (as SDKs send bodies). */
function big(mb: number, key: string) {
  const body = JSON.stringify(chatBody({ max_tokens: 5, messages: [{ role: 'user', content: 'x'.repeat(Math.round(mb * 1_048_576)) }] }));
  return { key, body, headers: { 'content-length': String(body.length) } };
}

function config(waitMs: number) {
  const c = testConfig();
  c.limits = { ...c.limits, maxBodyBytes: 4 * 1_048_576, isolateBodyBytes: 2 * 1_048_576, bodyWaitMs: waitMs };
  return c;
}

describe('large bodies past the isolate budget', () => {
  it('wait for the one in flight to end, then run: never two held at once past the budget', async () => {
    for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { latencyMs: 800 });
    const { key } = await newKey();
    const first = callWithConfig(config(10_000), '/v1/chat/completions', big(1.5, key));
    expect(await eventually(async () => heldBodyBytes(), (held) => held > 0)).toBeGreaterThan(1_048_576);
    const second = callWithConfig(config(10_000), '/v1/chat/completions', big(1.5, key));
    // The second waits: only the first's body is held, and one request reached a node.
    await new Promise((r) => setTimeout(r, 300));
    expect(heldBodyBytes()).toBeLessThan(2 * 1_048_576);
    const sent = async () => (await Promise.all(['n-us', 'n-eu', 'n-ap'].map(nodeRequests))).flat().length;
    expect(await sent()).toBe(1);
    const [a, b] = await Promise.all([first, second]);
    expect([a.status, b.status]).toEqual([200, 200]);
    await Promise.all([a.text(), b.text()]);
    expect(await sent()).toBe(2);
    await eventually(async () => heldBodyBytes(), (held) => held === 0);
  });

  it('a body of 512 KiB is counted while its request runs (bodies from 64 KiB are: at 1 MiB a hundred just under it went uncounted)', async () => {
    for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { latencyMs: 800 });
    const { key } = await newKey();
    const pending = callWithConfig(config(10_000), '/v1/chat/completions', big(0.5, key));
    expect(await eventually(async () => heldBodyBytes(), (held) => held > 0)).toBeGreaterThan(512 * 1024);
    expect((await pending).status).toBe(200);
    await eventually(async () => heldBodyBytes(), (held) => held === 0);
  });

  it('a body that waits past bodyWaitMs is a 503 with retry-after, in OpenAI\'s shape, and reaches no node', async () => {
    for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { latencyMs: 800 });
    const { key } = await newKey();
    const first = callWithConfig(config(300), '/v1/chat/completions', big(1.5, key));
    expect(await eventually(async () => heldBodyBytes(), (held) => held > 0)).toBeGreaterThan(1_048_576);
    const res = await callWithConfig(config(300), '/v1/chat/completions', big(1.5, key));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await res.json<{ error: { type: string; code: string } }>()).error).toMatchObject({ code: 'server_overloaded' });
    expect((await first).status).toBe(200);
    expect((await Promise.all(['n-us', 'n-eu', 'n-ap'].map(nodeRequests))).flat()).toHaveLength(1);
    await eventually(async () => heldBodyBytes(), (held) => held === 0);
  });

  it('count_tokens shares the budget: a large body past it is a 503 in Anthropic\'s shape (it was read and parsed beside the others, unbudgeted and unlimited)', async () => {
    for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { latencyMs: 800 });
    const { key } = await newKey();
    const first = callWithConfig(config(300), '/v1/chat/completions', big(1.5, key));
    expect(await eventually(async () => heldBodyBytes(), (held) => held > 0)).toBeGreaterThan(1_048_576);
    const count = big(1.5, key);
    const res = await callWithConfig(config(300), '/v1/messages/count_tokens', { ...count, headers: { ...count.headers, 'x-api-key': key, 'anthropic-version': '2023-06-01' } });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    expect((await first).status).toBe(200);
    await eventually(async () => heldBodyBytes(), (held) => held === 0);
    // With room, it is counted, and holds nothing once answered.
    const again = await callWithConfig(config(300), '/v1/messages/count_tokens', { ...count, headers: { ...count.headers, 'x-api-key': key, 'anthropic-version': '2023-06-01' } });
    expect(again.status).toBe(200);
    expect(heldBodyBytes()).toBe(0);
  });
});
