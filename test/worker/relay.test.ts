/**
 * The relay against callers and upstreams that push on it: usage read structurally (caller
 * `metadata` echoed after `usage`, as OpenAI's Responses object does, never counts), the
 * Responses end marker read structurally, and a per-event cap that ends a stream with the
 * error event in its own format — in workerd against the simulated fleet. (Stream usage
 * read structurally: `test/unit/sse-event.test.ts`.)
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, call, callWithConfig, chatBody, eventually, newKey, resetWorld, setNode, sseEvents, testConfig } from './helpers';

beforeEach(resetWorld);

interface Usage {
  input_tokens: number;
  output_tokens: number;
}

/** What the key's limiter settled once nothing is in flight. */
async function settledTokens(id: string): Promise<number> {
  const report = await eventually(
    async () => (await admin(`/keys/${id}/usage`)).json<{ window: { tokens: number }; inFlight: number }>(),
    (u) => u.inFlight === 0,
  );
  return report.window.tokens;
}

describe('usage is read structurally, never from caller text', () => {
  const cases: [string, Record<string, string>, Record<string, unknown>][] = [
    ['metadata {"usage": "{}"}', { usage: '{}' }, {}],
    // Past 1 MiB the old text search had no whole-body fallback: the answer settled at its reservation.
    ['metadata {"usage": "{\\"input_tokens\\":0,…}"} in a 1 MiB answer', { usage: '{"input_tokens":0,"output_tokens":0,"total_tokens":0}' }, { chunks: 150_000, completionTokens: 50 }],
  ];
  for (const [label, metadata, knobs] of cases) {
    it(`a Responses answer with ${label}, echoed after usage as OpenAI does, settles at the real usage`, async () => {
      await setNode('n-us', knobs);
      const { id, key } = await newKey({ limits: { tpm: 100_000 } });
      const res = await call('/v1/responses', { key, body: { model: 'gpt-4o-mini', input: 'Hi', max_output_tokens: 3000, metadata } });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text.indexOf('"metadata"', text.lastIndexOf('"usage":{'))).toBeGreaterThan(0); // the fleet orders it as OpenAI does
      const usage = (JSON.parse(text) as { usage: Usage }).usage;
      expect(await settledTokens(id)).toBe(usage.input_tokens + usage.output_tokens);
    });
  }
});

describe('usage of a stream that did not end', () => {
  it('a chat stream cut after chunks that carried usage so far (vLLM continuous_usage_stats) settles at its reservation, not the partial usage', async () => {
    for (const node of ['n-us', 'n-eu', 'n-ap']) await setNode(node, { chunks: 10, cutAfterChunks: 3, chunkDelayMs: 20 });
    const { key, id } = await newKey({ limits: { tpm: 10_000 } });
    const body = chatBody({ stream: true, stream_options: { include_usage: true, continuous_usage_stats: true }, max_tokens: 50 });
    const events = await sseEvents(await call('/v1/chat/completions', { key, body }));
    expect(events.some((e) => e.includes('"completion_tokens":3'))).toBe(true); // the caller saw usage so far…
    expect(JSON.parse(events.at(-1)!).error.code).toMatch(/^upstream_stream_/);
    // …but the upstream may have written up to the cap: held at prompt estimate + 50.
    expect(await settledTokens(id)).toBeGreaterThanOrEqual(50);
  });
});

describe('the end marker is read structurally', () => {
  it('caller metadata {"type":"response.completed"} echoed in response.created does not pass a short stream off as complete', async () => {
    await setNode('n-us', { endAfterChunks: 1, chunks: 3 });
    const { key } = await newKey();
    const res = await call('/v1/responses', { key, body: { model: 'gpt-4o-mini', input: 'Hi', stream: true, metadata: { type: 'response.completed' } } });
    const last = (await res.text()).trim().split('\n\n').at(-1)!;
    expect(last.split('\n')[0]).toBe('event: error');
    expect(JSON.parse(last.split('data: ')[1]!)).toMatchObject({ type: 'error', code: 'upstream_stream_truncated' });
  });
});

describe('limits.maxEventBytes', () => {
  const capped = () => {
    const config = testConfig();
    config.limits = { ...config.limits, maxEventBytes: 256 * 1024 };
    return config;
  };

  it('ends a chat stream whose event passes the cap with upstream_event_too_large, in the chat error shape', async () => {
    await setNode('n-us', { padBytes: 300 * 1024, chunks: 2 });
    const { key } = await newKey();
    const res = await callWithConfig(capped(), '/v1/chat/completions', { key, body: chatBody({ stream: true }) });
    expect(res.status).toBe(200);
    const events = await sseEvents(res);
    expect(events).not.toContain('[DONE]');
    expect(JSON.parse(events.at(-1)!)).toEqual({
      error: { message: expect.stringContaining('262144-byte'), type: 'server_error', param: null, code: 'upstream_event_too_large' },
    });
  });

  it('ends an event that never ends at the cap instead of holding it without bound', async () => {
    await setNode('n-us', { endlessEvent: true });
    const { key } = await newKey();
    const res = await callWithConfig(capped(), '/v1/chat/completions', { key, body: chatBody({ stream: true }) });
    const events = await sseEvents(res);
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!)).toMatchObject({ error: { code: 'upstream_event_too_large' } });
  });

  it('passes events under the cap untouched', async () => {
    await setNode('n-us', { padBytes: 200 * 1024, chunks: 2 });
    const { key } = await newKey();
    const res = await callWithConfig(capped(), '/v1/chat/completions', { key, body: chatBody({ stream: true }) });
    const events = await sseEvents(res);
    expect(events.at(-1)).toBe('[DONE]');
    expect(events).toHaveLength(4);
  });
});
