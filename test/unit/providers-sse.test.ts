/** The incremental SSE decoder the provider stream translators are fed through. */
import { describe, expect, it } from 'vitest';
import { SseDecoder, sseFrame } from '../../src/providers/sse';

describe('SseDecoder', () => {
  it('yields events with their names once the blank line arrives', () => {
    const d = new SseDecoder();
    expect(d.push('event: ping\ndata: {"type":"ping"}\n')).toEqual([]);
    expect(d.push('\n')).toEqual([{ event: 'ping', data: '{"type":"ping"}' }]);
  });

  it('handles CRLF and CR line ends, including a CRLF split across pieces', () => {
    const d = new SseDecoder();
    expect(d.push('data: a\r')).toEqual([]);
    expect(d.push('\n\r\ndata: b\r\r')).toEqual([{ data: 'a' }, { data: 'b' }]);
    // The LF after the CR that ended the last piece is part of that line end, not a blank line.
    expect(d.push('\ndata: c\n')).toEqual([]);
    expect(d.push('\n')).toEqual([{ data: 'c' }]);
  });

  it('joins multi-line data, ignores comments and unknown fields', () => {
    expect(new SseDecoder().push(': keep-alive\nid: 7\ndata: one\ndata:two\n\n')).toEqual([{ data: 'one\ntwo' }]);
  });

  it('drops an event whose blank line never came', () => {
    const d = new SseDecoder();
    d.push('data: partial\n');
    expect(d.end()).toEqual([]);
  });

  it('reads a long line fed in small pieces in linear time', () => {
    const d = new SseDecoder();
    const line = `data: ${'x'.repeat(2_000_000)}\n\n`;
    const started = performance.now();
    const events = [];
    for (let i = 0; i < line.length; i += 1000) events.push(...d.push(line.slice(i, i + 1000)));
    expect(events).toHaveLength(1);
    expect(events[0]!.data.length).toBe(2_000_000);
    // Quadratic rescanning would take seconds here (2,000 pieces × up to 2 MB).
    expect(performance.now() - started).toBeLessThan(1500);
  });
});

describe('sseFrame', () => {
  it('writes a named event or a bare data frame', () => {
    expect(sseFrame({ type: 'ping' }, 'ping')).toBe('event: ping\ndata: {"type":"ping"}\n\n');
    expect(sseFrame('[DONE]')).toBe('data: [DONE]\n\n');
  });
});
