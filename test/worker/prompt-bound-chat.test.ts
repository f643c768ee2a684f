/**
 * The prompt bound end to end on the generating endpoints: chat, legacy completions,
 * Responses and Messages. The fleet bills their prompts as strictly as the real providers
 * (`test/fleet/tokens.ts`: dense digit/punctuation runs a token a character, rare CJK and
 * emoji at their bytes, OpenAI's and Anthropic's framing, tool definitions, Anthropic's
 * tool-use system prompt, tool inputs as JSON). For dense bodies of every shape — several
 * messages, names, tools and tool calls, prompt arrays with `n`/`best_of`/`echo`, Responses
 * items and instructions, Messages tool turns — what the fleet billed never exceeds what the
 * router reserved, and a burst of them against a key's `tpm` bills within it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { billed, burst as burstOf, headersFor, reservation, type Burst } from './bound-helpers';
import { call, newKey, resetWorld, setNode, testConfig } from './helpers';

beforeEach(resetWorld);

/** 600 bytes each, and as many tokens upstream: what the old 4-characters-a-token estimate reserved a quarter of. */
const DIGITS = '1,'.repeat(300);
const PUNCT = '!?'.repeat(300);
const CJK = '鬱龘'.repeat(100);
const EMOJI = '👩‍👩‍👧‍👦'.repeat(24);
const NODES = ['n-us', 'n-eu', 'n-ap', 'p-anth'];

interface Case {
  name: string;
  path: string;
  body: Record<string, unknown>;
}

/** Base64 of a PNG that says it is `width`×`height` (signature and IHDR, then `filler` zero bytes): tiny or large in bytes, as wanted. */
function pngBase64(width: number, height: number, filler = 16): string {
  const b = new Uint8Array(24 + filler);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  new DataView(b.buffer).setUint32(16, width);
  new DataView(b.buffer).setUint32(20, height);
  let bin = '';
  for (const byte of b) bin += String.fromCharCode(byte);
  return btoa(bin);
}

const denseTool = { type: 'function', function: { name: 'f1', description: DIGITS, parameters: { type: 'object', properties: { '1,1,1': { type: 'string', description: PUNCT }, 'a2': { type: 'number', enum: [1, 2, 3] } } } } };
/** A JSON schema of dense property names and descriptions, as a structured output carries it. */
const denseSchema = { type: 'object', properties: { [DIGITS]: { type: 'string', description: PUNCT } }, required: [DIGITS], additionalProperties: false };
const chat = (extra: Record<string, unknown>) => ({ model: 'gpt-4o-mini', max_tokens: 5, ...extra });

const CASES: Case[] = [
  {
    name: 'chat: several messages with names, dense content of every kind',
    path: '/v1/chat/completions',
    body: chat({
      messages: [
        { role: 'system', content: PUNCT, name: 's' },
        { role: 'user', name: 'a', content: DIGITS },
        { role: 'assistant', name: 'b', content: CJK },
        { role: 'user', content: [{ type: 'text', text: EMOJI }, { type: 'text', text: DIGITS }] },
      ],
    }),
  },
  { name: 'chat: 300 one-character messages (framing is most of the bill)', path: '/v1/chat/completions', body: chat({ messages: Array.from({ length: 300 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: '1', name: 'n' })) }) },
  {
    name: 'chat: dense tools, a tool call and its answer, n = 3',
    path: '/v1/chat/completions',
    body: chat({
      n: 3,
      tools: [denseTool, { type: 'function', function: { name: 'f2', parameters: { type: 'object', properties: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`${i}`, { type: 'integer' }])) } } }],
      messages: [
        { role: 'user', content: DIGITS },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f1', arguments: JSON.stringify({ '1,1,1': PUNCT }) } }] },
        { role: 'tool', tool_call_id: 'c1', content: EMOJI },
      ],
      response_format: { type: 'json_schema', json_schema: { name: 'r', schema: { type: 'object', properties: { [DIGITS]: { type: 'string' } } } } },
    }),
  },
  { name: 'completions: a dense prompt array, n = 2, best_of = 3, echo', path: '/v1/completions', body: { model: 'gpt-4o-mini', max_tokens: 5, prompt: [DIGITS, PUNCT, CJK, EMOJI], n: 2, best_of: 3, echo: true } },
  { name: 'completions: many one-character prompts and a dense suffix', path: '/v1/completions', body: { model: 'gpt-4o-mini', max_tokens: 5, prompt: Array.from({ length: 100 }, () => '1'), suffix: PUNCT } },
  {
    name: 'responses: dense instructions, input items and a function call, flat tools',
    path: '/v1/responses',
    body: {
      model: 'gpt-4o-mini',
      max_output_tokens: 16,
      store: false,
      instructions: PUNCT,
      tools: [{ type: 'function', name: 'f1', description: DIGITS, parameters: denseTool.function.parameters }],
      input: [
        { role: 'user', content: [{ type: 'input_text', text: DIGITS }] },
        { type: 'function_call', call_id: 'c1', name: 'f1', arguments: JSON.stringify({ '1,1,1': CJK }) },
        { type: 'function_call_output', call_id: 'c1', output: EMOJI },
        ...Array.from({ length: 50 }, () => ({ role: 'user', content: '1' })),
      ],
    },
  },
  { name: 'responses: a string input of rare CJK and emoji', path: '/v1/responses', body: { model: 'gpt-4o-mini', max_output_tokens: 16, store: false, input: CJK + EMOJI } },
  {
    name: 'messages: a dense system prompt, a tool turn whose input has dense keys and numbers',
    path: '/v1/messages',
    body: {
      model: 'claude-solo',
      max_tokens: 5,
      system: [{ type: 'text', text: PUNCT }],
      tools: [{ name: 'f1', description: DIGITS, input_schema: { type: 'object' } }], // a client tool as the SDKs send it: no type
      messages: [
        { role: 'user', content: DIGITS },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f1', input: Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`${i},${i}`, 1_000_000 + i])) }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: CJK }, { type: 'text', text: EMOJI }] },
      ],
    },
  },
  {
    name: 'messages: images of many pixels in few bytes, by base64 and by URL (Claude bills up to 1,600 each)',
    path: '/v1/messages',
    body: {
      model: 'claude-solo',
      max_tokens: 5,
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: pngBase64(1092, 1092) } }, { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } }, { type: 'text', text: '1' }] }],
    },
  },
  {
    name: 'messages: a dense JSON output schema (output_config.format), its explanatory system prompt billed',
    path: '/v1/messages',
    body: { model: 'claude-solo', max_tokens: 5, output_config: { format: { type: 'json_schema', schema: denseSchema } }, messages: [{ role: 'user', content: '1' }] },
  },
  {
    name: 'messages: a dense JSON output schema in the beta spelling (output_format)',
    path: '/v1/messages',
    body: { model: 'claude-solo', max_tokens: 5, output_format: { type: 'json_schema', schema: denseSchema }, messages: [{ role: 'user', content: '1' }] },
  },
  { name: 'messages: one small custom tool, forced (the tool-use system prompt is most of the bill)', path: '/v1/messages', body: { model: 'claude-solo', max_tokens: 5, tool_choice: { type: 'any' }, tools: [{ type: 'custom', name: 'f', input_schema: { type: 'object' } }], messages: [{ role: 'user', content: '1' }] } },
  { name: 'chat to an Anthropic node: one small tool (translated; the tool-use system prompt billed)', path: '/v1/chat/completions', body: { model: 'claude-solo', max_tokens: 5, tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }], messages: [{ role: 'user', content: '1' }] } },
  {
    name: 'responses: computer-use screenshots by URL and by file id (each billed as an image)',
    path: '/v1/responses',
    body: {
      model: 'gpt-4o-mini',
      max_output_tokens: 16,
      store: false,
      // The outputs alone (the calls they answer are stored upstream, as with previous_response_id): a few bytes each.
      input: Array.from({ length: 20 }, (_, i) => ({ type: 'computer_call_output', call_id: `c${i}`, output: i % 2 ? { type: 'computer_screenshot', file_id: `f${i}` } : { type: 'computer_screenshot', image_url: 'https://x.co/s' } })),
    },
  },
  {
    name: 'chat: a video and an audio file by URL (vLLM multimodal parts: frames and seconds the body does not hold)',
    path: '/v1/chat/completions',
    body: chat({ messages: [{ role: 'user', content: [{ type: 'video_url', video_url: { url: 'https://x.co/v.mp4' } }, { type: 'audio_url', audio_url: { url: 'https://x.co/a.wav' } }, { type: 'text', text: '1' }] }] }),
  },
  {
    name: 'chat to Azure "On Your Data": data_sources, whose retrieved chunks Azure bills as prompt',
    path: '/v1/chat/completions',
    body: { model: 'azure-solo', max_tokens: 5, messages: [{ role: 'user', content: '1' }], data_sources: [{ type: 'azure_search', parameters: { endpoint: 'https://s.search.windows.net', index_name: 'i', authentication: { type: 'system_assigned_managed_identity' } } }] },
  },
  {
    name: 'chat: dense RAG documents and template variables, which a vLLM node renders through the model\'s template',
    path: '/v1/chat/completions',
    body: chat({ messages: [{ role: 'user', content: '1' }], documents: [{ title: PUNCT, text: DIGITS }, { title: '1', text: CJK }], chat_template_kwargs: { enable_thinking: false, extra: EMOJI } }),
  },
];

/** Nodes write every choice to its cap (an uncapped model), so a request bills the most it can. */
async function uncapped(latencyMs = 0) {
  for (const id of NODES) await setNode(id, { completionTokens: 100_000, latencyMs });
}

describe('dense prompts: what the fleet billed never exceeds what the router reserved', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      await uncapped();
      const reserved = await reservation(c.path, c.body);
      const { key } = await newKey();
      const res = await call(c.path, { body: c.body, headers: headersFor(c.path, key) });
      expect(res.status).toBe(200);
      const bill = await billed(res);
      expect(bill.prompt).toBeGreaterThan(300); // dense: the fleet bills far more than JSON length / 4 would suggest
      expect(bill.total).toBeLessThanOrEqual(reserved);
    });
  }
});

const TPM = 20_000;
const BURST = 30;

/** A burst of `c` against tpm `TPM`, all in flight together (slow nodes). */
async function burst(c: Case, config?: Record<string, unknown>): Promise<Burst> {
  await uncapped(300);
  return burstOf(c.path, c.body, TPM, BURST, config);
}

describe('a burst of dense prompts against a key\'s tpm bills within it', () => {
  for (const c of [CASES[0]!, CASES[3]!, CASES[5]!, CASES[7]!]) {
    it(c.name, async () => {
      const { served, refused, billed: sum } = await burst(c);
      expect(served).toBeGreaterThan(0);
      expect(refused).toBeGreaterThan(0); // the limit was reached: the burst tested it
      expect(sum).toBeLessThanOrEqual(TPM);
    });
  }

  it('with promptTokens "estimate" a chat burst bills past tpm: the undercount the bound closes', async () => {
    const config = testConfig();
    config.limits.promptTokens = 'estimate';
    const { billed: sum } = await burst(CASES[0]!, config);
    expect(sum).toBeGreaterThan(TPM);
  });
});
