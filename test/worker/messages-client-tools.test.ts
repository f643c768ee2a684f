/**
 * Anthropic's client tools defined by type (bash, text editor, computer use): what a Messages
 * request with them reserves against what an Anthropic node bills for their definitions
 * (245 / 700 / 735 + 499 tokens, rendered upstream from the type, not from the body).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { call, messagesUsages, newKey, nodeRequests, resetWorld, setNode } from './helpers';

beforeEach(resetWorld);

const anthropic = (key: string, body: unknown, beta?: string) =>
  call('/v1/messages', { body, headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', ...(beta ? { 'anthropic-beta': beta } : {}) } });

const bash = { type: 'bash_20250124', name: 'bash' };
const editor = { type: 'text_editor_20250728', name: 'str_replace_based_edit_tool' };
const computer = { type: 'computer_20250124', name: 'computer', display_width_px: 1024, display_height_px: 768 };
const ask = (tools: unknown[]) => ({ model: 'claude-solo', max_tokens: 5, tools, messages: [{ role: 'user', content: 'List the files.' }] });

describe('Anthropic client tools', () => {
  it('bash and the text editor reserve a bounded allowance, not the whole context window: a key under 128k tpm may use them', async () => {
    const { key } = await newKey({ limits: { tpm: 20_000 } });
    const res = await anthropic(key, ask([bash, editor]));
    const text = await res.text();
    expect(res.status, text).toBe(200);
    const [sent] = await nodeRequests('p-anth');
    // Passed as they came: the node renders them from their type.
    expect((sent!.body as { tools: unknown[] }).tools).toEqual([bash, editor]);
  });

  it('computer use reaches the node with its beta header', async () => {
    const { key } = await newKey({ limits: { tpm: 20_000 } });
    const res = await anthropic(key, ask([computer]), 'computer-use-2025-01-24');
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ stop_reason: 'tool_use', content: [{ type: 'tool_use', name: 'computer' }] });
  });

  it('a burst with all three stays within tpm though the node bills their definitions (~2,500 tokens a request) beside their JSON', async () => {
    const TPM = 24_000;
    // Slow answers: every request is admitted (or refused) while the others hold their reservations.
    await setNode('p-anth', { latencyMs: 300 });
    await setNode('p-azure', { status: 503 });
    const { key } = await newKey({ limits: { tpm: TPM } });
    const usages = await messagesUsages(await Promise.all(Array.from({ length: 16 }, () => anthropic(key, ask([bash, editor, computer]), 'computer-use-2025-01-24'))));
    expect(usages.length).toBeGreaterThan(0);
    for (const usage of usages) expect(usage.input_tokens).toBeGreaterThan(2_500);
    const billed = usages.reduce((sum, u) => sum + u.input_tokens + u.output_tokens, 0);
    expect(billed).toBeLessThanOrEqual(TPM);
  });

  it('a typed tool of another family (a server tool, or one the router does not know) still reserves the context window', async () => {
    const { key } = await newKey({ limits: { tpm: 50_000 } });
    for (const tool of [{ type: 'web_fetch_20250910', name: 'web_fetch' }, { type: 'memory_20250818', name: 'memory' }, { type: 'bash_latest', name: 'bash' }]) {
      const res = await anthropic(key, ask([tool]));
      expect(res.status).toBe(429);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain('Requested 128005.');
    }
    expect(await nodeRequests('p-anth')).toHaveLength(0);
  });
});
