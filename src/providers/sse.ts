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
  /** Pieces of the line not yet ended (kept apart so a long line is never re-copied per piece). */
  #pending: string[] = [];
  /** The last piece ended in CR: an LF opening the next piece is the same line end. */
  #skipLf = false;
  #event: string | undefined;
  #data: string[] = [];

  /** Feed decoded text; returns the events completed by it. Work is linear in `text`. */
  push(text: string): SseEvent[] {
    const out: SseEvent[] = [];
    let start = this.#skipLf && text.startsWith('\n') ? 1 : 0;
    if (text.length > 0) this.#skipLf = false;
    const eol = /\r\n|\r|\n/g;
    eol.lastIndex = start;
    for (let found = eol.exec(text); found; found = eol.exec(text)) {
      const piece = text.slice(start, found.index);
      const line = this.#pending.length > 0 ? this.#pending.join('') + piece : piece;
      this.#pending = [];
      this.#line(line, out);
      start = found.index + found[0].length;
      if (found[0] === '\r' && start === text.length) this.#skipLf = true;
    }
    if (start < text.length) this.#pending.push(text.slice(start));
    return out;
  }

  /** The stream ended: an event without its closing blank line is dropped, as the spec says. */
  end(): SseEvent[] {
    this.#pending = [];
    this.#skipLf = false;
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
