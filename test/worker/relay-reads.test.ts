/**
 * A long stream read slowly by the client arrives whole and in order: its reads take the
 * relay's byte fast path (whole events passed on as read, `sse-bytes.ts`) into buffers that
 * are reused once written (`upstream.ts` `recycle`) — a dropped, doubled or garbled chunk
 * shows here.
 */
import { beforeEach, expect, it } from 'vitest';
import { call, chatBody, newKey, resetWorld, setNode } from './helpers';

beforeEach(resetWorld);

async function slowText(res: Response): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (let reads = 0; ; reads++) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    text += decoder.decode(value, { stream: true });
    if (reads % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

it('a 300-chunk stream read slowly by the client arrives chunk for chunk, in order, ending in [DONE]', async () => {
  for (const node of ['n-us', 'n-eu', 'n-ap']) await setNode(node, { chunks: 300, chunkDelayMs: 0 });
  const { key } = await newKey();
  const res = await call('/v1/chat/completions', { key, body: chatBody({ stream: true }) });
  expect(res.status).toBe(200);
  const events = (await slowText(res)).split('\n\n').filter(Boolean);
  expect(events.at(-1)).toBe('data: [DONE]');
  const contents = events.slice(0, 300).map((e) => (JSON.parse(e.slice(6)) as { choices: { delta: { content: string } }[] }).choices[0]!.delta.content);
  expect(contents.slice(1)).toEqual(Array.from({ length: 299 }, (_, i) => ` #${i + 1}`));
  expect(events).toHaveLength(302); // 300 content chunks, the finish chunk, [DONE]: the usage chunk was not asked for
});
