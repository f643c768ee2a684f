/**
 * A long stream read slowly by the client arrives whole and in order: its reads take the
 * relay's byte fast path (whole events passed on as read, `sse-bytes.ts`) into buffers that
 * are reused once written (`upstream.ts` `recycle`) — a dropped, doubled or garbled chunk
 * shows here.
 */
import { beforeEach, expect, it } from 'vitest';
import { admin, call, chatBody, eventually, newKey, resetWorld, setNode } from './helpers';

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

it('OpenAI-style "usage":null on every content chunk: they pass as sent, the usage chunk the router asked for is dropped and settles the key exactly', async () => {
  for (const node of ['n-us', 'n-eu', 'n-ap']) await setNode(node, { chunks: 40, usageNull: true, completionTokens: 40 });
  const { key, id } = await newKey({ limits: { tpm: 100_000 } });
  const res = await call('/v1/chat/completions', { key, body: chatBody({ stream: true, max_tokens: 500 }) });
  const events = (await slowText(res)).split('\n\n').filter(Boolean);
  expect(events.at(-1)).toBe('data: [DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as { choices: unknown[]; usage?: unknown });
  expect(chunks).toHaveLength(41); // 40 content chunks and the finish chunk; no usage chunk
  expect(chunks.slice(0, 40).every((c) => c.usage === null && c.choices.length === 1)).toBe(true);
  // The same request with the caller asking for usage shows what the first one used.
  const asked = await call('/v1/chat/completions', { key, body: chatBody({ stream: true, max_tokens: 500, stream_options: { include_usage: true } }) });
  const usageEvent = (await slowText(asked)).split('\n\n').filter(Boolean).at(-2)!;
  const { usage } = JSON.parse(usageEvent.slice(6)) as { usage: { total_tokens: number; completion_tokens: number } };
  expect(usage.completion_tokens).toBe(40);
  const report = await eventually(
    async () => (await admin(`/keys/${id}/usage`)).json<{ window: { tokens: number }; inFlight: number }>(),
    (u) => u.inFlight === 0,
  );
  // Both settled at their real usage, not at the reservation (prompt + 500 each).
  expect(report.window.tokens).toBe(2 * usage.total_tokens);
});
