/**
 * A 429 tells the window the refusal saw: a request refused after admission (reserving
 * another attempt after a hung one) carries the refusal's `x-ratelimit-*`, not the state at
 * its admission, which other requests have used since.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { callWithConfig, CF, chatBody, newKey, resetWorld, setNode, testConfig } from './helpers';

beforeEach(resetWorld);

/**
 * A (`path`) hangs on n-us until its answer times out (1 s); meanwhile B streams from n-eu,
 * holding its ~610 tokens: A's reservation of another attempt is refused past tpm 1,500.
 */
async function refusedAfterAdmission(path: string, body: Record<string, unknown>) {
  const config = testConfig();
  config.limits.leases = { enabled: false }; // each admission and reservation decided by the object
  const { key } = await newKey({ limits: { tpm: 1_500 } });
  await setNode('n-us', { hang: true });
  await setNode('n-eu', { chunks: 10, chunkDelayMs: 300 });
  const a = callWithConfig(config, path, { key, body, cf: CF.iad });
  await new Promise((r) => setTimeout(r, 200));
  const b = await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody({ max_tokens: 600, stream: true }), cf: CF.fra });
  expect(b.status).toBe(200);
  const refused = await a;
  await b.text();
  expect(refused.status).toBe(429);
  const { error } = await refused.json<{ error: { message: string } }>();
  expect(error.message).toContain('reserving another attempt');
  return { refused, remaining: String(1_500 - Number(/Used (\d+)/.exec(error.message)![1])) };
}

describe('headers of a refusal after admission', () => {
  it("reserving another attempt past tpm: x-ratelimit-remaining-tokens is what the refusal saw, as the message's Used says", async () => {
    const { refused, remaining } = await refusedAfterAdmission('/v1/chat/completions', chatBody({ max_tokens: 600 }));
    expect(refused.headers.get('x-ratelimit-remaining-tokens')).toBe(remaining);
  });

  it('the same on /v1/messages: anthropic-ratelimit-tokens-remaining is what the refusal saw', async () => {
    const { refused, remaining } = await refusedAfterAdmission('/v1/messages', { model: 'gpt-4o-mini', max_tokens: 600, messages: [{ role: 'user', content: 'Hi' }] });
    expect(refused.headers.get('anthropic-ratelimit-tokens-remaining')).toBe(remaining);
  });
});
