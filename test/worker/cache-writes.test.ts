/**
 * OpenAI's prompt-cache writes (`prompt_tokens_details.cache_write_tokens`, Responses'
 * `input_tokens_details.cache_write_tokens`: gpt-5.6's explicit cache breakpoints) are settled at
 * the model's `cacheWrite` rate, as Anthropic's and Bedrock's are (README "Usage and cost"): read
 * as plain input, a key's spend fell short of what the node billed. Both paths: an OpenAI caller
 * on an OpenAI node (the answer as it is) and a Messages caller on one (translated).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, callWithConfig, eventually, newKey, resetWorld, setNode, testConfig } from './helpers';

beforeEach(resetWorld);

const MINI_NODES = ['n-us', 'n-eu', 'n-ap'];
const PRICE = { input: 1, cachedInput: 0.1, cacheWrite: 10, output: 2 }; // USD per 1M tokens
type Usage = { prompt_tokens: number; completion_tokens: number; prompt_tokens_details?: { cached_tokens?: number; cache_write_tokens?: number } };

const spentOf = async (id: string) =>
  (await eventually(() => admin(`/keys/${id}/usage`).then((r) => r.json<{ spend: { dayUsd: number; heldUsd: number } }>()), (u) => u.spend.heldUsd === 0 && u.spend.dayUsd > 0)).spend.dayUsd;

function pricedConfig() {
  const config = testConfig();
  config.models['gpt-4o-mini'].price = PRICE;
  return config;
}

describe('OpenAI cache writes are charged at cacheWrite', () => {
  beforeEach(async () => {
    for (const id of MINI_NODES) await setNode(id, { cacheReadTokens: 200, cacheWriteTokens: 1_000 });
  });

  it('a chat completion: the key is charged reads at cachedInput, writes at cacheWrite, the rest at input', async () => {
    const { key, id } = await newKey({ limits: { dailyUsd: 10 } });
    const res = await callWithConfig(pricedConfig(), '/v1/chat/completions', {
      key,
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'word '.repeat(2_000) }], max_tokens: 20 },
    });
    expect(res.status).toBe(200);
    const { usage } = await res.json<{ usage: Usage }>();
    expect(usage.prompt_tokens_details).toEqual({ cached_tokens: 200, cache_write_tokens: 1_000 });
    const billed = ((usage.prompt_tokens - 1_200) * PRICE.input + 200 * PRICE.cachedInput + 1_000 * PRICE.cacheWrite + usage.completion_tokens * PRICE.output) / 1e6;
    expect(await spentOf(id)).toBeCloseTo(billed, 12);
  });

  it('a Messages caller on an OpenAI node: the writes reach the caller as cache_creation_input_tokens and are charged at cacheWrite', async () => {
    const { key, id } = await newKey({ limits: { dailyUsd: 10 } });
    const res = await callWithConfig(pricedConfig(), '/v1/messages', {
      key,
      headers: { 'anthropic-version': '2023-06-01' },
      body: { model: 'gpt-4o-mini', max_tokens: 20, messages: [{ role: 'user', content: 'word '.repeat(2_000) }] },
    });
    expect(res.status).toBe(200);
    const { usage } = await res.json<{ usage: { input_tokens: number; output_tokens: number; cache_read_input_tokens: number; cache_creation_input_tokens: number } }>();
    expect(usage.cache_read_input_tokens).toBe(200);
    expect(usage.cache_creation_input_tokens).toBe(1_000);
    const billed = (usage.input_tokens * PRICE.input + 200 * PRICE.cachedInput + 1_000 * PRICE.cacheWrite + usage.output_tokens * PRICE.output) / 1e6;
    expect(await spentOf(id)).toBeCloseTo(billed, 12);
  });
});

/**
 * gpt-5.6's 12-hour cache retention (`prompt_cache_options.ttl: "12h"`, or a breakpoint's own
 * `prompt_cache_breakpoint.ttl`) on Responses: usage reports those writes apart
 * (`input_tokens_details.cache_write_tokens_details.ttl_12h_tokens`), and OpenAI prices them
 * apart from the 30-minute ones. Charged at `cacheWrite`, a key paid the cheaper rate; a
 * budgeted key on a model whose price names no 12-hour rate is refused the retention.
 */
describe("OpenAI's 12-hour cache writes", () => {
  const PRICE_12H = { ...PRICE, cacheWrite12h: 25 };
  const config = (price: object) => {
    const c = testConfig();
    c.models['gpt-4o-mini'].price = price;
    return c;
  };
  const responses = (extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', input: 'word '.repeat(2_000), max_output_tokens: 20, ...extra });
  type ResponsesUsage = { input_tokens: number; output_tokens: number; input_tokens_details: { cached_tokens: number; cache_write_tokens: number; cache_write_tokens_details: { ttl_12h_tokens: number } } };

  beforeEach(async () => {
    for (const id of MINI_NODES) await setNode(id, { cacheReadTokens: 200, cacheWriteTokens: 1_000 });
  });

  it('are charged at cacheWrite12h, the 30-minute ones at cacheWrite', async () => {
    const { key, id } = await newKey({ limits: { dailyUsd: 10 } });
    const res = await callWithConfig(config(PRICE_12H), '/v1/responses', { key, body: responses({ prompt_cache_options: { ttl: '12h' } }) });
    expect(res.status).toBe(200);
    const { usage } = await res.json<{ usage: ResponsesUsage }>();
    expect(usage.input_tokens_details.cache_write_tokens_details.ttl_12h_tokens).toBe(1_000);
    const billed = ((usage.input_tokens - 1_200) * PRICE.input + 200 * PRICE.cachedInput + 1_000 * PRICE_12H.cacheWrite12h + usage.output_tokens * PRICE.output) / 1e6;
    expect(await spentOf(id)).toBeCloseTo(billed, 12);
  });

  it('a budgeted key asking for them on a model priced without cacheWrite12h is refused, before any node sees it', async () => {
    const { key } = await newKey({ limits: { dailyUsd: 10 } });
    for (const body of [
      responses({ prompt_cache_options: { ttl: '12h' } }),
      // A breakpoint's own lifetime, deep in an input item.
      responses({ input: [{ role: 'user', content: [{ type: 'input_text', text: 'word '.repeat(2_000), prompt_cache_breakpoint: { mode: 'explicit', ttl: '12h' } }] }] }),
    ]) {
      const res = await callWithConfig(config(PRICE), '/v1/responses', { key, body });
      expect(res.status).toBe(403);
      const { error } = await res.json<{ error: { code: string; param: string; message: string } }>();
      expect(error).toMatchObject({ code: 'cost_unbounded', param: 'prompt_cache_options' });
      expect(error.message).toContain('cacheWrite12h');
    }
    // The default lifetime, asked or not, passes.
    const ok = await callWithConfig(config(PRICE), '/v1/responses', { key, body: responses({ prompt_cache_options: { ttl: '30m' } }) });
    expect(ok.status).toBe(200);
    await ok.text();
  });

  it('a key without a budget may ask for them on such a model: settled at cacheWrite', async () => {
    const { key, id } = await newKey();
    const res = await callWithConfig(config(PRICE), '/v1/responses', { key, body: responses({ prompt_cache_options: { ttl: '12h' } }) });
    expect(res.status).toBe(200);
    const { usage } = await res.json<{ usage: ResponsesUsage }>();
    const billed = ((usage.input_tokens - 1_200) * PRICE.input + 200 * PRICE.cachedInput + 1_000 * PRICE.cacheWrite + usage.output_tokens * PRICE.output) / 1e6;
    const rows = await eventually(
      () => admin(`/usage?key=${id}&groupBy=key`).then((r) => r.json<{ data: { costUsd: number }[] }>()),
      (u) => u.data.length > 0 && u.data[0]!.costUsd > 0,
    );
    expect(rows.data[0]!.costUsd).toBeCloseTo(billed, 12);
  });
});
