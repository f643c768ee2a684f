import { describe, expect, it } from 'vitest';
import { SseSplitter } from '../../src/forward/sse-split';

const MiB = 1_048_576;

function pushAll(splitter: SseSplitter, text: string, chunk: number): string[] {
  const events: string[] = [];
  for (let i = 0; i < text.length; i += chunk) events.push(...splitter.push(text.slice(i, i + chunk)).events);
  return events;
}

describe('SseSplitter', () => {
  it('splits events on LF and CRLF blank lines, keeping each separator', () => {
    const s = new SseSplitter(MiB);
    expect(s.push('data: a\n\ndata: b\r\n\r\nevent: x\ndata: c\r\n\n').events).toEqual(['data: a\n\n', 'data: b\r\n\r\n', 'event: x\ndata: c\r\n\n']);
    expect(s.pendingChars).toBe(0);
  });

  it('finds a separator split across reads, one character at a time', () => {
    const text = 'data: one\r\n\r\ndata: two\n\ndata: three\r\n\n';
    expect(pushAll(new SseSplitter(MiB), text, 1)).toEqual(['data: one\r\n\r\n', 'data: two\n\n', 'data: three\r\n\n']);
  });

  it('examines a 4 MB event sent in 16 KB reads in linear work (each character about once)', () => {
    const event = `data: ${JSON.stringify({ text: 'y'.repeat(4_000_000) })}\n\n`;
    const s = new SseSplitter(16 * MiB);
    const events = pushAll(s, event + 'data: [DONE]\n\n', 16 * 1024);
    expect(events).toEqual([event, 'data: [DONE]\n\n']);
    const reads = Math.ceil(event.length / (16 * 1024)) + 1;
    // Re-searching the whole buffer on each read (the old relay) would examine ~ reads × size / 2 ≈ 500 M.
    expect(s.examined).toBeLessThanOrEqual(event.length + 14 + 3 * reads);
  });

  it('refuses an event that never ends once it passes the cap, holding no more than the cap and a read', () => {
    const s = new SseSplitter(1000);
    let result = s.push('data: ' + 'z'.repeat(500));
    expect(result.tooLarge).toBe(false);
    result = s.push('z'.repeat(600));
    expect(result.tooLarge).toBe(true);
    expect(s.pendingChars).toBeLessThanOrEqual(1000 + 600);
  });

  it('refuses an over-cap event that arrives whole in one read, after passing the events before it', () => {
    const result = new SseSplitter(100).push(`data: small\n\ndata: ${'z'.repeat(200)}\n\ndata: after\n\n`);
    expect(result).toEqual({ events: ['data: small\n\n'], tooLarge: true });
  });
});
