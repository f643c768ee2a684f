/**
 * How an upstream JSON answer is read (`readAnswerCapped`): in one native call when its
 * Content-Length frames it, piece by piece under the cap when it is coded. End to end in
 * workerd against the fleet.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { callWithConfig, CF, chatBody, newKey, resetWorld, setNode, testConfig } from './helpers';

beforeEach(resetWorld);

describe('upstream JSON answer read', () => {
  it('answers a gzip-coded upstream answer decoded, usage and all', async () => {
    await setNode('n-us', { gzip: true });
    const { key } = await newKey();
    const res = await callWithConfig(testConfig(), '/v1/chat/completions', { key, body: chatBody(), cf: CF.iad });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('n-us');
    const answer = await res.json<{ choices: { message: { content: string } }[]; usage: { completion_tokens: number } }>();
    expect(answer.choices[0]!.message.content).toBe('Hello from n-us');
    expect(answer.usage.completion_tokens).toBe(3);
  });

  it('refuses a gzip-coded answer whose Content-Length fits the cap but whose decoded bytes do not', async () => {
    const config = testConfig();
    config.limits.maxResponseBytes = 20_000;
    await setNode('n-us', { gzip: true, padBytes: 200_000 }); // ~0.3 KB coded, 200 KB decoded
    const { key } = await newKey();
    const res = await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody(), cf: CF.iad });
    expect(res.status).toBe(502);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe('upstream_response_too_large');
  });

  it('reads an answer framed by its Content-Length whole, right up to the cap', async () => {
    const config = testConfig();
    await setNode('n-us', { padBytes: 10_000 });
    const { key } = await newKey();
    const probe = await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody(), cf: CF.iad });
    const size = (await probe.arrayBuffer()).byteLength;
    config.limits.maxResponseBytes = size; // the answer exactly fills the cap
    const res = await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody(), cf: CF.iad });
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(size);
    config.limits.maxResponseBytes = size - 1;
    expect((await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody(), cf: CF.iad })).status).toBe(502);
  });
});
