/**
 * The chat relay's byte fast path (`sse-bytes.ts`) against the exact path it stands in for:
 * whatever the reads look like — a usage chunk cut at every byte, CRLF line ends, comments,
 * `"usage":null` on every chunk, `"usage"` inside content, a character cut in two — the
 * caller gets the same bytes and the settlement the same usage. `relaySse` runs in workerd
 * over a reader that hands out the given reads.
 */
import { describe, expect, it } from 'vitest';
import { relaySse, type StreamSummary } from '../../src/forward/relay';
import type { ChunkReader } from '../../src/forward/upstream';

const encoder = new TextEncoder();
const usage = { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 };
const chunk = (content: string, extra: Record<string, unknown> = {}, eol = '\n') =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }], ...extra })}${eol}${eol}`;
const usageChunk = (eol = '\n') => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [], usage })}${eol}${eol}`;

function readerOf(reads: Uint8Array[]): ChunkReader {
  let i = 0;
  return {
    read: async () => (i < reads.length ? { done: false, value: reads[i++]! } : { done: true, value: undefined }),
    cancel: async () => {},
  };
}

/** The stream's bytes cut at `cuts` into reads, relayed; what the caller got and the summary. */
async function relay(text: string, cuts: number[], stripUsage: boolean): Promise<{ out: string; summary: StreamSummary }> {
  const all = encoder.encode(text);
  const bounds = [0, ...cuts, all.byteLength];
  const reads = bounds.slice(1).map((end, i) => all.slice(bounds[i], end)).filter((r) => r.byteLength > 0);
  const { body, summary } = relaySse(readerOf(reads.slice(1)), reads[0]!, { idleMs: 5000, deadline: Date.now() + 10_000, format: 'chat', maxEventBytes: 1 << 20, stripUsage });
  const [out, settled] = await Promise.all([new Response(body).text(), summary]);
  return { out, summary: settled };
}

describe('the chat relay over any reads', () => {
  const content = [chunk('Hel'), chunk('lo', { usage: null }), chunk('"usage":{"prompt_tokens":99,"completion_tokens":99,"total_tokens":198}')].join('');
  const stream = `${content}${usageChunk()}data: [DONE]\n\n`;

  it('a usage chunk cut at every byte: the same bytes out and the usage read, stripped when the router asked for it', async () => {
    const start = content.length;
    for (let cut = start - 2; cut <= stream.length - 1; cut++) {
      const kept = await relay(stream, [cut], false);
      expect(kept.out).toBe(stream);
      expect(kept.summary).toEqual({ completed: true, usage });
      const stripped = await relay(stream, [start - 40, cut], true);
      expect(stripped.out).toBe(`${content}data: [DONE]\n\n`);
      expect(stripped.summary).toEqual({ completed: true, usage });
    }
  });

  it('each event its own read, and all in one read, give the same as the exact path', async () => {
    const eventEnds = [...stream.matchAll(/\n\n/g)].map((m) => m.index + 2).slice(0, -1);
    for (const cuts of [eventEnds, []]) {
      const { out, summary } = await relay(stream, cuts, true);
      expect(out).toBe(`${content}data: [DONE]\n\n`);
      expect(summary).toEqual({ completed: true, usage });
    }
  });

  it('"usage" inside content is neither usage nor a usage chunk: without a usage chunk the stream has no usage', async () => {
    const { out, summary } = await relay(`${content}data: [DONE]\n\n`, [], true);
    expect(out).toBe(`${content}data: [DONE]\n\n`);
    expect(summary).toEqual({ completed: true });
  });

  it('CRLF line ends: the usage chunk is read and stripped', async () => {
    const crlf = `${chunk('a', {}, '\r\n')}${usageChunk('\r\n')}data: [DONE]\r\n\r\n`;
    for (const cuts of [[], [chunk('a', {}, '\r\n').length + 1]]) {
      const { out, summary } = await relay(crlf, cuts, true);
      expect(out).toBe(`${chunk('a', {}, '\r\n')}data: [DONE]\r\n\r\n`);
      expect(summary).toEqual({ completed: true, usage });
    }
  });

  it('comments and keep-alives pass through and end nothing', async () => {
    const text = `: keep-alive\n\n${chunk('a')}: ping\n\n`;
    const { out, summary } = await relay(text, [], true);
    expect(out).toContain(text);
    expect(summary.completed).toBe(false);
    expect(JSON.parse(out.slice(text.length + 6))).toMatchObject({ error: { code: 'upstream_stream_truncated' } });
  });

  it('a character cut in two between reads arrives whole', async () => {
    const text = `${chunk('h\u00e9llo \u{1f600}')}${usageChunk()}data: [DONE]\n\n`;
    const emoji = encoder.encode(text.slice(0, text.indexOf('\u{1f600}'))).byteLength;
    for (const cut of [emoji + 1, emoji + 2, emoji + 3]) {
      const { out, summary } = await relay(text, [cut, cut + 40], true);
      expect(out).toBe(`${chunk('h\u00e9llo \u{1f600}')}data: [DONE]\n\n`);
      expect(summary).toEqual({ completed: true, usage });
    }
  });

  it('a read that ends on a separator plus the first byte of a character: later reads still decode from there', async () => {
    const odd = '\u00e9: odd\n\n'; // an event that opens with a two-byte character (a field name SSE ignores)
    const text = `${chunk('a')}${odd}${chunk('b')}${usageChunk()}data: [DONE]\n\n`;
    const first = encoder.encode(chunk('a')).byteLength + 1;
    const usageAt = encoder.encode(`${chunk('a')}${odd}${chunk('b')}`).byteLength;
    const { out, summary } = await relay(text, [first, usageAt, usageAt + 30], true);
    expect(out).toBe(`${chunk('a')}${odd}${chunk('b')}data: [DONE]\n\n`);
    expect(summary).toEqual({ completed: true, usage });
  });

  it('a [DONE] cut off before its blank line leaves the stream incomplete', async () => {
    const { out, summary } = await relay(`${chunk('a')}data: [DONE]\n`, [], false);
    expect(summary.completed).toBe(false);
    expect(out).toContain('upstream_stream_truncated');
  });

  it('a usage chunk whose data spans two lines is read and stripped in one read as when cut apart', async () => {
    const split = `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [] }).slice(0, -1)},"usage"\ndata: :${JSON.stringify(usage)}}\n\n`;
    const text = `${chunk('a')}${split}data: [DONE]\n\n`;
    for (const cuts of [[], [chunk('a').length + 3]]) {
      const { out, summary } = await relay(text, cuts, true);
      expect(out).toBe(`${chunk('a')}data: [DONE]\n\n`);
      expect(summary).toEqual({ completed: true, usage });
    }
  });
});

