/**
 * The prompt reservation is a proven bound against any caller (`limits.promptTokens:
 * "bound"`, the default): text reserves its UTF-8 bytes, and no tokenizer makes more tokens
 * of a text than it has bytes. The fleet bills embeddings as cl100k does (`bpeTokens` in
 * `test/fleet/tokens.ts`): dense digit/punctuation text is a token a character (the other
 * endpoints: `prompt-bound-chat.test.ts`). Embeddings have no output cap, so the
 * prompt is all a request bills — the case where the old 4-characters-a-token estimate let a
 * burst of in-flight requests bill ~4× the key's `tpm`. A node whose tokenizer adds special
 * tokens to every input (fleet knob `specialTokens`, like vLLM/TEI with BOS/EOS or
 * `[CLS]`/`[SEP]`) bills 3 tokens for a one-byte input: each input reserves 2 more.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { call, callWithConfig, CF, newKey, resetWorld, setNode, testConfig } from './helpers';

beforeEach(resetWorld);

const TPM = 20_000;
/** 2,000 bytes; the fleet (like cl100k) bills 2,000 tokens; the estimate reserves 500. */
const DENSE = '1,'.repeat(1_000);
const BURST = 40;
const EMBEDDING_NODES = ['n-us', 'n-eu', 'n-ap'];

/** A burst of embeddings of `input` against tpm `TPM`, all in flight together; what the fleet billed for those served. */
async function burst(input: unknown, config?: Record<string, unknown>, knobs: Record<string, unknown> = {}): Promise<{ served: number; billed: number }> {
  // Slow answers: every request is admitted (or refused) while the others still hold their reservations.
  for (const id of EMBEDDING_NODES) await setNode(id, { latencyMs: 300, ...knobs });
  const { key } = await newKey({ limits: { tpm: TPM } });
  const body = { model: 'text-embedding-3-small', input };
  const send = () => (config ? callWithConfig(config, '/v1/embeddings', { key, body, cf: CF.iad }) : call('/v1/embeddings', { key, body }));
  const responses = await Promise.all(Array.from({ length: BURST }, send));
  expect(responses.every((r) => r.status === 200 || r.status === 429)).toBe(true);
  let billed = 0;
  let served = 0;
  for (const res of responses) {
    if (res.status !== 200) {
      await res.text();
      continue;
    }
    served++;
    billed += (await res.json<{ usage: { prompt_tokens: number } }>()).usage.prompt_tokens;
  }
  return { served, billed };
}

describe('dense text against an embeddings key\'s tpm', () => {
  it('by default (the bound) the tokens the fleet billed for a burst stay within tpm', async () => {
    const { served, billed } = await burst(DENSE);
    expect(served).toBeGreaterThan(0);
    expect(billed).toBe(served * DENSE.length); // the fleet bills a token a character (and, like OpenAI, no special tokens)
    expect(billed).toBeLessThanOrEqual(TPM);
  });

  it('with promptTokens "estimate" the same burst bills past tpm: the trade that setting makes', async () => {
    const config = testConfig();
    config.limits.promptTokens = 'estimate';
    const { served, billed } = await burst(DENSE, config);
    expect(served).toBeGreaterThan(TPM / DENSE.length);
    expect(billed).toBeGreaterThan(TPM);
  });
});

describe('many tiny inputs on a node whose tokenizer adds special tokens to each', () => {
  /** 2,048 one-byte inputs (OpenAI's most): a BOS/EOS node bills 3 tokens each, 6,144 a request. */
  const TINY = Array.from({ length: 2_048 }, () => 'a');

  it('the tokens the node billed for a burst stay within tpm: each input reserves its 2 special tokens', async () => {
    const { served, billed } = await burst(TINY, undefined, { specialTokens: 2 });
    expect(served).toBeGreaterThan(0);
    expect(billed).toBe(served * TINY.length * 3); // reserved exactly what was billed
    expect(billed).toBeLessThanOrEqual(TPM); // without the allowance (1 reserved an input) 9 are served: 55,296
  });
});
