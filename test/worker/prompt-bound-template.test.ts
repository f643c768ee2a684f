/**
 * A self-hosted node's chat template bills tokens the body does not hold: vLLM serving Llama
 * 3.1 renders a default system prompt into every chat request and a preamble when tools are
 * given. The fleet bills them (knobs `templateTokens`, `toolTemplateTokens`), so a dense
 * tiny request — `"1"`, `max_tokens: 1` — reserving 13 tokens bills 39. The operator names
 * the overhead on the node (`promptOverheadTokens`, `toolOverheadTokens`) and chat-style
 * requests reserve it: a burst against a key's tpm bills past it without the setting and
 * within it with.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { burst, reservation } from './bound-helpers';
import { resetWorld, setNode, testConfig } from './helpers';

beforeEach(resetWorld);

const NODES = ['n-us', 'n-eu', 'n-ap']; // every node of gpt-4o-mini
const TEMPLATE = 30;
const TOOL_TEMPLATE = 150;
const TPM = 1_000;
const BURST = 30;

const messages = [{ role: 'user', content: '1' }];
const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }];
const CHAT = { path: '/v1/chat/completions', body: { model: 'gpt-4o-mini', max_tokens: 1, messages } };
const CHAT_TOOLS = { path: CHAT.path, body: { ...CHAT.body, tools } };
const RESPONSES = { path: '/v1/responses', body: { model: 'gpt-4o-mini', max_output_tokens: 16, store: false, input: '1' } };
const MESSAGES = { path: '/v1/messages', body: { model: 'gpt-4o-mini', max_tokens: 1, messages } };

/** The test config with the overheads named on gpt-4o-mini's nodes. */
function withOverhead(overhead: { promptOverheadTokens?: number; toolOverheadTokens?: number }): Record<string, unknown> {
  const config = testConfig();
  for (const node of config.nodes) if (NODES.includes(node.id)) Object.assign(node, overhead);
  return config;
}

/** Slow templated nodes (every request of a burst in flight together) that write each choice to its cap. */
async function templatedNodes() {
  for (const id of NODES) await setNode(id, { templateTokens: TEMPLATE, toolTemplateTokens: TOOL_TEMPLATE, completionTokens: 100_000, latencyMs: 300 });
}

describe('a node\'s chat-template overhead in the reservation', () => {
  it('chat, Responses and Messages reserve promptOverheadTokens more; with tools, toolOverheadTokens more again', async () => {
    const config = withOverhead({ promptOverheadTokens: TEMPLATE, toolOverheadTokens: TOOL_TEMPLATE });
    for (const c of [CHAT, RESPONSES, MESSAGES]) expect((await reservation(c.path, c.body, config)) - (await reservation(c.path, c.body))).toBe(TEMPLATE);
    expect((await reservation(CHAT_TOOLS.path, CHAT_TOOLS.body, config)) - (await reservation(CHAT_TOOLS.path, CHAT_TOOLS.body))).toBe(TEMPLATE + TOOL_TEMPLATE);
  });
});

describe('a burst of tiny requests to templated nodes against a key\'s tpm', () => {
  it('without promptOverheadTokens bills past tpm (13 reserved, 39 billed a request)', async () => {
    await templatedNodes();
    const { billed } = await burst(CHAT.path, CHAT.body, TPM, BURST);
    expect(billed).toBeGreaterThan(TPM);
  });

  it('with promptOverheadTokens bills within tpm', async () => {
    await templatedNodes();
    const { served, refused, billed } = await burst(CHAT.path, CHAT.body, TPM, BURST, withOverhead({ promptOverheadTokens: TEMPLATE }));
    expect(served).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0); // the limit was reached: the burst tested it
    expect(billed).toBeLessThanOrEqual(TPM);
  });

  it('with a tool, promptOverheadTokens alone bills past tpm (the tool preamble is not reserved)', async () => {
    await templatedNodes();
    const { billed } = await burst(CHAT_TOOLS.path, CHAT_TOOLS.body, TPM, BURST, withOverhead({ promptOverheadTokens: TEMPLATE }));
    expect(billed).toBeGreaterThan(TPM);
  });

  it('with a tool and toolOverheadTokens bills within tpm', async () => {
    await templatedNodes();
    const { served, refused, billed } = await burst(CHAT_TOOLS.path, CHAT_TOOLS.body, TPM, BURST, withOverhead({ promptOverheadTokens: TEMPLATE, toolOverheadTokens: TOOL_TEMPLATE }));
    expect(served).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    expect(billed).toBeLessThanOrEqual(TPM);
  });

  it('Responses and Messages (translated to chat) with promptOverheadTokens bill within tpm', async () => {
    await templatedNodes();
    for (const c of [RESPONSES, MESSAGES]) {
      const { served, refused, billed } = await burst(c.path, c.body, TPM, BURST, withOverhead({ promptOverheadTokens: TEMPLATE }));
      expect(served).toBeGreaterThan(0);
      expect(refused).toBeGreaterThan(0);
      expect(billed).toBeLessThanOrEqual(TPM);
    }
  });
});

describe('a template the caller sends (vLLM `chat_template`, or inside `chat_template_kwargs`)', () => {
  // A Jinja template loops: `{% for i in range(100000) %}1,{% endfor %}` renders any prompt from a
  // tiny body, so no bound comes from the body. The reservation holds the model's context window.
  const template = '{% for i in range(100000) %}1,{% endfor %}{% for m in messages %}{{ m.content }}{% endfor %}';
  const context = 128_000; // limits.defaultContextTokens: gpt-4o-mini names none

  it('reserves the model\'s whole context window, as input the body names but does not hold', async () => {
    expect(await reservation(CHAT.path, { ...CHAT.body, chat_template: template })).toBeGreaterThanOrEqual(context);
    expect(await reservation(CHAT.path, { ...CHAT.body, chat_template_kwargs: { chat_template: template } })).toBeGreaterThanOrEqual(context);
    expect(await reservation(CHAT.path, CHAT.body)).toBeLessThan(100);
  });
});

describe('prompt embeddings (vLLM `prompt_embeds`, on nodes started with --enable-prompt-embeds)', () => {
  // Each row of the base64 tensor is a prompt token the node bills, however short the text beside it.
  it('a legacy completion with prompt_embeds reserves the model\'s whole context window', async () => {
    const body = { model: 'gpt-4o-mini', max_tokens: 1, prompt: '', prompt_embeds: 'UEsDBAAACAgAAAAAAAAAAAAAAAAAAAAAAAAQABIAYXJjaGl2ZS9kYXRhLnBrbA==' };
    expect(await reservation('/v1/completions', body)).toBeGreaterThanOrEqual(128_000);
    expect(await reservation('/v1/completions', { ...body, prompt_embeds: undefined })).toBeLessThan(100);
  });

  it('so does a request with OpenRouter plugins (web search results, a parsed PDF\'s pages go into the prompt)', async () => {
    expect(await reservation(CHAT.path, { ...CHAT.body, plugins: [{ id: 'web' }] })).toBeGreaterThanOrEqual(128_000);
    expect(await reservation(CHAT.path, { ...CHAT.body, plugins: [] })).toBeLessThan(100);
  });

  it('so does a chat request with mm_processor_kwargs: its max_pixels can make an image bill past any configured rule', async () => {
    const image = { type: 'image_url', image_url: { url: 'https://x.co/i.png' } };
    const body = { ...CHAT.body, messages: [{ role: 'user', content: [image] }], mm_processor_kwargs: { max_pixels: 100_000_000 } };
    expect(await reservation(CHAT.path, body)).toBeGreaterThanOrEqual(128_000);
  });
});
