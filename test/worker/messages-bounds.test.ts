/**
 * What a Messages request reserves against what an Anthropic node bills for it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, call, callWithConfig, eventually, messagesUsages, newKey, nodeRequests, resetWorld, setNode, testConfig } from './helpers';

beforeEach(resetWorld);

const anthropic = (key: string, body: unknown) => call('/v1/messages', { body, headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' } });
const weather = { name: 'weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } };

describe('Messages reservations', () => {
  it('a custom tool (no type, as every SDK and Claude Code send it) reserves its text, not the whole context window', async () => {
    const { key } = await newKey({ limits: { tpm: 5_000 } });
    const res = await anthropic(key, { model: 'claude-solo', max_tokens: 100, tools: [weather], messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect(await nodeRequests('p-anth')).toHaveLength(1);
  });
});

describe('tools on a Claude model', () => {
  it('a burst with a tiny tool stays within tpm though Anthropic bills its tool-use system prompt (346 tokens) on top of the tools', async () => {
    const TPM = 3_000;
    // Slow answers: every request is admitted (or refused) while the others hold their reservations.
    await setNode('p-anth', { latencyMs: 300, toolPromptTokens: 346 });
    await setNode('p-azure', { status: 503 });
    const { key } = await newKey({ limits: { tpm: TPM } });
    const body = { model: 'claude-solo', max_tokens: 5, tools: [{ name: 't', input_schema: { type: 'object' } }], messages: [{ role: 'user', content: 'Hi' }] };
    const usages = await messagesUsages(await Promise.all(Array.from({ length: 20 }, () => anthropic(key, body))));
    const billed = usages.reduce((sum, u) => sum + u.input_tokens + u.output_tokens, 0);
    expect(billed).toBeGreaterThan(0);
    expect(billed).toBeLessThanOrEqual(TPM);
  });
});

/** A PNG's signature and IHDR (its size), then `padding` bytes: what the estimate reads of an image is its header. */
function png(width: number, height: number, padding: number): string {
  const bytes = new Uint8Array(33 + padding);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  new DataView(bytes.buffer).setUint32(16, width);
  new DataView(bytes.buffer).setUint32(20, height);
  bytes.set([8, 2, 0, 0, 0], 24);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

describe('images in Messages', () => {
  it('a base64 image reserves what Claude bills for its size (1000×1000: ~1,334), not its base64 length as text', async () => {
    const { key } = await newKey({ limits: { tpm: 4_000 } });
    const image = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png(1000, 1000, 30_000) } };
    const res = await anthropic(key, { model: 'claude-solo', max_tokens: 10, messages: [{ role: 'user', content: [image, { type: 'text', text: 'What is this?' }] }] });
    const text = await res.text();
    expect(res.status, text).toBe(200); // before: the 40,000 base64 characters reserved as 40,000 tokens of text
  });

  it('an image by URL reserves Claude\'s most for an image (its size is unknown), not the bytes of its URL', async () => {
    const { key } = await newKey({ limits: { tpm: 1_000 } });
    const image = { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } };
    const res = await anthropic(key, { model: 'claude-solo', max_tokens: 10, messages: [{ role: 'user', content: [image] }] });
    expect(res.status).toBe(429); // Anthropic bills up to ~1,600 tokens for one image
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/Requested 1[6-9]\d\d\b/);
    expect(await nodeRequests('p-anth')).toHaveLength(0);
  });
});

describe('input a Messages body names but does not hold', () => {
  const unboundedCases: [string, Record<string, unknown>][] = [
    // A PDF's pages become images and text upstream (1,500–3,000 tokens a page): a tiny file can hold many pages.
    ['a base64 PDF document', { messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' } }, { type: 'text', text: 'Sum up' }] }] }],
    ['a PDF by URL', { messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'url', url: 'https://example.com/a.pdf' } }] }] }],
    ['a text document with citations (chunked, with a system prompt of its own)', { messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'The sky is blue.' }, citations: { enabled: true } }] }] }],
    // Search results with citations are chunked as such a document is, under the same citations prompt.
    ['a search result with citations', { messages: [{ role: 'user', content: [{ type: 'search_result', source: 'https://example.com/sky', title: 'Sky', content: [{ type: 'text', text: 'The sky is blue.' }], citations: { enabled: true } }, { type: 'text', text: 'Colour?' }] }] }],
    ['a search result with citations, returned by a tool', { messages: [
      { role: 'user', content: 'Colour?' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'search', input: { q: 'sky' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'search_result', source: 'https://example.com/sky', title: 'Sky', content: [{ type: 'text', text: 'The sky is blue.' }], citations: { enabled: true } }] }] },
    ], tools: [{ name: 'search', input_schema: { type: 'object' } }] }],
    // The MCP connector: the servers' tool definitions and results enter the context upstream.
    ['mcp_servers', { mcp_servers: [{ type: 'url', url: 'https://mcp.example.com/sse', name: 'x' }], messages: [{ role: 'user', content: 'Hi' }] }],
  ];
  for (const [what, body] of unboundedCases) {
    it(`${what} reserves the model's context window, as a chat file part does`, async () => {
      const { key } = await newKey({ limits: { tpm: 50_000 } });
      const res = await anthropic(key, { model: 'claude-solo', max_tokens: 10, ...body });
      expect(res.status).toBe(429);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain('Requested 128010.');
      expect(await nodeRequests('p-anth')).toHaveLength(0);
    });
  }

  it('a search result without citations reserves its text, not the context window', async () => {
    const { key } = await newKey({ limits: { tpm: 50_000 } });
    const result = { type: 'search_result', source: 'https://example.com/sky', title: 'Sky', content: [{ type: 'text', text: 'The sky is blue.' }] };
    const res = await anthropic(key, { model: 'claude-solo', max_tokens: 10, messages: [{ role: 'user', content: [result, { type: 'text', text: 'Colour?' }] }] });
    expect(res.status, await res.clone().text()).toBe(200);
  });

  it('a plain text document without citations reserves its text, not the context window', async () => {
    const { key } = await newKey({ limits: { tpm: 50_000 } });
    const doc = { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'The sky is blue.' } };
    const res = await anthropic(key, { model: 'claude-solo', max_tokens: 10, messages: [{ role: 'user', content: [doc, { type: 'text', text: 'Colour?' }] }] });
    expect(res.status).toBe(200);
  });
});

describe('server tools billed per use, on a key with a spend budget', () => {
  it('web search (Anthropic bills $10 per 1,000 searches, beside the tokens) is refused with cost_unbounded before any node is called', async () => {
    const { key } = await newKey({ limits: { dailyUsd: 1 } });
    const res = await anthropic(key, {
      model: 'claude-x',
      max_tokens: 10,
      tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 5 }],
      messages: [{ role: 'user', content: 'News?' }],
    });
    expect(res.status).toBe(403);
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(body).toMatchObject({ type: 'error', error: { type: 'permission_error', message: expect.stringContaining('web_search_20250305') } });
    for (const id of ['p-anth', 'p-azure']) expect(await nodeRequests(id)).toHaveLength(0);
  });

  it('a key without a budget may use it (its tokens reserve the context window)', async () => {
    const { key } = await newKey();
    const res = await anthropic(key, { model: 'claude-x', max_tokens: 10, tools: [{ type: 'web_search_20250305', name: 'web_search' }], messages: [{ role: 'user', content: 'News?' }] });
    await res.text();
    expect(res.status).not.toBe(403);
  });
});

describe('cache writes with a one-hour TTL', () => {
  it('are priced at twice the input rate (Anthropic\'s 1h write price), not at the 5-minute cacheWrite price', async () => {
    const { id, key } = await newKey();
    await setNode('p-anth', { cacheWriteTokens: 2000, cacheWrite1h: true });
    await setNode('p-azure', { status: 503 });
    const body = { model: 'claude-x', max_tokens: 100, system: [{ type: 'text', text: 'Long', cache_control: { type: 'ephemeral', ttl: '1h' } }], messages: [{ role: 'user', content: 'Hi' }] };
    const res = await anthropic(key, body);
    expect(res.headers.get('x-router-node')).toBe('p-anth');
    const { usage } = (await res.json()) as { usage: { input_tokens: number; output_tokens: number } };
    const rows = await eventually(
      async () => (await (await admin(`/usage?key=${id}&groupBy=node`)).json<{ data: { node: string; costUsd: number }[] }>()).data,
      (r) => r.some((row) => row.node === 'p-anth'),
    );
    // claude-x: input 3, cacheWrite 3.75 (the 5-minute rate, 1.25×), output 15; a 1-hour write bills 2× input.
    expect(rows.find((r) => r.node === 'p-anth')!.costUsd).toBeCloseTo((usage.input_tokens * 3 + 2000 * 6 + usage.output_tokens * 15) / 1e6, 9);
  });
});

describe('long-context pricing (price.longContext)', () => {
  it('a prompt past `above` settles every token at the long-context rates; a short one at the base rates', async () => {
    const config = testConfig();
    config.models['claude-solo'].price = { input: 3, output: 15, longContext: { above: 1_000, input: 6, output: 22.5 } };
    const { id, key } = await newKey({ limits: { dailyUsd: 10 } });
    let expected = 0;
    for (const [text, input, output] of [['Hi', 3, 15], ['.'.repeat(1_500), 6, 22.5]] as const) {
      const body = { model: 'claude-solo', max_tokens: 20, messages: [{ role: 'user', content: text }] };
      const res = await callWithConfig(config, '/v1/messages', { body, headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' } });
      expect(res.status).toBe(200);
      const { usage } = (await res.json()) as { usage: { input_tokens: number; output_tokens: number } };
      expect(usage.input_tokens > 1_000).toBe(input === 6);
      expected += (usage.input_tokens * input + usage.output_tokens * output) / 1e6;
    }
    const rows = await eventually(
      async () => (await (await admin(`/usage?key=${id}&groupBy=node`)).json<{ data: { node: string; costUsd: number; requests: number }[] }>()).data,
      (r) => r.some((row) => row.node === 'p-anth' && row.requests === 2),
    );
    expect(rows.find((r) => r.node === 'p-anth')!.costUsd).toBeCloseTo(expected, 9);
  });
});

describe('an Anthropic stream whose first event is an error', () => {
  /** SSE event names of a Messages stream. */
  const names = async (res: Response) => [...(await res.text()).matchAll(/^event: (.*)$/gm)].map((m) => m[1]);

  it('overloaded_error before anything was relayed fails over along the chain: the caller gets a whole stream', async () => {
    const { key } = await newKey();
    await setNode('p-anth', { streamErrorFirst: 'overloaded_error' });
    const res = await anthropic(key, { model: 'claude-solo', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'Hi' }] });
    expect(res.status).toBe(200);
    const events = await names(res);
    expect(events).not.toContain('error');
    expect(events.at(-1)).toBe('message_stop');
    expect(res.headers.get('x-router-node')).toBe('p-azure');
    // The sole node of claude-solo is tried twice (`forward/plan.ts`), then the fallback answers.
    expect(await nodeRequests('p-anth')).toHaveLength(2);
    expect(await nodeRequests('p-azure')).toHaveLength(1);
  });
});

describe('mcp_servers across formats', () => {
  it('a request naming MCP servers is not translated for an OpenAI-format node (its tools would silently vanish): the Anthropic node serves it', async () => {
    const { key } = await newKey();
    // From IAD the Azure deployment of claude-x ranks first.
    const res = await anthropic(key, { model: 'claude-x', max_tokens: 10, mcp_servers: [{ type: 'url', url: 'https://mcp.example.com/sse', name: 'x' }], messages: [{ role: 'user', content: 'Hi' }] });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('p-anth');
    expect(await nodeRequests('p-azure')).toHaveLength(0);
  });
});

describe('tool_use input in the history', () => {
  it('reserves the JSON of its input (keys and numbers too), as Claude reads and bills it', async () => {
    const { key } = await newKey({ limits: { tpm: 1_000 } });
    const input = { values: Array.from({ length: 2_000 }, (_, i) => i) }; // ~9 KB of JSON with one string in it
    const res = await anthropic(key, {
      model: 'claude-solo',
      max_tokens: 10,
      tools: [{ name: 'sum', input_schema: { type: 'object' } }],
      messages: [
        { role: 'user', content: 'Sum them' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'sum', input }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '1999000' }] },
      ],
    });
    const text = await res.text();
    // The fleet bills the JSON at 4 characters a token (~2,200): past tpm in one request.
    expect(res.status, text).toBe(429);
    expect(await nodeRequests('p-anth')).toHaveLength(0);
  });
});

describe('betas that widen the context', () => {
  it('context-1m is not passed to a node of a model configured with a smaller context (what unbounded input reserves); other betas are', async () => {
    const { key } = await newKey();
    const res = await call('/v1/messages', {
      body: { model: 'claude-solo', max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }] },
      headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'context-1m-2025-08-07, prompt-caching-2024-07-31' },
    });
    expect(res.status).toBe(200);
    const [sent] = await nodeRequests('p-anth');
    expect(sent!.headers['anthropic-beta']).toBe('prompt-caching-2024-07-31');
  });

  it('in any letter case (a provider that matched flags case-blind would widen the context past what was reserved)', async () => {
    const { key } = await newKey();
    const res = await call('/v1/messages', {
      body: { model: 'claude-solo', max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }] },
      headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'Context-1M-2025-08-07' },
    });
    expect(res.status).toBe(200);
    const [sent] = await nodeRequests('p-anth');
    expect(sent!.headers['anthropic-beta']).toBeUndefined();
  });
});

describe('paths under /v1/messages the router does not serve', () => {
  it('answer 404 in Anthropic\'s shape (the Anthropic SDK\'s batches API), not OpenAI\'s', async () => {
    const { key } = await newKey();
    const res = await call('/v1/messages/batches', { body: { requests: [] }, headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error', message: expect.stringContaining('/v1/messages/batches') } });
  });
});

describe('a server-held thread (the beta `thread`: `{type: "continue", previous_message_id}`)', () => {
  // Anthropic holds the conversation under an earlier response's id and bills it as input; only the new turn is in the body.
  it('continuing one holds the context window, refused for a smaller tpm; starting one (`create`) does not', async () => {
    const { key } = await newKey({ limits: { tpm: 100_000 } });
    const turn = { model: 'claude-solo', max_tokens: 10, messages: [{ role: 'user', content: 'Go on' }] };
    const res = await anthropic(key, { ...turn, thread: { type: 'continue', previous_message_id: 'msg_0123456789abcdef' } });
    expect(res.status).toBe(429);
    expect((await res.json<{ error: { message: string } }>()).error.message).toMatch(/Limit 100000, Requested \d{6}/);
    expect(await nodeRequests('p-anth')).toHaveLength(0);
    const created = await anthropic(key, { ...turn, thread: { type: 'create' } });
    expect(created.status, await created.text()).toBe(200);
  });
});

describe('server-side compaction (a compact_… edit in context_management)', () => {
  // A first sampling pass reads the whole conversation and writes a summary, then the answer reads the
  // compacted context: Anthropic bills both, but its top-level usage is the answer's alone (the pass is in
  // `usage.iterations`).
  const body = (stream: boolean) => ({
    model: 'claude-solo',
    max_tokens: 10,
    stream,
    context_management: { edits: [{ type: 'compact_20260112', trigger: { type: 'input_tokens', value: 50_000 } }] },
    messages: [{ role: 'user', content: '1,'.repeat(2_000) }],
  });
  const windowTokens = async (id: string) =>
    eventually(
      async () => (await admin(`/keys/${id}/usage`)).json<{ window: { tokens: number }; inFlight: number }>(),
      (u) => u.inFlight === 0,
    );

  for (const stream of [false, true]) {
    it(`settles at every pass the iterations report, not the answer's alone (${stream ? 'stream' : 'JSON'})`, async () => {
      const { id, key } = await newKey({ limits: { tpm: 1_000_000 } });
      const res = await anthropic(key, body(stream));
      expect(res.status).toBe(200);
      await res.text();
      // The compaction pass read the whole conversation (4,000 dense characters: over 4,000 tokens) and wrote 500.
      const { window } = await windowTokens(id);
      expect(window.tokens).toBeGreaterThan(4_000 + 500);
    });
  }

  it('reserves the conversation twice over: the compaction pass reads it all, then the answer reads what is left', async () => {
    const { key } = await newKey({ limits: { tpm: 1 } });
    const res = await anthropic(key, body(false));
    expect(res.status).toBe(429);
    const requested = Number(/Requested (\d+)\./.exec((await res.json<{ error: { message: string } }>()).error.message)?.[1]);
    const { key: other } = await newKey({ limits: { tpm: 1 } });
    const plain = await anthropic(other, { ...body(false), context_management: undefined });
    const single = Number(/Requested (\d+)\./.exec((await plain.json<{ error: { message: string } }>()).error.message)?.[1]);
    expect(requested).toBeGreaterThan(2 * (single - 10));
  });
});
