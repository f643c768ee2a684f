/**
 * Settlement against a node whose usage is malformed: negative or non-finite figures are no
 * usage at all (the request stays at its reservation), so a bad report can neither hand a
 * key's window or budget back capacity no request freed, nor lock them for the period.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, callWithConfig, CF, chatBody, eventually, newKey, resetWorld, setNode, testConfig } from './helpers';

beforeEach(resetWorld);

const NODES = ['n-us', 'n-eu', 'n-ap'];

async function usage(id: string) {
  return (await admin(`/keys/${id}/usage`)).json<{
    window: { requests: number; tokens: number };
    inFlight: number;
    spend: { dayUsd: number };
    totals: { promptTokens: number; estimatedTokens: number };
  }>();
}

/** gpt-4o-mini at $1 per 1M input and $1,000 per 1M output (`budgets.test.ts`): 10 output tokens ≈ one cent. */
function pricedConfig() {
  const c = testConfig();
  c.models['gpt-4o-mini'].price = { input: 1, output: 1_000 };
  return c;
}

describe('malformed usage from a node', () => {
  it('negative prompt tokens settle at the reservation: the tpm window is not handed back a million tokens', async () => {
    const config = testConfig();
    const { key, id } = await newKey({ limits: { tpm: 3_000 } });
    for (const n of NODES) await setNode(n, { templateTokens: -1_000_000 });
    const send = (max_tokens: number) => callWithConfig(config, '/v1/chat/completions', { key, body: chatBody({ max_tokens }), cf: CF.iad });
    expect((await send(1_000)).status).toBe(200);
    const after = await eventually(() => usage(id), (u) => u.inFlight === 0);
    expect(after.window.tokens).toBeGreaterThan(1_000);
    expect(after.totals.promptTokens).toBeGreaterThanOrEqual(0);
    // ~1,010 held against 3,000: a request of ~2,510 does not fit, whatever the node said it used.
    for (const n of NODES) await setNode(n, { templateTokens: 0 });
    expect((await send(2_500)).status).toBe(429);
  });

  it('negative prompt tokens do not refund a budget: spend stays at the worst case', async () => {
    const { key, id } = await newKey({ limits: { dailyUsd: 0.05 } });
    for (const n of NODES) await setNode(n, { templateTokens: -1_000_000 });
    const res = await callWithConfig(pricedConfig(), '/v1/chat/completions', { key, body: chatBody({ max_tokens: 10 }), cf: CF.iad });
    expect(res.status).toBe(200);
    await res.text();
    const after = await eventually(() => usage(id), (u) => u.inFlight === 0);
    expect(after.spend.dayUsd).toBeGreaterThan(0.01);
  });
});
