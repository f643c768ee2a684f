import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import { usageOf } from '../../src/forward/usage';
import { costOf, perImageUsd } from '../../src/usage/cost';

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

  it('charges the audio share of prompt and completion at the audio rates (gpt-4o-audio), the rest at the text rates', () => {
    const r = parseConfig({ nodes: [node('a')], models: { m: { price: { input: 2.5, cachedInput: 1.25, output: 10, audioInput: 40, audioOutput: 80 } } } });
    if (!r.ok) throw new Error(r.message);
    const usage = usageOf({
      usage: { prompt_tokens: 1_000, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 100, audio_tokens: 700 }, completion_tokens_details: { audio_tokens: 250, text_tokens: 50 } },
    });
    expect(usage).toMatchObject({ audio_prompt_tokens: 700, audio_completion_tokens: 250 });
    expect(costOf(r.config, 'm', 'a', usage)).toBeCloseTo((200 * 2.5 + 100 * 1.25 + 700 * 40 + 50 * 10 + 250 * 80) / 1e6, 12);
    // Without audio rates the audio share costs the text rates, as before.
    expect(costOf(config(), 'm', 'a', usage)).toBeCloseTo((900 * 2.5 + 100 * 1.25 + 300 * 10) / 1e6, 12);
  });

  it("charges OpenAI's 12-hour cache writes at cacheWrite12h (default cacheWrite), the 30-minute ones at cacheWrite", () => {
    const priced = (price: object) => {
      const r = parseConfig({ nodes: [node('a')], models: { m: { price } } });
      if (!r.ok) throw new Error(r.message);
      return r.config;
    };
    const usage = usageOf({
      usage: { input_tokens: 1_000, output_tokens: 100, input_tokens_details: { cached_tokens: 100, cache_write_tokens: 500, cache_write_tokens_details: { ttl_12h_tokens: 300, ttl_30m_tokens: 200 } } },
    });
    expect(usage).toMatchObject({ cached_tokens: 100, cache_write_tokens: 500, cache_write_12h_tokens: 300 });
    const base = { input: 2, cachedInput: 0.2, cacheWrite: 2.5, output: 8 };
    expect(costOf(priced({ ...base, cacheWrite12h: 4 }), 'm', 'a', usage)).toBeCloseTo((400 * 2 + 100 * 0.2 + 200 * 2.5 + 300 * 4 + 100 * 8) / 1e6, 12);
    expect(costOf(priced(base), 'm', 'a', usage)).toBeCloseTo((400 * 2 + 100 * 0.2 + 500 * 2.5 + 100 * 8) / 1e6, 12);
    // A 12-hour share past the writes counts as no more than the writes.
    expect(usageOf({ usage: { input_tokens: 1_000, output_tokens: 0, input_tokens_details: { cache_write_tokens: 50, cache_write_tokens_details: { ttl_12h_tokens: 900 } } } })?.cache_write_12h_tokens).toBe(50);
  });

  it("reads gpt-4o-transcribe's audio input share (input_token_details)", () => {
    expect(usageOf({ usage: { type: 'tokens', input_tokens: 120, output_tokens: 30, total_tokens: 150, input_token_details: { audio_tokens: 100, text_tokens: 20 } } })?.audio_prompt_tokens).toBe(100);
  });

  it('reads a negative or non-finite figure as no usage (the request stays at its reservation)', () => {
    expect(usageOf({ usage: { prompt_tokens: -1_000, completion_tokens: 3 } })).toBeUndefined();
    expect(usageOf({ usage: { prompt_tokens: 10, completion_tokens: -3 } })).toBeUndefined();
    expect(usageOf({ usage: { input_tokens: Infinity, output_tokens: 3 } })).toBeUndefined();
    expect(usageOf({ usage: { type: 'duration', seconds: Infinity } })).toBeUndefined();
    // A malformed total or cache share is ignored, not settled at.
    expect(usageOf({ usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: Infinity, prompt_tokens_details: { cached_tokens: -4 } } })).toEqual({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
  });

  it('reads the Responses API\'s cached input tokens too', () => {
    expect(usageOf({ response: { usage: { input_tokens: 10, output_tokens: 1, input_tokens_details: { cached_tokens: 4 } } } })?.cached_tokens).toBe(4);
  });

  it('settles output at what the total says beyond the prompt when the completion leaves out reasoning (xAI, Gemini)', () => {
    expect(usageOf({ usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 115 } })).toMatchObject({ completion_tokens: 105, total_tokens: 115 });
    expect(usageOf({ usage: { input_tokens: 10, output_tokens: 5, total_tokens: 40 } })?.completion_tokens).toBe(30);
    // A total at or under prompt + completion (OpenAI's, embeddings' prompt-only) changes nothing.
    expect(usageOf({ usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } })?.completion_tokens).toBe(5);
    expect(usageOf({ usage: { prompt_tokens: 10, total_tokens: 10 } })?.completion_tokens).toBe(0);
  });

  it('past longContext.above, every token of the request at the long-context rates; cache rates it leaves out move with input', () => {
    const r = parseConfig({ nodes: [node('a')], models: { m: { price: { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15, longContext: { above: 200_000, input: 6, output: 22.5 } } } } });
    if (!r.ok) throw new Error(r.message);
    const at = (prompt: number) => costOf(r.config, 'm', 'a', { prompt_tokens: prompt, completion_tokens: 100, total_tokens: prompt + 100, cached_tokens: 1_000, cache_write_tokens: 2_000 });
    // At the threshold: the base rates.
    expect(at(200_000)).toBeCloseTo((197_000 * 3 + 1_000 * 0.3 + 2_000 * 3.75 + 100 * 15) / 1e6, 12);
    // One past it, cache reads and writes counted in the prompt: all of it at the long rates (cache rates doubled with input).
    expect(at(200_001)).toBeCloseTo((197_001 * 6 + 1_000 * 0.6 + 2_000 * 7.5 + 100 * 22.5) / 1e6, 12);
  });

  it('longContext needs the base token rates', () => {
    const r = parseConfig({ nodes: [node('a')], models: { m: { price: { perRequest: 0.01, longContext: { above: 1, input: 1, output: 1 } } } } });
    expect(r.ok).toBe(false);
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

describe('per-request prices', () => {
  function priced(price: object) {
    const r = parseConfig({ nodes: [node('a')], models: { m: { price } } });
    if (!r.ok) throw new Error(r.message);
    return r.config;
  }
  const usage = { prompt_tokens: 10, completion_tokens: 4_160, total_tokens: 4_170 };

  it('images cost n × the per-image price, whatever tokens the upstream reports', () => {
    expect(costOf(priced({ input: 5, output: 40, perImage: 0.04 }), 'm', 'a', usage, { images: { n: 3 } })).toBeCloseTo(0.12, 12);
    expect(perImageUsd({ '1024x1024': 0.04, 'hd/1024x1024': 0.08 }, '1024x1024', 'standard')).toBe(0.04);
    expect(perImageUsd({ '1024x1024': 0.04, 'hd/1024x1024': 0.08 }, '1024x1024')).toBe(0.08);
    expect(perImageUsd({ '1024x1024': 0.04 }, '512x512')).toBe(0.04); // nothing fits: the dearest
  });

  it('a size or quality of auto leaves the choice to the node: every entry fits it, as an absent one', () => {
    const perImage = { standard: 0.04, '1024x1024': 0.04, '1536x1024': 0.063, 'high/1536x1024': 0.25 };
    // Before, `auto` fitted only entries that name no size (or no quality): 0.04 for what the node may draw at 0.25.
    expect(perImageUsd(perImage, 'auto')).toBe(0.25);
    expect(perImageUsd(perImage, 'auto', 'standard')).toBe(0.063);
    expect(perImageUsd(perImage, '1536x1024', 'auto')).toBe(0.25);
    expect(perImageUsd(perImage, 'auto', 'auto')).toBe(perImageUsd(perImage));
  });

  it('without a unit price, a per-request endpoint is priced by its token usage, as before', () => {
    expect(costOf(priced({ input: 5, output: 40 }), 'm', 'a', usage, { images: { n: 1 } })).toBeCloseTo((10 * 5 + 4_160 * 40) / 1e6, 12);
  });

  it('a flat perRequest adds to every request; alone it is the whole price', () => {
    expect(costOf(priced({ perRequest: 0.01 }), 'm', 'a', undefined)).toBe(0.01);
    expect(costOf(priced({ input: 1, output: 1, perRequest: 0.01 }), 'm', 'a', usage)).toBeCloseTo(0.01 + 4_170 / 1e6, 12);
    expect(costOf(priced({ input: 1, output: 1, perRequest: 0.01 }), 'm', 'a', undefined)).toBeNull(); // token cost unknown: held at worst
  });

  it('refuses half a token price and an empty price', () => {
    expect(parseConfig({ nodes: [node('a')], models: { m: { price: { input: 1 } } } }).ok).toBe(false);
    expect(parseConfig({ nodes: [node('a')], models: { m: { price: {} } } }).ok).toBe(false);
  });
});
