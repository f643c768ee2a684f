/**
 * Reservations bound what upstreams bill, against a caller who has read the code: legacy
 * completions' prompt arrays × `best_of` × cap (and `echo`), OpenAI's ranges for `n` and
 * `best_of`, file parts (no bound in the body: the context window), images at the model's
 * own rate, per-image prices under a spend budget, one member per cap after the rename,
 * one `model` per form, and a depth limit on JSON bodies.
 */
import { exports } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, call, callWithConfig, CF, chatBody, eventually, newKey, nodeRequests, resetWorld, setNode, testConfig } from './helpers';
import { SPECIAL_TOKENS_PER_INPUT } from '../../src/limits/estimate';

beforeEach(resetWorld);

const MINI_NODES = ['n-us', 'n-eu', 'n-ap'];
type ImageUsage = { input_tokens: number; output_tokens: number; total_tokens: number };
type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens: number };

describe('legacy completions: every prompt, every best_of choice, the echo', () => {
  it('ten best_of/n/prompt-array requests against tpm 3,000: the tokens the fleet billed stay within 3,000', async () => {
    // Nodes write as much as the cap lets them (an uncapped model), so every choice bills its cap.
    for (const id of MINI_NODES) await setNode(id, { completionTokens: 10_000 });
    const { key } = await newKey({ limits: { tpm: 3_000 } });
    const bodies = [
      { prompt: ['Hi', 'Hi', 'Hi'], n: 2, best_of: 3, max_tokens: 50 },
      { prompt: [[1, 2, 3], [4, 5]], best_of: 4, max_tokens: 50 },
      { prompt: 'Hi', n: 5, echo: true, max_tokens: 50 },
    ];
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => call('/v1/completions', { key, body: { model: 'gpt-4o-mini', ...bodies[i % bodies.length] } })),
    );
    const served = responses.filter((r) => r.status === 200);
    expect(served.length).toBeGreaterThan(0);
    expect(responses.every((r) => r.status === 200 || r.status === 429)).toBe(true);
    const billed = (await Promise.all(served.map(async (r) => (await r.json<{ usage: Usage }>()).usage.total_tokens))).reduce((a, b) => a + b, 0);
    expect(billed).toBeGreaterThan(0);
    expect(billed).toBeLessThanOrEqual(3_000);
    await Promise.all(responses.filter((r) => r.status !== 200).map((r) => r.text()));
  });

  it('refuses at once a request whose prompts × best_of × cap alone pass tpm', async () => {
    const { key } = await newKey({ limits: { tpm: 3_000 } });
    const res = await call('/v1/completions', { key, body: { model: 'gpt-4o-mini', prompt: Array(20).fill('Hi'), best_of: 20, max_tokens: 100 } });
    expect(res.status).toBe(429);
    expect(res.headers.get('x-should-retry')).toBe('false');
    // Each prompt at its UTF-8 bytes (the bound) and its special tokens, then 20 prompts × 20 choices × 100.
    const requested = 20 * ('Hi'.length + SPECIAL_TOKENS_PER_INPUT) + 20 * 20 * 100;
    const { error } = await res.json<{ error: { message: string } }>();
    expect(error.message).toMatch(/^Request too large /);
    expect(error.message).toContain(`Limit 3000, Requested ${requested}.`);
  });

  it('holds n and best_of to OpenAI\'s ranges, with a 400 naming the parameter', async () => {
    const { key } = await newKey();
    const cases: [string, Record<string, unknown>, string][] = [
      ['/v1/completions', { prompt: 'x', n: 129 }, 'n'],
      ['/v1/completions', { prompt: 'x', n: 0 }, 'n'],
      ['/v1/completions', { prompt: 'x', n: 1.5 }, 'n'],
      ['/v1/completions', { prompt: 'x', n: '2' }, 'n'],
      ['/v1/completions', { prompt: 'x', best_of: 21 }, 'best_of'],
      ['/v1/completions', { prompt: 'x', n: 3, best_of: 2 }, 'best_of'],
      ['/v1/completions', { prompt: 'x', echo: 'yes' }, 'echo'],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], n: 129 }, 'n'],
      ['/v1/images/generations', { prompt: 'a cat', n: 11 }, 'n'],
    ];
    for (const [path, body, param] of cases) {
      const res = await call(path, { key, body: { model: 'gpt-4o-mini', ...body } });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await res.json<{ error: { param: string; type: string } }>()).error).toMatchObject({ param, type: 'invalid_request_error' });
    }
    expect((await nodeRequests('n-us')).filter((r) => r.body !== null)).toHaveLength(0);
  });
});

describe('prompt parts the body cannot bound', () => {
  it('a file part reserves the model\'s context window: refused for a key whose tpm is smaller', async () => {
    const { key } = await newKey({ limits: { tpm: 100_000 } });
    const content = [{ type: 'text', text: 'Summarise' }, { type: 'file', file: { file_id: 'file-abc123' } }];
    const res = await call('/v1/chat/completions', { key, body: chatBody({ messages: [{ role: 'user', content }], max_tokens: 10 }) });
    expect(res.status).toBe(429);
    expect((await res.json<{ error: { message: string } }>()).error.message).toMatch(/Limit 100000, Requested 128\d{3}/);
  });

  it('…and is admitted where the configured window fits, held at that window until usage settles it', async () => {
    const config = testConfig();
    config.models['gpt-4o-mini'].contextTokens = 16_000;
    const { key } = await newKey({ limits: { tpm: 20_000 } });
    const content = [{ type: 'input_file', file_url: 'https://example.com/report.pdf' }];
    const res = await callWithConfig(config, '/v1/responses', { key, body: { model: 'gpt-4o-mini', input: [{ role: 'user', content }], max_output_tokens: 10 } });
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThanOrEqual(20_000 - 16_010);
  });

  it('a hosted tool (web_search) adds input no body holds: the context window, refused for a smaller tpm', async () => {
    const { key } = await newKey({ limits: { tpm: 100_000 } });
    const res = await call('/v1/responses', { key, body: { model: 'gpt-4o-mini', input: 'News today?', tools: [{ type: 'web_search' }], max_output_tokens: 100 } });
    expect(res.status).toBe(429);
    expect((await res.json<{ error: { message: string } }>()).error.message).toMatch(/Limit 100000, Requested 128\d{3}/);
  });

  // Responses input items that give the model tools (openai 7.x `additional_tools`, a `tool_search_output`'s loaded tools): a hosted one among them adds what it finds as a top-level one does.
  const toolItems: [string, Record<string, unknown>][] = [
    ['an additional_tools item', { type: 'additional_tools', role: 'developer', tools: [{ type: 'web_search' }] }],
    ['a tool_search_output item', { type: 'tool_search_output', execution: 'client', call_id: 'call_1', tools: [{ type: 'file_search', vector_store_ids: ['vs_1'] }] }],
  ];
  for (const [what, item] of toolItems) {
    it(`a hosted tool given in ${what} adds input no body holds: the context window, refused for a smaller tpm`, async () => {
      const { key } = await newKey({ limits: { tpm: 100_000 } });
      const input = [{ role: 'user', content: 'News today?' }, item];
      const res = await call('/v1/responses', { key, body: { model: 'gpt-4o-mini', input, max_output_tokens: 100 } });
      expect(res.status).toBe(429);
      expect((await res.json<{ error: { message: string } }>()).error.message).toMatch(/Limit 100000, Requested 128\d{3}/);
    });
  }

  it('a function tool given by an input item, and a configuration_update\'s JSON schema, are held whole, their property names too', async () => {
    const TPM = 1_000_000;
    const { key } = await newKey({ limits: { tpm: TPM } });
    const dense = '1,'.repeat(1_500); // a property name of ~3,000 tokens
    const schema = { type: 'object', properties: { [dense]: { type: 'string' } } };
    const input = [
      { role: 'user', content: 'Hi' },
      { type: 'additional_tools', role: 'developer', tools: [{ type: 'function', name: 'f', parameters: schema }] },
      { type: 'configuration_update', text: { format: { type: 'json_schema', name: 'answer', schema } } },
    ];
    const res = await call('/v1/responses', { key, body: { model: 'gpt-4o-mini', store: false, input, max_output_tokens: 10 } });
    expect(res.status, await res.clone().text()).toBe(200);
    const held = TPM - Number(res.headers.get('x-ratelimit-remaining-tokens'));
    const { usage } = await res.json<{ usage: { input_tokens: number; output_tokens: number } }>();
    expect(usage.input_tokens).toBeGreaterThan(2 * 3_000); // the fleet billed both schemas' property names
    expect(held).toBeGreaterThanOrEqual(usage.input_tokens + usage.output_tokens);
  });

  it('an item_reference names a stored output item the body does not hold: the context window, refused for a smaller tpm', async () => {
    const { key } = await newKey({ limits: { tpm: 100_000 } });
    const input = [{ type: 'item_reference', id: 'msg_0123456789abcdef' }, { role: 'user', content: 'Go on' }];
    const res = await call('/v1/responses', { key, body: { model: 'gpt-4o-mini', input, max_output_tokens: 100 } });
    expect(res.status).toBe(429);
    expect((await res.json<{ error: { message: string } }>()).error.message).toMatch(/Limit 100000, Requested 128\d{3}/);
  });

  it('chat\'s web_search_options adds what the search finds: the context window, refused for a smaller tpm', async () => {
    const { key } = await newKey({ limits: { tpm: 100_000 } });
    const res = await call('/v1/chat/completions', { key, body: chatBody({ web_search_options: {}, max_tokens: 100 }) });
    expect(res.status).toBe(429);
    expect((await res.json<{ error: { message: string } }>()).error.message).toMatch(/Limit 100000, Requested 128\d{3}/);
  });

  it('images cost gpt-4o-mini\'s own rate (2,833 + 5,667 a tile), not gpt-4o\'s', async () => {
    const { key } = await newKey({ limits: { tpm: 40_000 } });
    const content = [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }];
    const res = await call('/v1/chat/completions', { key, body: chatBody({ messages: [{ role: 'user', content }], max_tokens: 10 }) });
    expect(res.status).toBe(429);
    // The rule's maximum, 8 tiles: 2,833 + 8 × 5,667 = 48,169 (gpt-4o's rule would say 1,445).
    expect((await res.json<{ error: { message: string } }>()).error.message).toMatch(/Requested 481\d\d/);
  });
});

describe('image generations that bill tokens', () => {
  /** The fleet's nodes serve gpt-4o-mini under gpt-image-1's name, which bills (and reports) each image in tokens. */
  const gptImageConfig = () => {
    const config = testConfig();
    for (const node of config.nodes) if (MINI_NODES.includes(node.id)) node.modelMap = { 'gpt-4o-mini': 'gpt-image-1' };
    return config;
  };

  it('five high-quality gpt-image requests against tpm 5,000: the image tokens the fleet billed stay within 5,000', async () => {
    const config = gptImageConfig();
    const { key } = await newKey({ limits: { tpm: 5_000 } });
    const send = () => callWithConfig(config, '/v1/images/generations', { key, body: { model: 'gpt-4o-mini', prompt: 'a cat', size: '1024x1024', quality: 'high' } });
    const responses = await Promise.all(Array.from({ length: 5 }, send));
    const served = responses.filter((r) => r.status === 200);
    expect(served.length).toBeGreaterThan(0);
    expect(responses.every((r) => r.status === 200 || r.status === 429)).toBe(true);
    const billed = (await Promise.all(served.map(async (r) => (await r.json<{ usage: ImageUsage }>()).usage.total_tokens))).reduce((a, b) => a + b, 0);
    expect(billed).toBeGreaterThan(4_000); // 4,160 output tokens an image
    expect(billed).toBeLessThanOrEqual(5_000);
    await Promise.all(responses.filter((r) => r.status !== 200).map((r) => r.text()));
  });

  it('an image request whose n × per-image tokens alone pass tpm is refused at once, naming what it reserves', async () => {
    const { key } = await newKey({ limits: { tpm: 5_000 } });
    const res = await callWithConfig(gptImageConfig(), '/v1/images/generations', { key, body: { model: 'gpt-4o-mini', prompt: 'a cat', n: 2 } });
    expect(res.status).toBe(429);
    expect(res.headers.get('x-should-retry')).toBe('false');
    // Size and quality left to the upstream: the dearest, high at 1024×1536 (6,240 each), + the prompt's UTF-8 bytes.
    expect((await res.json<{ error: { message: string } }>()).error.message).toContain(`Limit 5000, Requested ${2 * 6_240 + 'a cat'.length}.`);
  });

  it('models.<id>.imageOutputTokens bounds an image model the router cannot tell by name', async () => {
    const config = testConfig();
    config.models['gpt-4o-mini'].imageOutputTokens = 3_000;
    const { key } = await newKey({ limits: { tpm: 5_000 } });
    const res = await callWithConfig(config, '/v1/images/generations', { key, body: { model: 'gpt-4o-mini', prompt: 'a cat', n: 2 } });
    expect(res.status).toBe(429);
    expect((await res.json<{ error: { message: string } }>()).error.message).toContain(`Requested ${2 * 3_000 + 'a cat'.length}.`);
  });
});

describe('budgets on endpoints charged per request', () => {
  const limiterUsage = async (id: string) => (await admin(`/keys/${id}/usage`)).json<{ spend: { dayUsd: number; heldUsd: number } }>();

  it('a burst of 8 image requests on a $0.50 daily budget spends at most $0.50, at the per-image price', async () => {
    const config = testConfig();
    config.models['gpt-4o-mini'].price = { input: 5, output: 40, perImage: { '1024x1024': 0.12, 'hd/1024x1024': 0.2 } };
    const { key, id } = await newKey({ limits: { dailyUsd: 0.5 } });
    const send = () => callWithConfig(config, '/v1/images/generations', { key, body: { model: 'gpt-4o-mini', prompt: 'a cat', size: '1024x1024', quality: 'standard' } });
    const responses = await Promise.all(Array.from({ length: 8 }, send));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(4); // 4 × $0.12 fit, a 5th does not
    const refused = responses.find((r) => r.status === 429)!;
    expect((await refused.json<{ error: { code: string } }>()).error.code).toBe('insufficient_quota');
    await Promise.all(responses.filter((r) => r !== refused).map((r) => r.text()));
    const { spend } = await eventually(() => limiterUsage(id), (u) => u.spend.heldUsd === 0 && u.spend.dayUsd > 0);
    expect(spend.dayUsd).toBeCloseTo(0.48, 9); // settled at n × the per-image price, not the fleet's token usage
  });

  it('gpt-image priced only by tokens: a budgeted key is held at n × the per-image tokens at the output rate, and settles at the usage billed', async () => {
    const config = testConfig();
    for (const node of config.nodes) if (MINI_NODES.includes(node.id)) node.modelMap = { 'gpt-4o-mini': 'gpt-image-1' };
    config.models['gpt-4o-mini'].price = { input: 5, output: 40 };
    const { key, id } = await newKey({ limits: { dailyUsd: 0.5 } });
    // high at 1024×1024: 4,160 output tokens at $40/M = $0.1664 a request (+ the prompt): three fit in $0.50, a fourth does not.
    const send = () => callWithConfig(config, '/v1/images/generations', { key, body: { model: 'gpt-4o-mini', prompt: 'a cat', size: '1024x1024', quality: 'high' } });
    const responses = await Promise.all(Array.from({ length: 6 }, send));
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 200, 429, 429, 429]);
    const served = responses.filter((r) => r.status === 200);
    const usages = await Promise.all(served.map(async (r) => (await r.json<{ usage: ImageUsage }>()).usage));
    await Promise.all(responses.filter((r) => r.status !== 200).map((r) => r.text()));
    const billed = usages.reduce((sum, u) => sum + (u.input_tokens * 5 + u.output_tokens * 40) / 1e6, 0);
    const { spend } = await eventually(() => limiterUsage(id), (u) => u.spend.heldUsd === 0 && u.spend.dayUsd > 0);
    expect(spend.dayUsd).toBeCloseTo(billed, 9); // the tokens billed, not the hold
    expect(spend.dayUsd).toBeLessThanOrEqual(0.5);
  });

  it('an image model priced only by tokens that the router cannot bound (no gpt-image name, no imageOutputTokens): refused for a budgeted key, served for others', async () => {
    const config = testConfig();
    config.models['gpt-4o-mini'].price = { input: 5, output: 200 };
    const budgeted = await newKey({ limits: { dailyUsd: 0.5 } });
    const res = await callWithConfig(config, '/v1/images/generations', { key: budgeted.key, body: { model: 'gpt-4o-mini', prompt: 'a cat' } });
    expect(res.status).toBe(403);
    const { error } = await res.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe('cost_unbounded');
    expect(error.message).toContain('price.perImage');
    const free = await newKey();
    expect((await callWithConfig(config, '/v1/images/generations', { key: free.key, body: { model: 'gpt-4o-mini', prompt: 'a cat' } })).status).toBe(200);
  });

  it('speech is held at its characters × the per-character price', async () => {
    const config = testConfig();
    config.models['gpt-4o-mini'].price = { perMillionChars: 15_000 }; // $0.015 a character
    const { key } = await newKey({ limits: { dailyUsd: 0.5 } });
    const say = (chars: number) => callWithConfig(config, '/v1/audio/speech', { key, body: { model: 'gpt-4o-mini', input: 'x'.repeat(chars), voice: 'alloy' } });
    const [small, large] = await Promise.all([say(10), say(40)]); // $0.15 fits; $0.60 alone does not
    expect(small.status).toBe(200);
    expect(large.status).toBe(429);
    await Promise.all([small.arrayBuffer(), large.text()]);
  });

  it('speech instructions count as characters too (gpt-4o-mini-tts reads them as input)', async () => {
    const config = testConfig();
    config.models['gpt-4o-mini'].price = { perMillionChars: 15_000 }; // $0.015 a character
    const { key } = await newKey({ limits: { dailyUsd: 0.5 } });
    // 2 characters to say, 40 of instructions: $0.63, past the budget alone.
    const res = await callWithConfig(config, '/v1/audio/speech', { key, body: { model: 'gpt-4o-mini', input: 'hi', instructions: 'x'.repeat(40), voice: 'alloy' } });
    expect(res.status).toBe(429);
    await res.text();
  });
});

describe('one meaning per body', () => {
  it('a null max_tokens beside max_completion_tokens reaches the node with max_tokens once', async () => {
    const { key } = await newKey();
    const res = await call('/v1/chat/completions', { key, body: '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"max_tokens":null,"max_completion_tokens":5}' });
    expect(res.status).toBe(200);
    const [sent] = (await nodeRequests('n-us')).filter((r) => r.body !== null);
    expect(sent!.raw.match(/"max_tokens"/g)).toHaveLength(1);
    expect(sent!.body.max_tokens).toBe(5);
  });

  it('a form with model given twice is a 400, never forwarded', async () => {
    const { key } = await newKey();
    const form = new FormData();
    form.append('model', 'gpt-4o-mini');
    form.append('model', 'solo-model');
    form.append('file', new File([new Uint8Array(100)], 'a.mp3', { type: 'audio/mpeg' }));
    const res = await exports.default.fetch(
      new Request('https://router.test/v1/audio/transcriptions', { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form, cf: CF.iad } as RequestInit),
    );
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { code: string; param: string } }>()).error).toMatchObject({ code: 'duplicate_key', param: 'model' });
    for (const id of [...MINI_NODES, 'n-solo']) expect(await nodeRequests(id)).toHaveLength(0);
  });

  it('a parameter spelt in another case (read by Go nodes, which fold case) is a 400, never forwarded', async () => {
    const { key } = await newKey({ limits: { tpm: 10_000 } });
    const head = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"max_tokens":10';
    const cases: [string, string, string][] = [
      [`${head},"MAX_TOKENS":100000}`, 'duplicate_key', 'MAX_TOKENS'], // Go: the last one wins
      [`${head},"Max_Completion_Tokens":100000}`, 'invalid_request', 'Max_Completion_Tokens'], // the rename would put max_completion_tokens before it
      [`${head},"N":100}`, 'invalid_request', 'N'],
      [`${head},"\u017ftream":true}`, 'invalid_request', '\u017ftream'], // long s folds to s
      ['{"model":"gpt-4o-mini","messages":[{"role":"user","content":[{"type":"text","text":"Hi","TYPE":"input_file"}]}]}', 'duplicate_key', 'messages[0].content[0].TYPE'],
    ];
    for (const [body, code, param] of cases) {
      const res = await call('/v1/chat/completions', { key, body });
      expect(res.status, body).toBe(400);
      expect((await res.json<{ error: { code: string; param: string } }>()).error, body).toMatchObject({ code, param: JSON.parse(`"${param}"`) });
    }
    for (const id of MINI_NODES) expect(await nodeRequests(id)).toHaveLength(0);
  });

  it('JSON nested 200,000 deep is a 400 invalid_request for a key with limits, not a 500', async () => {
    const config = testConfig();
    config.limits.maxBodyBytes = 1_048_576;
    const { key } = await newKey({ limits: { tpm: 100_000 } });
    const deep = `${'['.repeat(200_000)}"x"${']'.repeat(200_000)}`;
    const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":${deep}}]}`;
    const res = await callWithConfig(config, '/v1/chat/completions', { key, body });
    expect(res.status).toBe(400);
    const { error } = await res.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain('64 levels');
  });
});
