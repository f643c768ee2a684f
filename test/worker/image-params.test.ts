/**
 * The images endpoint's newer parameters, as the OpenAI SDK sends them, against keys with
 * limits (README "Token estimates", "Spend budgets"): gpt-image-2's free sizes bill in
 * proportion to their pixels, a GIF bills each frame, gpt-image-2.5's `xhigh`/`max` and SVG
 * output (a second model's tokens) have no bound the router knows — refused to keys with
 * limits, served to others — and a `perImage` table with no entry for what is asked bounds
 * nothing. The fleet bills as OpenAI does (`test/fleet/endpoints.ts`).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { callWithConfig, newKey, nodeRequests, resetWorld, testConfig } from './helpers';

beforeEach(resetWorld);

const MINI_NODES = ['n-us', 'n-eu', 'n-ap'];
type ImageUsage = { input_tokens: number; output_tokens: number; total_tokens: number };

/** gpt-4o-mini served as `image` by the mini nodes (gpt-image-2.5-flare, say), priced by tokens unless `price` says otherwise. */
function imageConfig(image = 'gpt-image-2', price?: Record<string, unknown>) {
  const config = testConfig();
  for (const node of config.nodes) if (MINI_NODES.includes(node.id)) node.modelMap = { 'gpt-4o-mini': image };
  if (price) config.models['gpt-4o-mini'].price = price;
  return config;
}

const generate = (config: object, key: string, body: Record<string, unknown>) =>
  callWithConfig(config, '/v1/images/generations', { key, body: { model: 'gpt-4o-mini', prompt: 'a cat', ...body } });

const sent = async () => (await Promise.all(MINI_NODES.map(nodeRequests))).flat().filter((r) => r.path === '/v1/images/generations').length;

describe('sizes and frames: what the fleet bills stays within tpm', () => {
  it('a 3840×2160 high image is held at its pixels: refused whole against tpm 20,000 (it bills ~33,000), where the table\'s dearest entry (6,240) would have let it through', async () => {
    const config = imageConfig();
    const { key } = await newKey({ limits: { tpm: 20_000 } });
    const res = await generate(config, key, { size: '3840x2160', quality: 'high' });
    expect(res.status).toBe(429);
    expect((await res.json<{ error: { message: string } }>()).error.message).toMatch(/^Request too large /);
    expect(await sent()).toBe(0);
    // The same key, an image the table knows: served, and its bill fits the window.
    const small = await generate(config, key, { size: '1024x1024', quality: 'high' });
    expect(small.status).toBe(200);
    expect((await small.json<{ usage: ImageUsage }>()).usage.total_tokens).toBeLessThanOrEqual(20_000);
  });

  it('a burst of 2048×1152 images (a free size, 9,360 tokens each) against tpm 20,000: the tokens billed stay within 20,000', async () => {
    const config = imageConfig();
    const { key } = await newKey({ limits: { tpm: 20_000 } });
    const responses = await Promise.all(Array.from({ length: 6 }, () => generate(config, key, { size: '2048x1152', quality: 'high' })));
    expect(responses.every((r) => r.status === 200 || r.status === 429)).toBe(true);
    const served = responses.filter((r) => r.status === 200);
    expect(served.length).toBeGreaterThan(0);
    const billed = (await Promise.all(served.map(async (r) => (await r.json<{ usage: ImageUsage }>()).usage.total_tokens))).reduce((a, b) => a + b, 0);
    await Promise.all(responses.filter((r) => r.status !== 200).map((r) => r.text()));
    expect(billed).toBeLessThanOrEqual(20_000);
  });

  it('a GIF bills each frame: 9 by default — refused whole against tpm 5,000, where one still image fits', async () => {
    const config = imageConfig();
    const { key } = await newKey({ limits: { tpm: 5_000 } });
    const gif = await generate(config, key, { size: '1024x1024', quality: 'medium', output_format: 'gif' });
    expect(gif.status).toBe(429); // 9 × 1,056
    await gif.text();
    const few = await generate(config, key, { size: '1024x1024', quality: 'medium', output_format: 'gif', frame_count: 4 });
    expect(few.status).toBe(200); // 4 × 1,056
    expect((await few.json<{ usage: ImageUsage }>()).usage.output_tokens).toBe(4 * 1_056);
  });

  it('a GIF under a per-image price is held and charged per frame', async () => {
    const config = imageConfig('gpt-image-2', { perImage: 0.04 });
    const { key } = await newKey({ limits: { dailyUsd: 0.3 } });
    const gif = await generate(config, key, { size: '1024x1024', output_format: 'gif' }); // 9 × $0.04 = $0.36
    expect(gif.status).toBe(429);
    expect((await gif.json<{ error: { code: string } }>()).error.code).toBe('insufficient_quota');
    expect(await sent()).toBe(0);
  });

  it('holds frame_count to OpenAI\'s 2–16 and size to WIDTHxHEIGHT, with a 400 naming the parameter', async () => {
    const { key } = await newKey();
    for (const [body, param] of [
      [{ output_format: 'gif', frame_count: 17 }, 'frame_count'],
      [{ output_format: 'gif', frame_count: '16' }, 'frame_count'],
      [{ output_format: 'gif', frame_count: 1.5 }, 'frame_count'],
      [{ size: 'huge' }, 'size'],
      [{ size: '1024x1024 ' }, 'size'],
    ] as const) {
      const res = await generate(imageConfig(), key, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await res.json<{ error: { param: string } }>()).error.param).toBe(param);
    }
    expect(await sent()).toBe(0);
  });
});

describe('what has no bound: refused to keys with limits, served to others', () => {
  it('gpt-image-2.5\'s max quality: 403 tokens_unbounded for a tpm key, cost_unbounded for a budgeted one, nothing sent; served without limits', async () => {
    const config = imageConfig('gpt-image-2.5-flare', { input: 5, output: 40 });
    const tpm = await newKey({ limits: { tpm: 1_000_000 } });
    const budget = await newKey({ limits: { dailyUsd: 100 } });
    const byTpm = await generate(config, tpm.key, { quality: 'max', size: '1024x1024' });
    expect(byTpm.status).toBe(403);
    expect((await byTpm.json<{ error: { code: string; param: string } }>()).error).toMatchObject({ code: 'tokens_unbounded', param: 'quality' });
    const byBudget = await generate(config, budget.key, { quality: 'xhigh' });
    expect(byBudget.status).toBe(403);
    expect((await byBudget.json<{ error: { code: string; param: string; message: string } }>()).error).toMatchObject({ code: 'cost_unbounded', param: 'quality' });
    expect(await sent()).toBe(0);
    const free = await newKey();
    expect((await generate(config, free.key, { quality: 'max', size: '1024x1024' })).status).toBe(200);
  });

  it('models.<id>.imageOutputTokens is the operator\'s bound where the table has none: max quality then held at it', async () => {
    const config = imageConfig('gpt-image-2.5-flare');
    config.models['gpt-4o-mini'].imageOutputTokens = 20_000;
    const { key } = await newKey({ limits: { tpm: 30_000 } });
    const res = await generate(config, key, { quality: 'max', size: '1024x1024' });
    expect(res.status).toBe(200);
    expect((await res.json<{ usage: ImageUsage }>()).usage.output_tokens).toBeLessThanOrEqual(20_000);
  });

  it('SVG output (a second model\'s tokens, svg_usage): refused to keys with tpm or a budget, served without limits', async () => {
    const config = imageConfig('gpt-image-2', { perImage: 0.04 });
    for (const [limits, code] of [
      [{ tpm: 1_000_000 }, 'tokens_unbounded'],
      [{ dailyUsd: 100 }, 'cost_unbounded'],
    ] as const) {
      const { key } = await newKey({ limits });
      for (const body of [{ output_format: 'svg' }, { svg: { model: 'gpt-5' } }]) {
        const res = await generate(config, key, body);
        expect(res.status, JSON.stringify({ limits, body })).toBe(403);
        expect((await res.json<{ error: { code: string; param: string } }>()).error).toMatchObject({ code, param: 'svg' });
      }
    }
    expect(await sent()).toBe(0);
    expect(await sent()).toBe(0);
    // A key whose limits count requests, not tokens or spend, has nothing to bound: served.
    const rpm = await newKey({ limits: { rpm: 100 } });
    const counted = await generate(config, rpm.key, { output_format: 'svg' });
    expect(counted.status, await counted.clone().text()).toBe(200);
    await counted.text();
    const free = await newKey();
    const res = await generate(config, free.key, { output_format: 'svg', svg: { model: 'gpt-5' } });
    expect(res.status).toBe(200);
    expect((await res.json<{ svg_usage: { model: string } }>()).svg_usage.model).toBe('gpt-5');
  });

  it('a perImage table with no entry for the size or quality asked bounds nothing: refused to a budgeted key', async () => {
    const config = imageConfig('gpt-image-2', { perImage: { 'low/1024x1024': 0.01, 'high/1024x1024': 0.17 } });
    const { key } = await newKey({ limits: { dailyUsd: 100 } });
    const big = await generate(config, key, { size: '3840x2160', quality: 'high' });
    expect(big.status).toBe(403);
    expect((await big.json<{ error: { code: string; param: string } }>()).error).toMatchObject({ code: 'cost_unbounded', param: 'size' });
    const max = await generate(imageConfig('gpt-image-2.5-flare', { perImage: { 'high/1024x1024': 0.17 } }), key, { size: '1024x1024', quality: 'max' });
    expect(max.status).toBe(403);
    expect((await max.json<{ error: { param: string } }>()).error.param).toBe('quality');
    expect(await sent()).toBe(0);
    // What the table names is served.
    expect((await generate(config, key, { size: '1024x1024', quality: 'low' })).status).toBe(200);
  });
});
