/**
 * Anthropic refuses a request its organisation's input-tokens-per-minute bucket cannot hold
 * with 429 `rate_limit_error` — `This request would exceed your organization's rate limit of
 * L input tokens per minute …` — in the same words whether the request alone passes the limit
 * or other traffic spent it; only its `anthropic-ratelimit-input-tokens-*` headers tell which.
 * Taken as the node's own pause, one key's oversized prompts benched the Claude node for
 * every key (`rateLimitCooldownMs`, or its Retry-After) at no cost (a 429 is not billed). With
 * at least half the bucket still free the request's own size is what was refused: it is
 * retried on the next node and cools nothing. A nearly spent bucket still cools the node.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { callWithConfig, newKey, resetWorld, setNode, testConfig } from './helpers';

/** Chicago: the Anthropic node `p-anth` ranks first for claude-x, the Azure node `p-azure` next. */
const ORD = { colo: 'ORD', latitude: '41.98', longitude: '-87.90', country: 'US', continent: 'NA' };
const config = testConfig();
// A long pause, so that the request after the first would find the node still cooled.
config.retry.rateLimitCooldownMs = 60_000;
const send = (key: string, text: string) =>
  callWithConfig(config, '/v1/chat/completions', { key, cf: ORD, body: { model: 'claude-x', messages: [{ role: 'user', content: text }], max_tokens: 16 } });

beforeEach(resetWorld);

describe("Anthropic's input-tokens-per-minute 429", () => {
  const messages = (key: string, text: string) =>
    callWithConfig(config, '/v1/messages', { cf: ORD, headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' }, body: { model: 'claude-x', max_tokens: 16, messages: [{ role: 'user', content: text }] } });

  // A chat caller (translated to Messages), and a Messages caller (the body passed through to the Anthropic node).
  it.each([
    ['a chat caller', send],
    ['a Messages caller', messages],
  ] as const)('for a request that alone passes what the bucket holds, while half of it is free: fails over without cooling the node (%s)', async (_, call) => {
    const attacker = (await newKey()).key;
    const other = (await newKey()).key;
    await setNode('p-anth', { inputTpmLimit: 2_000 });
    // The node that serves the attacker instead is slow, so what it teaches the live view keeps p-anth first.
    await setNode('p-azure', { latencyMs: 300 });

    const big = await call(attacker, 'word '.repeat(3_000));
    expect(big.status).toBe(200); // served by the next node
    expect(big.headers.get('x-router-node')).toBe('p-azure');
    await big.text();

    const res = await call(other, 'Hi');
    await res.text();
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('p-anth');
    expect(res.headers.get('x-router-attempts')).toBe('1');
  });

  it('with the bucket nearly spent by traffic: still cools the node', async () => {
    const first = (await newKey()).key;
    const other = (await newKey()).key;
    await setNode('p-anth', { inputTpmLimit: 2_000, inputTpmRemaining: 5, retryAfter: 30 });

    const res1 = await send(first, 'Hi there, how are you today?');
    await res1.text();
    expect(res1.headers.get('x-router-node')).toBe('p-azure');
    // The bucket refills: a small request would fit now, but the node is cooled for its Retry-After.
    await setNode('p-anth', { inputTpmRemaining: 2_000 });
    const res2 = await send(other, 'Hi');
    await res2.text();
    expect(res2.headers.get('x-router-node')).toBe('p-azure');
    expect(res2.headers.get('x-router-attempts')).toBe('1');
  });
});
