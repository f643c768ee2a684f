import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import { usageOf } from '../../src/forward/usage';
import { costOf } from '../../src/usage/cost';

const node = (id: string, extra: object = {}) => ({ id, baseUrl: `https://${id}.example/v1`, region: id, lat: 0, lon: 0, models: ['m', 'free'], ...extra });

function config() {
  const r = parseConfig({
    nodes: [node('a'), node('b', { prices: { m: { input: 1, output: 2 } } })],
    models: { m: { price: { input: 2.5, cachedInput: 1.25, output: 10 } } },
  });
  if (!r.ok) throw new Error(r.message);
  return r.config;
}

describe('cost', () => {
  it('charges cached prompt tokens at the cached price, the rest at input, completion at output', () => {
    const usage = usageOf({ usage: { prompt_tokens: 1_000, completion_tokens: 100, prompt_tokens_details: { cached_tokens: 400 } } });
    expect(usage?.cached_tokens).toBe(400);
    expect(costOf(config(), 'm', 'a', usage)).toBeCloseTo((600 * 2.5 + 400 * 1.25 + 100 * 10) / 1e6, 12);
  });

  it('reads the Responses API\'s cached input tokens too', () => {
    expect(usageOf({ response: { usage: { input_tokens: 10, output_tokens: 1, input_tokens_details: { cached_tokens: 4 } } } })?.cached_tokens).toBe(4);
  });

  it('takes a node\'s own price over the model\'s; cached tokens at input when it names no cached price', () => {
    const usage = { prompt_tokens: 1_000, completion_tokens: 100, total_tokens: 1_100, cached_tokens: 400 };
    expect(costOf(config(), 'm', 'b', usage)).toBeCloseTo((1_000 * 1 + 100 * 2) / 1e6, 12);
  });

  it('is null with no price or no usage: never a guess', () => {
    expect(costOf(config(), 'free', 'a', { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 })).toBeNull();
    expect(costOf(config(), 'm', 'a', undefined)).toBeNull();
  });

  it('refuses a node price for a model the node does not serve', () => {
    const r = parseConfig({ nodes: [node('a', { prices: { other: { input: 1, output: 1 } } })] });
    expect(r.ok).toBe(false);
  });
});
