/**
 * The prompt reservation is a proven bound against any caller (`limits.promptTokens:
 * "bound"`, the default): text reserves its UTF-8 bytes, and no tokenizer makes more tokens
 * of a text than it has bytes. The fleet bills embeddings as cl100k does (`bpeTokens`):
 * dense digit/punctuation text is a token a character. Embeddings have no output cap, so the
 * prompt is all a request bills — the case where the old 4-characters-a-token estimate let a
 * burst of in-flight requests bill ~4× the key's `tpm`.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { call, callWithConfig, CF, newKey, resetWorld, setNode, testConfig } from './helpers';

beforeEach(resetWorld);

const TPM = 20_000;
/** 2,000 bytes; the fleet (like cl100k) bills 2,000 tokens; the estimate reserves 500. */
const DENSE = '1,'.repeat(1_000);
const BURST = 40;
const EMBEDDING_NODES = ['n-us', 'n-eu', 'n-ap'];

/** A burst of dense embeddings against tpm `TPM`, all in flight together; what the fleet billed for those served. */
async function denseBurst(config?: Record<string, unknown>): Promise<{ served: number; billed: number }> {
  // Slow answers: every request is admitted (or refused) while the others still hold their reservations.
  for (const id of EMBEDDING_NODES) await setNode(id, { latencyMs: 300 });
  const { key } = await newKey({ limits: { tpm: TPM } });
  const body = { model: 'text-embedding-3-small', input: DENSE };
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
    const { served, billed } = await denseBurst();
    expect(served).toBeGreaterThan(0);
    expect(billed).toBe(served * DENSE.length); // the fleet bills a token a character: the reservation was exact
    expect(billed).toBeLessThanOrEqual(TPM);
  });

  it('with promptTokens "estimate" the same burst bills past tpm: the trade that setting makes', async () => {
    const config = testConfig();
    config.limits.promptTokens = 'estimate';
    const { served, billed } = await denseBurst(config);
    expect(served).toBeGreaterThan(TPM / DENSE.length);
    expect(billed).toBeGreaterThan(TPM);
  });
});
