/**
 * A "poison" request — one every node fails (fleet knob `poisonText`: a node answers 500 to a
 * body carrying the marker) — must not eject nodes for everyone else, while a node that is
 * really down is still ejected as fast as before (README "Retry, failover and fallback").
 * Walks may try 2 of the model's 3 nodes here, as when a model has more nodes than
 * `retry.maxAttempts`: ejecting the two nearest would send every key to the farthest.
 */
import { exports } from 'cloudflare:workers';
import { env } from 'cloudflare:workers';
import { abortAllDurableObjects } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import { CORROBORATING_KEYS } from '../../src/forward/held';
import { flushSamples } from '../../src/routing/samples';
import { call, callWithConfig, CF, chatBody, newKey, nodeRequests, resetWorld, setNode, testConfig, wipeObjects } from './helpers';

const POISON = 'poison-7f3a';
const poisoned = (stream: boolean) => chatBody({ stream, messages: [{ role: 'user', content: `Describe ${POISON}` }] });
/** The breaker's `failureThreshold` in the test config (the default, 3). */
const THRESHOLD = 3;

const config = testConfig();
config.retry.maxAttempts = 2;
const send = (key: string, body: object) => callWithConfig(config, '/v1/chat/completions', { key, body });

/** The colo's table's failure weight for a node: what drags it there. */
async function failedInIad(node: string): Promise<number> {
  await flushSamples(env, Date.now(), true);
  return (await env.COLO_STATS.getByName('IAD').snapshot())?.stats[node]?.failed ?? 0;
}

let attacker: string;
let other: string;
beforeEach(async () => {
  await resetWorld();
  await wipeObjects([env.COLO_STATS.getByName('IAD')]);
  await abortAllDurableObjects();
  attacker = (await newKey()).key;
  other = (await newKey()).key;
});

describe('a request that fails on every node it tries', () => {
  for (const stream of [false, true]) {
    it(`does not eject the nodes or drag them in the colo's table, however often one key sends it (${stream ? 'stream' : 'JSON'})`, async () => {
      for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { poisonText: POISON });
      for (let i = 0; i < THRESHOLD; i++) {
        const res = await send(attacker, poisoned(stream));
        // What the caller is told is unchanged: both nodes tried, each one's 500.
        expect(res.status).toBe(502);
        expect((await res.json<{ error: { message: string } }>()).error.message).toMatch(/n-us \(gpt-4o-mini\): HTTP 500; n-eu \(gpt-4o-mini\): HTTP 500/);
      }
      const res = await send(other, chatBody({ stream }));
      await res.text();
      expect(res.headers.get('x-router-node')).toBe('n-us');
      expect(res.headers.get('x-router-attempts')).toBe('1');
      expect(res.headers.get('x-router-route')).toMatch(/^n-us=.*, n-eu=.*, n-ap=/);
      expect(await failedInIad('n-us')).toBe(0);
      expect(await failedInIad('n-eu')).toBe(0);
    });
  }

  it('does not count the nearest node\'s failure when the caller leaves right after it', async () => {
    // Otherwise a caller could hang up once the nearest node has failed and before the next
    // answers, so that its walk shows one node only — counted, as nothing tells it apart.
    await setNode('n-us', { poisonText: POISON });
    await setNode('n-eu', { poisonText: POISON, latencyMs: 400 });
    for (let i = 0; i < THRESHOLD; i++) {
      const gone = new AbortController();
      const request = new Request('https://router.test/v1/chat/completions', {
        method: 'POST',
        headers: { authorization: `Bearer ${attacker}`, 'content-type': 'application/json' },
        body: JSON.stringify(poisoned(false)),
        cf: CF.iad,
        signal: gone.signal,
      } as RequestInit);
      const sent = exports.default.fetch(request).then((r) => r.text(), () => '');
      await new Promise((r) => setTimeout(r, 150));
      gone.abort();
      await sent;
    }
    expect(await nodeRequests('n-eu')).toHaveLength(THRESHOLD); // each walk had moved on to n-eu
    const res = await call('/v1/chat/completions', { key: other, body: chatBody() });
    expect(res.headers.get('x-router-node')).toBe('n-us');
    expect(res.headers.get('x-router-attempts')).toBe('1');
  });
});

describe('a walk cut short after the nearest node failed, with other nodes left', () => {
  // One attempt shows one node, as on a model only one node serves — but here the walk stopped
  // before the others, at the deadline or the retry budget, which one caller can bring about.
  it('does not eject the nearest node when one key\'s generations outlast the deadline (JSON: responseMs is the whole deadline)', async () => {
    const slow = testConfig();
    slow.timeouts = { ...slow.timeouts, totalMs: 600 };
    // Every node writes 1,000 tokens at 1 ms each unless capped: the attacker asks for them all.
    for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { completionTokens: 1_000, msPerToken: 1 });
    for (let i = 0; i < THRESHOLD; i++) {
      const res = await callWithConfig(slow, '/v1/chat/completions', { key: attacker, body: chatBody() });
      expect(res.status).toBeGreaterThanOrEqual(500);
      await res.text();
    }
    expect(await nodeRequests('n-us')).toHaveLength(THRESHOLD);
    expect(await nodeRequests('n-eu')).toHaveLength(0); // the deadline was spent on the nearest
    const res = await callWithConfig(slow, '/v1/chat/completions', { key: other, body: chatBody({ max_tokens: 5 }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('n-us');
    expect(await failedInIad('n-us')).toBe(0);
  });

  it('does not eject the nearest node when the retry budget cuts one key\'s poison requests to one attempt', async () => {
    const drained = testConfig();
    drained.retry.budget = { ratio: 0, minRetries: 0, windowMs: 10_000 };
    for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { poisonText: POISON });
    for (let i = 0; i < THRESHOLD; i++) {
      const res = await callWithConfig(drained, '/v1/chat/completions', { key: attacker, body: poisoned(false) });
      expect(res.status).toBe(502);
      await res.text();
    }
    expect(await nodeRequests('n-eu')).toHaveLength(0);
    const res = await callWithConfig(drained, '/v1/chat/completions', { key: other, body: chatBody() });
    expect(res.headers.get('x-router-node')).toBe('n-us');
    expect(await failedInIad('n-us')).toBe(0);
  });
});

describe('a Responses follow-up pinned to the node that holds its state', () => {
  it('does not eject that node when one key\'s follow-ups are poisoned (the caller chose the node)', async () => {
    const respond = (body: Record<string, unknown>, key = attacker) => callWithConfig(config, '/v1/responses', { key, body: { model: 'gpt-4o-mini', input: 'Hi', ...body } });
    const first = await respond({});
    expect(first.headers.get('x-router-node')).toBe('n-us');
    const { id } = await first.json<{ id: string }>();
    await setNode('n-us', { poisonText: POISON });
    for (let i = 0; i < THRESHOLD; i++) {
      const res = await respond({ previous_response_id: id, input: `Describe ${POISON}` });
      expect(res.status).toBeGreaterThanOrEqual(500);
      await res.text();
    }
    const res = await respond({}, other);
    await res.text();
    expect(res.headers.get('x-router-node')).toBe('n-us');
    expect(await failedInIad('n-us')).toBe(0);
  });
});

describe('when every node fails for several keys', () => {
  it(`counts the failures once ${CORROBORATING_KEYS} keys' requests have failed everywhere within a minute: an outage, not one caller's doing`, async () => {
    // Every node answers 500 to everyone (a provider-wide outage its probes do not see).
    for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { status: 500 });
    const keys = [attacker, other, (await newKey()).key];
    for (const [i, key] of keys.entries()) {
      expect((await send(key, chatBody())).status).toBe(502);
      // Until the last key's, the failures wait: one or two keys could be sending what every node refuses.
      expect(await failedInIad('n-us')).toBe(i < keys.length - 1 ? 0 : 1);
    }
    expect(await failedInIad('n-eu')).toBe(1);
  });

  it("counts only on the nodes the keys' failures share: two keys failing elsewhere do not corroborate one key's poison", async () => {
    // claude-x's two nodes really fail, for two keys; the attacker's poison fails on the nearest gpt-4o-mini nodes.
    for (const id of ['p-anth', 'p-azure']) await setNode(id, { status: 500 });
    for (const key of [other, (await newKey()).key]) expect((await send(key, chatBody({ model: 'claude-x' }))).status).toBe(502);
    for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { poisonText: POISON });
    for (let i = 0; i < THRESHOLD; i++) expect((await send(attacker, poisoned(false))).status).toBe(502);
    const res = await send(other, chatBody());
    expect(res.headers.get('x-router-node')).toBe('n-us');
    expect(res.headers.get('x-router-attempts')).toBe('1');
    expect(await failedInIad('n-us')).toBe(0);
  });
});

describe('a node that really fails', () => {
  it('is still ejected after as many requests as the threshold: its faults count once the request succeeds elsewhere', async () => {
    // On loopback every node is as near as the next: give the fallback its distance, or the
    // live view (which learns from JSON answers too) would rank it first after one failover.
    await setNode('n-eu', { latencyMs: 100 });
    await setNode('n-us', { status: 500 });
    for (let i = 0; i < THRESHOLD; i++) expect((await send(attacker, chatBody())).headers.get('x-router-node')).toBe('n-eu');
    const res = await send(other, chatBody());
    expect(res.headers.get('x-router-node')).toBe('n-eu');
    expect(res.headers.get('x-router-attempts')).toBe('1');
    expect(res.headers.get('x-router-route')).not.toContain('n-us');
    expect(await nodeRequests('n-us')).toHaveLength(THRESHOLD);
    expect(await failedInIad('n-us')).toBeGreaterThan(THRESHOLD - 0.5);
  });

  it('is ejected when its streams open with a server error (held, then counted when another node answers)', async () => {
    await setNode('n-eu', { latencyMs: 100 });
    await setNode('n-us', { streamErrorCode: 500 });
    for (let i = 0; i < THRESHOLD; i++) expect((await (await send(attacker, chatBody({ stream: true }))).text())).toContain('[DONE]');
    const res = await send(other, chatBody({ stream: true }));
    await res.text();
    expect(res.headers.get('x-router-node')).toBe('n-eu');
    expect(res.headers.get('x-router-attempts')).toBe('1');
    expect(await nodeRequests('n-us')).toHaveLength(THRESHOLD);
  });
});
