import { describe, expect, it } from 'vitest';
import { readEvent } from '../../src/forward/sse-event';

const usage = { input_tokens: 120, output_tokens: 30, total_tokens: 150 };
const ev = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: 1, ...data })}\n\n`;

describe('readEvent: Responses streams', () => {
  it('response.completed ends the stream and carries response.usage, with metadata after it', () => {
    const reading = readEvent(ev('response.completed', { response: { id: 'r', usage, metadata: { usage: '{}' } } }), 'responses');
    expect(reading).toEqual({ terminal: true, usageOnly: false, usage: { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150 } });
  });

  it('caller metadata {"type":"response.completed"} echoed in response.created does not end the stream', () => {
    const reading = readEvent(ev('response.created', { response: { id: 'r', usage: null, metadata: { type: 'response.completed' } } }), 'responses');
    expect(reading.terminal).toBe(false);
  });

  it('usage outside the terminal event (a delta quoting it, a top-level member) is not read', () => {
    const delta = ev('response.output_text.delta', { delta: '"type":"response.completed","usage":{"input_tokens":0}', usage: { input_tokens: 0, output_tokens: 0 } });
    expect(readEvent(delta, 'responses')).toEqual({ terminal: false, usageOnly: false });
  });

  it('response.incomplete and response.failed end the stream too', () => {
    expect(readEvent(ev('response.incomplete', { response: { usage } }), 'responses').terminal).toBe(true);
    expect(readEvent(ev('response.failed', { response: { usage: null } }), 'responses')).toEqual({ terminal: true, usageOnly: false });
  });
});

describe('readEvent: chat streams', () => {
  it('the usage chunk: top-level usage with choices: []', () => {
    const chunk = `data: ${JSON.stringify({ id: 'c', choices: [], usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 } })}\n\n`;
    expect(readEvent(chunk, 'chat')).toEqual({ terminal: false, usageOnly: true, usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 } });
  });

  it('a content chunk whose text quotes a usage object reports none', () => {
    const chunk = `data: ${JSON.stringify({ choices: [{ delta: { content: '"usage":{"prompt_tokens":0,"completion_tokens":0}' } }], usage: null })}\n\n`;
    expect(readEvent(chunk, 'chat')).toEqual({ terminal: false, usageOnly: false });
  });

  it('data: [DONE] ends the stream', () => {
    expect(readEvent('data: [DONE]\n\n', 'chat').terminal).toBe(true);
  });
});

describe('readEvent: data lines', () => {
  it('joins several data lines of one event, CRLF or LF, before reading it', () => {
    const event = 'event: response.completed\r\ndata: {"type":"response.completed",\r\ndata: "response":{"usage":{"input_tokens":2,"output_tokens":1}}}\r\n\r\n';
    expect(readEvent(event, 'responses')).toMatchObject({ terminal: true, usage: { prompt_tokens: 2, completion_tokens: 1 } });
  });

  it('reads a single CRLF data line', () => {
    expect(readEvent('data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}\r\n\r\n', 'chat').usage).toMatchObject({ total_tokens: 3 });
  });
});
