/**
 * The request log's sampling knob (`logging.*`) end to end in workerd: which requests write
 * a line, and that the usage rollups count every request whatever was logged.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { admin, callWithConfig, chatBody, newKey, resetWorld, testConfig } from './helpers';

beforeEach(resetWorld);
afterEach(() => vi.restoreAllMocks());

function captureLogLines(): string[] {
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
  return lines;
}

const requestLines = (lines: string[], keyId: string) =>
  lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((l) => l.event === 'request' && l.keyId === keyId);

async function rollup(keyId: string) {
  const res = await admin(`/usage?key=${keyId}`); // flushes this isolate's pending rows first
  return (await res.json<{ data: { requests: number; errors: number }[] }>()).data;
}

describe('request log sampling', () => {
  it('with successSampleRate 0 writes no line for successes but one for every error, and the rollups still count all of them', async () => {
    const lines = captureLogLines();
    const { key, id } = await newKey();
    const config = { ...testConfig(), logging: { successSampleRate: 0 } };
    for (const stream of [false, true]) {
      const ok = await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody(stream ? { stream: true } : {}) });
      expect(ok.status).toBe(200);
      await ok.text();
    }
    const refused = await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody({ model: 'no-such-model' }) });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    await refused.text();
    expect(await rollup(id)).toEqual([expect.objectContaining({ requests: 3, errors: 1 })]);
    const logged = requestLines(lines, id);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ status: refused.status, model: '-' });
  });

  it('with slowMs 0 logs every success even at successSampleRate 0', async () => {
    const lines = captureLogLines();
    const { key, id } = await newKey();
    const res = await callWithConfig({ ...testConfig(), logging: { successSampleRate: 0, slowMs: 0 } }, '/v1/chat/completions', { key, body: chatBody() });
    await res.text();
    await rollup(id);
    expect(requestLines(lines, id)).toEqual([expect.objectContaining({ status: 200, node: res.headers.get('x-router-node') })]);
  });

  it('logs every request by default', async () => {
    const lines = captureLogLines();
    const { key, id } = await newKey();
    for (let i = 0; i < 3; i++) await (await callWithConfig(testConfig(), '/v1/chat/completions', { key, body: chatBody() })).text();
    await rollup(id);
    expect(requestLines(lines, id)).toHaveLength(3);
  });
});
