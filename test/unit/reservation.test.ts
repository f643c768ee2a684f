import { describe, expect, it } from 'vitest';
import { parseConfig, type LoadedConfig } from '../../src/config/load';
import { RouterError } from '../../src/errors/router-error';
import { SPECIAL_TOKENS_PER_INPUT as SPECIAL, textTokens } from '../../src/limits/estimate';
import { promptTokens, requestUnits, reservedTokens, worstCostUsd } from '../../src/limits/reservation';
import type { Endpoint } from '../../src/openai/endpoints';
import { scanObject } from '../../src/http/json-members';
import { MAX_JSON_DEPTH, parseRequest } from '../../src/openai/requests';

const node = { id: 'a', baseUrl: 'https://a.test/v1', region: 'r', lat: 0, lon: 0, models: ['m', 'img', 'tts', 'small'] };
function load(models: Record<string, unknown> = {}, limits: Record<string, unknown> = {}): LoadedConfig {
  const r = parseConfig({ nodes: [node], models, limits });
  if (!r.ok) throw new Error(r.message);
  return r.config;
}
const parse = (endpoint: Endpoint, body: Record<string, unknown>) => parseRequest(endpoint, new TextEncoder().encode(JSON.stringify(body)));
async function tokens(config: LoadedConfig, endpoint: Endpoint, body: Record<string, unknown>, chain = [String(body.model)]) {
  const request = await parse(endpoint, body);
  return reservedTokens(config, request, chain, promptTokens(request, config, chain));
}

describe('reserved tokens', () => {
  const config = load();

  it('legacy completions: every prompt × max(n, best_of) × cap, plus the prompts', async () => {
    expect(await tokens(config, 'completions', { model: 'm', prompt: ['abcd', 'abcd', 'abcd'], n: 2, best_of: 3, max_tokens: 50 })).toBe(3 * (textTokens('abcd') + SPECIAL) + 3 * 3 * 50);
    expect(await tokens(config, 'completions', { model: 'm', prompt: [[1, 2, 3], [4, 5]], n: 4, max_tokens: 10 })).toBe(5 + 2 * SPECIAL + 2 * 4 * 10);
    expect(await tokens(config, 'completions', { model: 'm', prompt: [1, 2, 3], max_tokens: 10 })).toBe(3 + SPECIAL + 10); // one prompt of token ids
  });

  it('legacy completions: echo bills each prompt again in every choice', async () => {
    expect(await tokens(config, 'completions', { model: 'm', prompt: 'a'.repeat(400), n: 3, echo: true, max_tokens: 10 })).toBe(400 + SPECIAL + 3 * 10 + 3 * (400 + SPECIAL));
  });

  it('legacy completions without a cap: the 16-token default per choice', async () => {
    expect(await tokens(config, 'completions', { model: 'm', prompt: ['abcd', 'abcd'], best_of: 5 })).toBe(2 * (textTokens('abcd') + SPECIAL) + 2 * 5 * 16);
  });

  it('chat: (cap + predicted tokens) × n', async () => {
    const messages = [{ role: 'user', content: 'hi' }];
    const plain = await tokens(config, 'chat', { model: 'm', messages, max_tokens: 10, n: 3 });
    const predicted = await tokens(config, 'chat', { model: 'm', messages, max_tokens: 10, n: 3, prediction: { type: 'content', content: 'x'.repeat(400) } });
    expect(predicted - plain).toBeGreaterThanOrEqual(3 * 100);
    expect(await tokens(config, 'chat', { model: 'm', messages, max_tokens: 10, n: 2, best_of: 5 })).toBe(plain - 30 + 50);
  });

  it('Responses: cap × n, should an upstream honour n; a string input is a framed user message', async () => {
    const userMessage = 4 + textTokens('user') + textTokens('abcd') + 3; // framing, role, text, reply priming
    expect(await tokens(config, 'responses', { model: 'm', input: 'abcd', max_output_tokens: 20, n: 3 })).toBe(userMessage + 60);
  });

  it('Responses: instructions are a framed system message, reserved like chat\'s', async () => {
    const responses = await tokens(config, 'responses', { model: 'm', instructions: 'be brief', input: 'abcd', max_output_tokens: 20 });
    const chat = await tokens(config, 'chat', { model: 'm', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'abcd' }], max_tokens: 20 });
    expect(responses).toBe(chat);
  });

  it('prompt text reserves its UTF-8 bytes by default, 4 ASCII characters a token with promptTokens "estimate"', async () => {
    const dense = '1,'.repeat(1_000);
    expect(await tokens(config, 'embeddings', { model: 'm', input: dense })).toBe(2_000 + SPECIAL);
    expect(await tokens(load({}, { promptTokens: 'estimate' }), 'embeddings', { model: 'm', input: dense })).toBe(500);
    const image = { model: 'img', prompt: '東京', n: 1, size: '1024x1024', quality: 'low' };
    const gptImage = load({ img: { imageOutputTokens: 272 } });
    expect(await tokens(gptImage, 'images', image)).toBe(6 + 272);
  });

  it('refuses a chat cap of 0 (a node may read it as no cap); legacy completions may score a prompt with 0', async () => {
    await expect(parse('chat', { model: 'm', messages: [{ role: 'user', content: 'x' }], max_tokens: 0 })).rejects.toMatchObject({ status: 400, param: 'max_tokens' });
    await expect(parse('completions', { model: 'm', prompt: 'x', max_tokens: 0, echo: true })).resolves.toBeDefined();
  });

  it('a file part reserves the largest context window of the chain (default 128,000)', async () => {
    const body = { model: 'm', messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-1' } }] }], max_tokens: 10 };
    expect(await tokens(config, 'chat', body)).toBe(128_000 + 10);
    const sized = load({ m: { contextTokens: 8_000 }, small: { contextTokens: 4_000 } });
    expect(await tokens(sized, 'chat', body, ['m', 'small'])).toBe(8_000 + 10);
  });

  it('images at the dearest rate of the chain, by the node\'s name for the model too', async () => {
    const r = parseConfig({ nodes: [{ ...node, modelMap: { m: 'gpt-4o-mini' } }] });
    if (!r.ok) throw new Error(r.message);
    const body = { model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png', detail: 'low' } }] }], max_tokens: 1 };
    expect(await tokens(r.config, 'chat', body)).toBe(4 + textTokens('user') + 2_833 + 3 + 1);
  });

  it('chat-style endpoints add the chain\'s largest chat-template overhead (more with tools); completions and embeddings none', async () => {
    const r = parseConfig({
      nodes: [
        { ...node, id: 'llama', models: ['m'], promptOverheadTokens: 30, toolOverheadTokens: 150 },
        { ...node, id: 'qwen', models: ['m', 'small'], promptOverheadTokens: 40, toolOverheadTokens: 100 },
        { ...node, id: 'other', models: ['img'], promptOverheadTokens: 1_000, toolOverheadTokens: 1_000 },
      ],
    });
    if (!r.ok) throw new Error(r.message);
    const extra = async (endpoint: Endpoint, body: Record<string, unknown>, chain?: string[]) => (await tokens(r.config, endpoint, body, chain)) - (await tokens(config, endpoint, body, chain));
    const messages = [{ role: 'user', content: '1' }];
    const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }];
    expect(await extra('chat', { model: 'm', messages, max_tokens: 1 })).toBe(40); // the most of the nodes serving m; not 'other'
    expect(await extra('chat', { model: 'm', messages, tools, max_tokens: 1 })).toBe(180); // llama's 30 + 150 over qwen's 40 + 100
    expect(await extra('chat', { model: 'small', messages, max_tokens: 1 })).toBe(40);
    expect(await extra('responses', { model: 'm', input: '1', max_output_tokens: 1 })).toBe(40);
    expect(await extra('messages', { model: 'm', messages, max_tokens: 1 })).toBe(40);
    expect(await extra('chat', { model: 'small', messages, max_tokens: 1 }, ['small', 'img'])).toBe(1_000); // a fallback's node too
    expect(await extra('completions', { model: 'm', prompt: '1', max_tokens: 1 })).toBe(0);
    expect(await extra('embeddings', { model: 'm', input: '1' })).toBe(0);
  });
});

describe('worst-case cost', () => {
  const config = load({
    m: { price: { input: 1, output: 1_000 } },
    img: { price: { perImage: { '1024x1024': 0.04, '1792x1024': 0.08, 'hd/1024x1024': 0.08, 'hd/1792x1024': 0.12 } } },
    tts: { price: { perMillionChars: 15, perRequest: 0.001 } },
  });
  const worst = async (endpoint: Endpoint, body: Record<string, unknown>) => {
    const request = await parse(endpoint, body);
    const chain = [String(body.model)];
    return worstCostUsd(config, request, chain, promptTokens(request, config, chain));
  };

  it('images: n × the dearest per-image price consistent with the size and quality asked', async () => {
    expect(await worst('images', { model: 'img', prompt: 'x', n: 3, size: '1024x1024', quality: 'standard' })).toBeCloseTo(0.12, 12);
    expect(await worst('images', { model: 'img', prompt: 'x', size: '1024x1024' })).toBeCloseTo(0.08, 12); // quality left to the upstream: hd
    expect(await worst('images', { model: 'img', prompt: 'x', n: 2 })).toBeCloseTo(0.24, 12); // nothing asked: the dearest
  });

  it('tokens: the prompt at the dearest prompt rate, image input (imageInput) among them', async () => {
    const priced = load({ m: { price: { input: 1, imageInput: 8, output: 10 } } });
    const request = await parse('chat', { model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    const prompt = promptTokens(request, priced, ['m']);
    expect(worstCostUsd(priced, request, ['m'], prompt)).toBeCloseTo((prompt * 8 + 10 * 10) / 1e6, 12);
  });

  it('speech: characters × the per-character price, plus the flat price', async () => {
    expect(await worst('speech', { model: 'tts', input: 'é'.repeat(1_000), voice: 'alloy' })).toBeCloseTo(1_000 * 15e-6 + 0.001, 12);
  });

  it('a per-request endpoint on a model priced only by tokens cannot be bounded: 403 cost_unbounded', async () => {
    const err = await worst('images', { model: 'm', prompt: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RouterError);
    expect(err).toMatchObject({ status: 403, code: 'cost_unbounded' });
  });

  it('moderations on a model priced by tokens bill their usage, which nothing bounds: 403 cost_unbounded (was held at $0)', async () => {
    const err = await worst('moderations', { model: 'm', input: 'x'.repeat(10_000) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 403, code: 'cost_unbounded' });
    expect((err as Error).message).toContain('price.perRequest');
    // Priced per request instead: bounded by that price, whatever usage the node reports.
    const flat = load({ small: { price: { perRequest: 0.002 } } });
    expect(worstCostUsd(flat, await parse('moderations', { model: 'small', input: 'x' }), ['small'], 0)).toBeCloseTo(0.002, 12);
  });

  it('images on a token-priced model whose image output is bounded (imageOutputTokens): the prompt at the input rate + n × (image + partials) at the output rate', async () => {
    const priced = load({ small: { price: { input: 5, output: 40 }, imageOutputTokens: 4_160 } });
    const request = await parse('images', { model: 'small', prompt: 'a cat', n: 2, partial_images: 2 });
    const usd = worstCostUsd(priced, request, ['small'], promptTokens(request, priced, ['small']));
    expect(usd).toBeCloseTo((textTokens('a cat') * 5 + 2 * (4_160 + 2 * 100) * 40) / 1e6, 12);
  });

  it('legacy completions: the prompts and every best_of choice at the output price', async () => {
    expect(await worst('completions', { model: 'm', prompt: ['abcd', 'abcd'], best_of: 4, max_tokens: 10 })).toBeCloseTo((2 * (textTokens('abcd') + SPECIAL) * 1 + 2 * 4 * 10 * 1_000) / 1e6, 12);
  });

  it('a Claude node\'s prompt at its one-hour cache-write rate (2× input unless priced), the dearest a prompt token can bill there', async () => {
    const claude = (price: Record<string, number>) => {
      const r = parseConfig({ nodes: [{ ...node, provider: 'anthropic', models: ['c'] }], models: { c: { price } } });
      if (!r.ok) throw new Error(r.message);
      return r.config;
    };
    const body = { model: 'c', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };
    const request = await parse('messages', body);
    for (const [price, rate] of [[{ input: 3, cacheWrite: 3.75, output: 15 }, 6], [{ input: 3, cacheWrite: 3.75, cacheWrite1h: 7, output: 15 }, 7]] as const) {
      const config = claude(price);
      const prompt = promptTokens(request, config, ['c']);
      expect(worstCostUsd(config, request, ['c'], prompt)).toBeCloseTo((prompt * rate + 10 * 15) / 1e6, 12);
    }
  });

  it('a prompt bound past longContext.above reserves at the long-context rates; one under it at the base rates', async () => {
    const r = parseConfig({ nodes: [{ ...node, provider: 'anthropic', models: ['c'] }], models: { c: { price: { input: 3, output: 15, longContext: { above: 1_000, input: 6, output: 22.5 } } } } });
    if (!r.ok) throw new Error(r.message);
    for (const [text, input, output] of [['hi', 6, 15], ['x'.repeat(2_000), 12, 22.5]] as const) {
      const request = await parse('messages', { model: 'c', max_tokens: 10, messages: [{ role: 'user', content: text }] });
      const prompt = promptTokens(request, r.config, ['c']);
      // Claude's dearest prompt token is a one-hour cache write (2× input).
      expect(worstCostUsd(r.config, request, ['c'], prompt)).toBeCloseTo((prompt * input + 10 * output) / 1e6, 12);
    }
  });

  it('transcriptions: minutes the upload can hold at 6 kbit/s', async () => {
    const form = new FormData();
    form.append('model', 'm');
    form.append('file', new File([new Uint8Array(45_000)], 'a.ogg'));
    const res = new Response(form);
    const request = await parseRequest('transcriptions', new Uint8Array(await res.arrayBuffer()), res.headers.get('content-type')!);
    expect(requestUnits(request)).toEqual({ audioMinutes: 1 });
  });
});

describe('JSON depth', () => {
  const jsonDepth = (text: string) => {
    const r = scanObject(text);
    if (!r.ok) throw new Error('not scanned');
    return r.object.depth;
  };

  it('measures nesting outside strings, escaped quotes included', () => {
    expect(jsonDepth('{"a":[{"b":"[[[{{{"}]}')).toBe(3);
    expect(jsonDepth('{"a":"x\\"[[[","b":[1]}')).toBe(2);
    expect(jsonDepth('{"a":"x\\\\","b":[[1]]}')).toBe(3);
  });

  it(`refuses a body nested past ${MAX_JSON_DEPTH} levels with a 400, accepts one at the limit`, async () => {
    const nest = (levels: number) => `{"model":"m","input":${'['.repeat(levels - 1)}1${']'.repeat(levels - 1)}}`;
    await expect(parseRequest('embeddings', new TextEncoder().encode(nest(MAX_JSON_DEPTH + 1)))).rejects.toMatchObject({ status: 400, code: 'invalid_request' });
    await expect(parseRequest('moderations', new TextEncoder().encode(nest(MAX_JSON_DEPTH)))).resolves.toBeDefined();
  });
});

describe("OpenAI's prompt-cache lifetimes and spend budgets", () => {
  const priced = (price: object) => load({ m: { price } });
  const base = { input: 2, cacheWrite: 2.5, output: 8 };
  const responses = (extra: Record<string, unknown>) => parse('responses', { model: 'm', input: 'hi', max_output_tokens: 10, ...extra });
  const refusal = async (config: LoadedConfig, extra: Record<string, unknown>) => {
    try {
      worstCostUsd(config, await responses(extra), ['m'], 100);
      return undefined;
    } catch (e) {
      return e instanceof RouterError ? { status: e.status, code: e.code, param: e.param } : e;
    }
  };

  it('holds the prompt at cacheWrite12h when that is the dearest input rate', async () => {
    expect(worstCostUsd(priced({ ...base, cacheWrite12h: 5 }), await responses({}), ['m'], 100)).toBeCloseTo((100 * 5 + 10 * 8) / 1e6, 12);
  });

  it('refuses a lifetime past 30m the price does not cover, in any spelling and wherever it is asked', async () => {
    const refused = { status: 403, code: 'cost_unbounded', param: 'prompt_cache_options' };
    expect(await refusal(priced(base), { prompt_cache_options: { ttl: '12h' } })).toEqual(refused);
    expect(await refusal(priced(base), { PROMPT_CACHE_OPTIONS: { TTL: '12H' } })).toEqual(refused);
    expect(await refusal(priced(base), { input: [{ role: 'user', content: [{ type: 'input_text', text: 'x', prompt_cache_breakpoint: { mode: 'explicit', ttl: '12h' } }] }] })).toEqual(refused);
    // cacheWrite12h prices 12h, not a lifetime it does not name.
    expect(await refusal(priced({ ...base, cacheWrite12h: 5 }), { prompt_cache_options: { ttl: '7d' } })).toEqual(refused);
    expect(await refusal(priced({ ...base, cacheWrite12h: 5 }), { prompt_cache_options: { ttl: '12h' } })).toBeUndefined();
    expect(await refusal(priced(base), { prompt_cache_options: { ttl: '30m', mode: 'explicit' } })).toBeUndefined();
    // An unpriced model: nothing to bound.
    expect(await refusal(load(), { prompt_cache_options: { ttl: '12h' } })).toBeUndefined();
  });
});
