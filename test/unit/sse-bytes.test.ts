import { describe, expect, it } from 'vitest';
import { chatEventMayMatter, wholeEvents } from '../../src/forward/sse-bytes';
import { readEvent } from '../../src/forward/sse-event';
import { SseSplitter } from '../../src/forward/sse-split';

const bytes = (text: string) => new TextEncoder().encode(text);

function ends(text: string, max = 1 << 20): number[] | null {
  const out: number[] = [];
  return wholeEvents(bytes(text), max, out) ? out : null;
}

describe('wholeEvents', () => {
  it('cuts at LF and CRLF blank lines as SseSplitter does, separators included', () => {
    const text = 'data: a\n\ndata: b\r\n\r\nevent: x\ndata: c\r\n\n: ping\n\ndata: \u00e9\u{1f600}\n\n';
    let at = 0;
    const splitterEnds = new SseSplitter(1 << 20).push(text).events.map((e) => (at += bytes(e).byteLength));
    expect(splitterEnds).toHaveLength(5);
    expect(ends(text)).toEqual(splitterEnds);
  });

  it('is false for a read that ends inside an event, or after a lone line end', () => {
    expect(ends('data: a\n\ndata: b')).toBeNull();
    expect(ends('data: a\n\ndata: b\n')).toBeNull();
    expect(ends('data: a\n\n\n')).toBeNull(); // the last LF opens the next event
    expect(ends('data: a\r\n\r')).toBeNull();
    expect(ends('')).toBeNull();
  });

  it('is false when an event is longer than the cap, so the exact path judges it', () => {
    expect(ends('data: 12345\n\n', 13)).toEqual([13]);
    expect(ends('data: 12345\n\n', 12)).toBeNull();
  });
});

describe('chatEventMayMatter', () => {
  const may = (event: string) => chatEventMayMatter(bytes(`xx${event}yy`), 2, 2 + bytes(event).byteLength);
  const chunk = (extra: Record<string, unknown>) => `data: ${JSON.stringify({ id: 'c', choices: [{ index: 0, delta: { content: 'hi' } }], ...extra })}\n\n`;

  it('content chunks without usage, or with "usage":null (OpenAI once usage is asked for), cannot matter', () => {
    expect(may(chunk({}))).toBe(false);
    expect(may(chunk({ usage: null }))).toBe(false);
    expect(may('data: {"choices":[],"usage" :\tnull}\n\n')).toBe(false);
  });

  it('"usage" written inside a content string is not a member', () => {
    expect(may(chunk({ choices: [{ delta: { content: '"usage":{"prompt_tokens":9}' } }] }))).toBe(false);
    expect(may(chunk({ choices: [{ delta: { content: 'usage' } }] }))).toBe(false);
  });

  it('a usage member with a value, or [DONE], may matter', () => {
    expect(may(chunk({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } }))).toBe(true);
    expect(may('data: {"usage" : {"prompt_tokens":1}}\n\n')).toBe(true);
    expect(may('data: [DONE]\n\n')).toBe(true);
    expect(may('data: {"usage":')).toBe(true); // cut short: judged the exact way
  });

  it('looks only inside its own event', () => {
    const text = 'data: [DONE]\n\ndata: {"a":1}\n\ndata: {"usage":{"x":1}}\n\n';
    expect(chatEventMayMatter(bytes(text), 14, 29)).toBe(false);
  });

  it('whatever it skips, readEvent finds nothing in', () => {
    const events = [
      chunk({}),
      chunk({ usage: null }),
      chunk({ choices: [{ delta: { content: '"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}' } }] }),
      ': keep-alive\n\n',
      'data: {"choices":[],"usage":null}\r\n\r\n',
      'event: x\ndata: {"a":"[DONE"}\n\n',
    ];
    for (const event of events) {
      expect(may(event)).toBe(false);
      expect(readEvent(event, 'chat')).toEqual({ terminal: false, usageOnly: false });
    }
  });

  it('a usage member whose name and value sit on two data lines (SSE joins them with a line feed) may matter', () => {
    const split = 'data: {"choices":[],"usage"\ndata: :{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}\n\n';
    expect(readEvent(split, 'chat')).toMatchObject({ usage: { prompt_tokens: 1 }, usageOnly: true });
    expect(may(split)).toBe(true);
    expect(may(split.replace(/\n(?!\n)/, '\r\n'))).toBe(true);
  });
});
