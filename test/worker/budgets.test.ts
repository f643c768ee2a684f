/**
 * Spend budgets per key, per UTC day and month: exact under a burst (worst case reserved,
 * settled to the real cost), OpenAI's `insufficient_quota`, headers, and the reset at the
 * period boundary.
 */
import { env } from 'cloudflare:workers';
import { evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import { isolateLeases } from '../../src/limits/leases';
import type { RateLimiter } from '../../src/limits/limiter-do';
import { admin, callWithConfig, CF, chatBody, eventually, newKey, nodeRequests, resetWorld, setNode, testConfig } from './helpers';

beforeEach(resetWorld);

/**
 * gpt-4o-mini at $1 per 1M input and $1,000 per 1M output: a request capped at 10 output
 * tokens has a worst case of 10 × $0.001 + its prompt (~$0.00003) — about one cent; the
 * fleet writes 3 tokens ($0.003 + prompt).
 */
function config() {
  const c = testConfig();
  c.models['gpt-4o-mini'].price = { input: 1, output: 1_000 };
  return c;
}
const body = () => chatBody({ max_tokens: 10 });
const limiter = (id: string) => env.RATE_LIMITER.getByName(`key:${id}`);
const send = (key: string) => callWithConfig(config(), '/v1/chat/completions', { key, body: body() });

describe('spend budgets', () => {
  it('admits exactly what the worst cases fit under a burst, refusing the rest with insufficient_quota', async () => {
    // $0.05 a day: five worst cases of ~$0.01003 do not fit, four do.
    const { key } = await newKey({ limits: { dailyUsd: 0.05 } });
    const responses = await Promise.all(Array.from({ length: 20 }, () => send(key)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(4);
    const refused = responses.find((r) => r.status === 429)!;
    expect(refused.headers.get('x-should-retry')).toBe('false');
    const { error } = await refused.json<{ error: { type: string; code: string; message: string } }>();
    expect(error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota' });
    expect(error.message).toMatch(/daily budget of key '.+'.*\$0\.05.*resets in .*\(\d{4}-\d\d-\d\dT00:00:00\.000Z\)/);
  });

  it('settles to the real cost: what a request did not spend returns to the budget', async () => {
    const { key } = await newKey({ limits: { dailyUsd: 0.025 } });
    // Worst case ~$0.01 each: two fit at once; real cost ~$0.003 each, so once both settled, more fit.
    const first = await Promise.all([send(key), send(key), send(key)]);
    expect(first.map((r) => r.status).sort()).toEqual([200, 200, 429]);
    await Promise.all(first.map((r) => r.text()));
    const later = await eventually(
      async () => (await send(key)).status,
      (s) => s === 200,
    );
    expect(later).toBe(200);
  });

  it('tells the budget in headers, in USD, with the time to the period end', async () => {
    const { key, id } = await newKey({ limits: { dailyUsd: 1, monthlyUsd: 20 } });
    const res = await send(key);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-limit-budget-day-usd')).toBe('1');
    expect(Number(res.headers.get('x-ratelimit-remaining-budget-day-usd'))).toBeLessThan(1);
    expect(Number(res.headers.get('x-ratelimit-remaining-budget-day-usd'))).toBeGreaterThan(0.98);
    expect(res.headers.get('x-ratelimit-limit-budget-month-usd')).toBe('20');
    expect(res.headers.get('x-ratelimit-reset-budget-day')).toMatch(/^(\d+h)?(\d+m)?\d+s$|ms$/);
    const { spend } = await eventually(
      async () => (await admin(`/keys/${id}/usage`)).json<{ spend: { dayUsd: number; monthUsd: number; heldUsd: number } }>(),
      (u) => u.spend.heldUsd === 0,
    );
    expect(spend.dayUsd).toBeGreaterThan(0.003);
    expect(spend.dayUsd).toBeLessThan(0.004); // the real cost, not the ~$0.01 worst case
    expect(spend.monthUsd).toBe(spend.dayUsd);
  });

  it('resets at the period boundary: yesterday\'s spend does not count today, today\'s does', async () => {
    const { key, id } = await newKey({ limits: { dailyUsd: 0.05 } });
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const spend = (period: string) =>
      runInDurableObject(limiter(id), async (_: RateLimiter, state: DurableObjectState) => {
        state.storage.sql.exec('CREATE TABLE IF NOT EXISTS spend (period TEXT PRIMARY KEY, nano INTEGER NOT NULL, updated INTEGER NOT NULL)');
        state.storage.sql.exec('INSERT OR REPLACE INTO spend VALUES (?, ?, ?)', period, 50_000_000, Date.now());
      });
    await (await send(key)).text(); // creates the object
    await spend(`d:${yesterday}`);
    await evictDurableObject(limiter(id));
    expect((await send(key)).status).toBe(200);
    await spend(`d:${today}`);
    await evictDurableObject(limiter(id));
    const res = await send(key);
    expect(res.status).toBe(429);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe('insufficient_quota');
  });

  it('a retry after a hung first attempt reserves its worst case again: four such requests never spend past a $0.05 budget', async () => {
    // Four worst cases (~$0.0401) fit; each hung attempt may be billed its worst case, and a fifth worst case does not fit.
    const { key, id } = await newKey({ limits: { dailyUsd: 0.05 } });
    await setNode('n-us', { hang: true });
    const responses = await Promise.all(Array.from({ length: 4 }, () => callWithConfig(config(), '/v1/chat/completions', { key, body: body(), cf: CF.iad })));
    const bodies = await Promise.all(responses.map((r) => r.json<{ error?: { code: string; message: string } }>()));
    expect(responses.map((r) => r.status)).toEqual([429, 429, 429, 429]);
    for (const b of bodies) {
      expect(b.error?.code).toBe('insufficient_quota');
      expect(b.error?.message).toContain('another attempt');
    }
    const { spend } = await eventually(
      async () => (await admin(`/keys/${id}/usage`)).json<{ spend: { dayUsd: number; heldUsd: number } }>(),
      (u) => u.spend.heldUsd === 0,
    );
    expect(spend.heldUsd).toBe(0);
    expect(spend.dayUsd).toBeGreaterThan(0.04); // the four abandoned attempts, at their worst case
    expect(spend.dayUsd).toBeLessThanOrEqual(0.05);
  });

  it('admits a key far from its budget from leases of spend, with no round trip, and its spend is exact once they report', async () => {
    const { key, id } = await newKey({ limits: { dailyUsd: 100 } });
    const remaining: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await send(key);
      expect(res.status).toBe(200);
      remaining.push(Number(res.headers.get('x-ratelimit-remaining-budget-day-usd')));
      await res.text();
    }
    expect(isolateLeases.calls.local).toBeGreaterThan(0);
    // What the headers promise never grows past what is left after the worst case of the request itself.
    for (const r of remaining) expect(r).toBeLessThan(100 - 0.01);
    const { spend } = await eventually(
      async () => (await admin(`/keys/${id}/usage`)).json<{ spend: { dayUsd: number; heldUsd: number } }>(),
      (u) => u.spend.heldUsd === 0,
    );
    expect(spend.heldUsd).toBe(0);
    expect(spend.dayUsd).toBeGreaterThan(12 * 0.003);
    expect(spend.dayUsd).toBeLessThan(12 * 0.004); // real costs, not worst cases
  });

  it('keeps admitting from leases near its budget: slices cut to a share of what is left, not one object call per request', async () => {
    // Worst case ~$0.01 a request, real ~$0.003: 40 quick requests spend ~$0.12 of $0.30, and
    // from the 20th on their whole want (1.5 × recent × worst case) no longer fits in half of what is left.
    const { key, id } = await newKey({ limits: { dailyUsd: 0.3 } });
    const statuses: number[] = [];
    let awaited = 0;
    for (let i = 0; i < 40; i++) {
      const before = isolateLeases.calls.awaited;
      const res = await send(key);
      statuses.push(res.status);
      await res.text();
      if (i >= 20) awaited += isolateLeases.calls.awaited - before;
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(awaited).toBeLessThan(10); // exact per request: 20
    const { spend } = await eventually(
      async () => (await admin(`/keys/${id}/usage`)).json<{ spend: { dayUsd: number; heldUsd: number } }>(),
      (u) => u.spend.heldUsd === 0,
    );
    expect(spend.dayUsd).toBeLessThanOrEqual(0.3);
  });

  it('refuses a spent key in the isolate for a moment after its object did, without asking again', async () => {
    // $0.012: one request (worst ~$0.01, real ~$0.003) fits; the next does not, nor any after.
    const { key } = await newKey({ limits: { dailyUsd: 0.012 } });
    expect((await send(key).then(async (r) => (await r.text(), r))).status).toBe(200);
    const before = isolateLeases.calls.awaited;
    const refused = [];
    for (let i = 0; i < 6; i++) refused.push(await send(key));
    expect(refused.map((r) => r.status)).toEqual([429, 429, 429, 429, 429, 429]);
    expect(isolateLeases.calls.awaited - before).toBe(1); // the object refused the first; the isolate the rest
    const last = refused.at(-1)!;
    expect(last.headers.get('x-should-retry')).toBe('false');
    expect((await last.json<{ error: { code: string } }>()).error.code).toBe('insufficient_quota');
  });

  it('an operator lowering the budget under what is spent: the next request is refused, not admitted from a slice of the old budget', async () => {
    const { key } = await newKey(); // its budget comes from `limits.defaults`
    const withBudget = (dailyUsd: number) => {
      const c = config();
      c.limits = { ...c.limits, defaults: { dailyUsd } };
      return c;
    };
    for (let i = 0; i < 12; i++) {
      const res = await callWithConfig(withBudget(100), '/v1/chat/completions', { key, body: body() });
      expect(res.status).toBe(200);
      await res.text();
    }
    expect(isolateLeases.calls.local).toBeGreaterThan(0); // a slice of the $100 is held here
    // ~$0.036 is spent: nothing fits a $0.02 day.
    const res = await callWithConfig(withBudget(0.02), '/v1/chat/completions', { key, body: body() });
    expect(res.status).toBe(429);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe('insufficient_quota');
  });

  it('refuses a request whose worst case alone is over the budget, saying so', async () => {
    const { key } = await newKey({ limits: { dailyUsd: 0.005 } });
    const res = await send(key);
    expect(res.status).toBe(429);
    expect((await res.json<{ error: { message: string } }>()).error.message).toContain('worst-case cost alone exceeds');
  });
});

describe('hosted tools billed per use, on a key with a spend budget', () => {
  // OpenAI bills these per call beside the tokens (web search and file search per 1,000 calls, code interpreter per container, image generation per image): nothing in the body bounds the calls.
  const input = [{ role: 'user', content: 'News?' }];
  const cases: [string, string, Record<string, unknown>, string][] = [
    ['Responses web_search', '/v1/responses', { model: 'gpt-4o-mini', store: false, input, tools: [{ type: 'web_search' }] }, 'web_search'],
    ['Responses web_search_preview', '/v1/responses', { model: 'gpt-4o-mini', store: false, input, tools: [{ type: 'function', name: 'f', parameters: {} }, { type: 'web_search_preview' }] }, 'web_search_preview'],
    ['Responses file_search', '/v1/responses', { model: 'gpt-4o-mini', store: false, input, tools: [{ type: 'file_search', vector_store_ids: ['vs_1'] }] }, 'file_search'],
    ['Responses code_interpreter', '/v1/responses', { model: 'gpt-4o-mini', store: false, input, tools: [{ type: 'code_interpreter', container: { type: 'auto' } }] }, 'code_interpreter'],
    ['Responses image_generation', '/v1/responses', { model: 'gpt-4o-mini', store: false, input, tools: [{ type: 'image_generation' }] }, 'image_generation'],
    // The shell tool in a hosted container (billed per container by its memory, up to 64g); without an environment, the node chooses.
    ['Responses shell in a container', '/v1/responses', { model: 'gpt-4o-mini', store: false, input, tools: [{ type: 'shell', environment: { type: 'container_auto', memory_limit: '64g' } }] }, 'shell'],
    ['Responses shell without an environment', '/v1/responses', { model: 'gpt-4o-mini', store: false, input, tools: [{ type: 'shell' }] }, 'shell'],
    // Tools an input item gives the model (openai 7.x `additional_tools`, a `tool_search_output`'s loaded tools) are billed as the top-level ones.
    ['Responses web_search in an additional_tools item', '/v1/responses', { model: 'gpt-4o-mini', store: false, input: [...input, { type: 'additional_tools', role: 'developer', tools: [{ type: 'web_search' }] }] }, 'web_search'],
    ['Responses code_interpreter in a tool_search_output item', '/v1/responses', { model: 'gpt-4o-mini', store: false, input: [...input, { type: 'tool_search_output', execution: 'server', tools: [{ type: 'code_interpreter', container: { type: 'auto' } }] }] }, 'code_interpreter'],
    // Programmatic tool calling: programs the model writes run in OpenAI's hosted runtime, and call the request's tools from there.
    ['Responses programmatic_tool_calling', '/v1/responses', { model: 'gpt-4o-mini', store: false, input, tools: [{ type: 'programmatic_tool_calling' }, { type: 'function', name: 'f', parameters: {}, allowed_callers: ['programmatic'] }] }, 'programmatic_tool_calling'],
    ['Responses programmatic_tool_calling in an additional_tools item', '/v1/responses', { model: 'gpt-4o-mini', store: false, input: [...input, { type: 'additional_tools', role: 'developer', tools: [{ type: 'programmatic_tool_calling' }] }] }, 'programmatic_tool_calling'],
    ['Responses shell in a container in an additional_tools item', '/v1/responses', { model: 'gpt-4o-mini', store: false, input: [...input, { type: 'additional_tools', role: 'developer', tools: [{ type: 'shell' }] }] }, 'shell'],
    ['chat web_search_options', '/v1/chat/completions', { model: 'gpt-4o-mini', messages: input, web_search_options: {} }, 'web_search_options'],
    // A stored prompt template may hold hosted tools the body does not show.
    ['a Responses stored prompt template', '/v1/responses', { model: 'gpt-4o-mini', store: false, prompt: { id: 'pmpt_1' } }, 'prompt'],
    // Priority processing bills above the configured (standard) rates.
    ['chat service_tier priority', '/v1/chat/completions', { model: 'gpt-4o-mini', messages: input, service_tier: 'priority' }, 'service_tier'],
    ['Responses service_tier priority', '/v1/responses', { model: 'gpt-4o-mini', store: false, input, service_tier: 'priority' }, 'service_tier'],
    // `fast` is priority under another name (the answer says `priority`); `ultrafast` an access-controlled tier above it; `scale` billed from Scale Tier units, not the configured rates.
    ['chat service_tier fast', '/v1/chat/completions', { model: 'gpt-4o-mini', messages: input, service_tier: 'fast' }, 'service_tier'],
    ['Responses service_tier fast', '/v1/responses', { model: 'gpt-4o-mini', store: false, input, service_tier: 'fast' }, 'service_tier'],
    ['Responses service_tier ultrafast', '/v1/responses', { model: 'gpt-4o-mini', store: false, input, service_tier: 'ultrafast' }, 'service_tier'],
    ['chat service_tier scale', '/v1/chat/completions', { model: 'gpt-4o-mini', messages: input, service_tier: 'scale' }, 'service_tier'],
    // OpenRouter's plugins: web search ($4 per 1,000 results, put into the prompt), PDF parsing by OCR (per page).
    ['chat OpenRouter plugins (web)', '/v1/chat/completions', { model: 'gpt-4o-mini', messages: input, plugins: [{ id: 'web', max_results: 5 }] }, 'plugins'],
  ];
  for (const [what, path, body, tool] of cases) {
    it(`${what} is refused with cost_unbounded before any node is called`, async () => {
      const { key } = await newKey({ limits: { dailyUsd: 1 } });
      const res = await callWithConfig(config(), path, { key, body: JSON.stringify(body) });
      expect(res.status).toBe(403);
      const { error } = await res.json<{ error: { code: string; param: string; message: string } }>();
      expect(error).toMatchObject({ code: 'cost_unbounded', param: ['web_search_options', 'prompt', 'service_tier', 'plugins'].includes(tool) ? tool : 'tools' });
      expect(error.message).toContain(tool === 'prompt' ? 'stored prompt template' : tool === 'service_tier' ? `service_tier '${String(body.service_tier)}'` : `'${tool}'`);
      for (const id of ['n-us', 'n-eu', 'n-ap']) expect(await nodeRequests(id)).toHaveLength(0);
    });
  }

  it('server-side tool search bills tokens only (it loads tools the request defers): served, holding the context window', async () => {
    const { key } = await newKey({ limits: { dailyUsd: 1_000 } });
    const tools = [{ type: 'tool_search', execution: 'server' }, { type: 'function', name: 'f', parameters: {}, defer_loading: true }];
    const res = await callWithConfig(config(), '/v1/responses', { key, body: JSON.stringify({ model: 'gpt-4o-mini', store: false, input, tools }) });
    expect(res.status, await res.clone().text()).toBe(200);
    await res.text();
  });

  it('the shell tool in the caller\'s own environment (local) bills tokens only: served (its definition, rendered by the node, holds the context window)', async () => {
    const { key } = await newKey({ limits: { dailyUsd: 1_000 } });
    const body = { model: 'gpt-4o-mini', store: false, input, tools: [{ type: 'shell', environment: { type: 'local' } }] };
    const res = await callWithConfig(config(), '/v1/responses', { key, body: JSON.stringify(body) });
    expect(res.status, await res.clone().text()).toBe(200);
    await res.text();
  });

  it('moderations on a model priced by tokens are refused with cost_unbounded (nothing bounds the usage such a node bills), and served to a key without a budget', async () => {
    const { key } = await newKey({ limits: { dailyUsd: 1 } });
    const res = await callWithConfig(config(), '/v1/moderations', { key, body: JSON.stringify({ model: 'gpt-4o-mini', input: 'x'.repeat(5_000) }) });
    expect(res.status).toBe(403);
    const { error } = await res.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe('cost_unbounded');
    expect(error.message).toContain('price.perRequest');
    for (const id of ['n-us', 'n-eu', 'n-ap']) expect(await nodeRequests(id)).toHaveLength(0);
    const free = await callWithConfig(config(), '/v1/moderations', { key: (await newKey()).key, body: JSON.stringify({ model: 'gpt-4o-mini', input: 'x' }) });
    expect(free.status, await free.text()).toBe(200);
  });

  // Claude's fast mode bills 6× the standard rates (12× past 200k input), US-only inference 1.1×: above what the worst case holds.
  const rateModes: [string, string, string, string][] = [
    ['speed', 'fast', 'standard', "speed 'fast'"],
    ['inference_geo', 'us', 'global', "inference_geo 'us'"],
  ];
  for (const [field, dearer, standard, named] of rateModes) {
    it(`Claude's ${field} "${dearer}" (billed above the standard rates) is refused with cost_unbounded on a priced model; "${standard}" passes`, async () => {
      const claude = config();
      claude.models['claude-solo'].price = { input: 1, output: 5 };
      const { key } = await newKey({ limits: { dailyUsd: 1 } });
      const headers = { 'x-api-key': key, 'anthropic-version': '2023-06-01' };
      const send = (value: string) =>
        callWithConfig(claude, '/v1/messages', { headers, body: JSON.stringify({ model: 'claude-solo', max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }], [field]: value }) });
      const refused = await send(dearer);
      expect(refused.status).toBe(403);
      const { error } = await refused.json<{ error: { type: string; message: string } }>();
      expect(error.type).toBe('permission_error');
      expect(error.message).toContain(named);
      expect(await nodeRequests('p-anth')).toHaveLength(0);
      const passed = await send(standard);
      expect(passed.status, await passed.text()).toBe(200);
    });
  }

  it('Claude\'s advisor tool (a stronger model reading the whole transcript, at its own rates, each call) is refused with cost_unbounded on a priced model', async () => {
    const claude = config();
    claude.models['claude-solo'].price = { input: 1, output: 5 };
    const { key } = await newKey({ limits: { dailyUsd: 1 } });
    const headers = { 'x-api-key': key, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'advisor-tool-2026-03-01' };
    const tools = [{ type: 'advisor_20260301', name: 'advisor', model: 'claude-opus-4-6', max_uses: 3 }];
    const res = await callWithConfig(claude, '/v1/messages', { headers, body: JSON.stringify({ model: 'claude-solo', max_tokens: 10, tools, messages: [{ role: 'user', content: 'Plan' }] }) });
    expect(res.status).toBe(403);
    const { error } = await res.json<{ error: { type: string; message: string } }>();
    expect(error.type).toBe('permission_error');
    expect(error.message).toContain("'advisor_20260301'");
    expect(await nodeRequests('p-anth')).toHaveLength(0);
  });

  it("Responses' reasoning.mode 'pro' (an execution mode that runs more compute than the configured rates price) is refused with cost_unbounded on a priced model; 'standard' passes", async () => {
    const { key } = await newKey({ limits: { dailyUsd: 1 } });
    const send = (reasoning: Record<string, unknown>) =>
      callWithConfig(config(), '/v1/responses', { key, body: JSON.stringify({ model: 'gpt-4o-mini', store: false, max_output_tokens: 10, input, reasoning }) });
    for (const reasoning of [{ mode: 'pro' }, { effort: 'high', mode: 'pro' }, { MODE: 'pro' }]) {
      const refused = await send(reasoning);
      expect(refused.status, JSON.stringify(reasoning)).toBe(403);
      const { error } = await refused.json<{ error: { code: string; param: string; message: string } }>();
      expect(error).toMatchObject({ code: 'cost_unbounded', param: 'reasoning' });
      expect(error.message).toContain("reasoning mode 'pro'");
    }
    for (const id of ['n-us', 'n-eu', 'n-ap']) expect(await nodeRequests(id)).toHaveLength(0);
    for (const reasoning of [{ mode: 'standard' }, { effort: 'low' }]) {
      const passed = await send(reasoning);
      expect(passed.status, await passed.text()).toBe(200);
    }
  });

  it('other service tiers bill at or below the standard rates: a budgeted key may ask for them', async () => {
    const { key } = await newKey({ limits: { dailyUsd: 1 } });
    for (const tier of ['auto', 'default', 'flex', null]) {
      const res = await callWithConfig(config(), '/v1/chat/completions', { key, body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 10, messages: input, service_tier: tier }) });
      expect(res.status, await res.text()).toBe(200);
    }
    // Messages' own tiers (`auto`, the default, and `standard_only`) pass too, as sent: Priority Tier is a capacity
    // commitment billed by its contract, not a surcharge per request, and `auto` is what Anthropic applies to a body without one.
    const claude = config();
    claude.models['claude-solo'].price = { input: 1, output: 5 };
    for (const tier of ['auto', 'standard_only']) {
      const body = JSON.stringify({ model: 'claude-solo', max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }], service_tier: tier });
      const res = await callWithConfig(claude, '/v1/messages', { headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' }, body });
      expect(res.status, await res.text()).toBe(200);
      expect((await nodeRequests('p-anth')).at(-1)!.body.service_tier).toBe(tier);
    }
  });

  it('function tools bill tokens only: a budgeted key may use them, and a key without a budget may use hosted tools', async () => {
    const { key } = await newKey({ limits: { dailyUsd: 1 } });
    const plain = await callWithConfig(config(), '/v1/responses', { key, body: JSON.stringify({ model: 'gpt-4o-mini', store: false, max_output_tokens: 10, input, tools: [{ type: 'function', name: 'f', parameters: {} }] }) });
    expect(plain.status, await plain.text()).toBe(200);
    const free = (await newKey()).key;
    const hosted = await callWithConfig(config(), '/v1/chat/completions', { key: free, body: JSON.stringify({ model: 'gpt-4o-mini', messages: input, web_search_options: {} }) });
    await hosted.text();
    expect(hosted.status).not.toBe(403);
  });
});
