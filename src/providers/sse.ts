/**
 * A small incremental SSE decoder (WHATWG HTML "Server-sent events" §9.2.6, the parts LLM
 * APIs use: `event:` and `data:` fields, multi-line data joined by `\n`, comments ignored,
 * CR/LF/CRLF line ends). Fed text as it arrives; yields each event once its blank line
 * arrives. Work per call is proportional to the text fed, never to what came before.
 */

export interface SseEvent {
  event?: string;
  data: string;
}

export class SseDecoder {
  #buffer = '';
  /** How far the unfinished line in the buffer has already been searched for a line end. */
  #scanned = 0;
  #event: string | undefined;
  #data: string[] = [];

  /** Feed decoded text; returns the events completed by it. */
  push(text: string): SseEvent[] {
    this.#buffer += text;
    const out: SseEvent[] = [];
    let start = 0;
    const eol = /\r\n|\r|\n/g;
    let from = this.#scanned;
    for (;;) {
      eol.lastIndex = from;
      const found = eol.exec(this.#buffer);
      if (!found) break;
      // A lone CR at the very end may be the first half of CRLF: wait for the next byte.
      if (found[0] === '\r' && found.index + 1 === this.#buffer.length) break;
      this.#line(this.#buffer.slice(start, found.index), out);
      start = found.index + found[0].length;
      from = start;
    }
    this.#buffer = this.#buffer.slice(start);
    // Resume the next search where this one stopped (less a trailing CR, which may pair with LF).
    this.#scanned = Math.max(0, this.#buffer.length - (this.#buffer.endsWith('\r') ? 1 : 0));
    return out;
  }

  /** The stream ended: an event without its closing blank line is dropped, as the spec says. */
  end(): SseEvent[] {
    this.#buffer = '';
    this.#scanned = 0;
    this.#event = undefined;
    this.#data = [];
    return [];
  }

  #line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.#data.length > 0) out.push({ ...(this.#event !== undefined ? { event: this.#event } : {}), data: this.#data.join('\n') });
      this.#event = undefined;
      this.#data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
  }
}

/** One SSE frame: `event:` line if named, one `data:` line (JSON never holds a raw newline). */
export function sseFrame(data: unknown, event?: string): string {
  const payload = typeof data === 'string' ? data : JSON.stringify(data);
  return `${event !== undefined ? `event: ${event}\n` : ''}data: ${payload}\n\n`;
}
