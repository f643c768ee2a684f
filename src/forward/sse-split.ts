/**
 * Splits decoded SSE text into whole events (each with its blank-line separator) in linear
 * time: each character is searched once — a search resumes where the last one stopped, a
 * pending event is kept as parts and joined once when its separator arrives. (Appending to
 * one string and searching it from the start on every read cost 1.2 s of CPU for a 4 MB
 * event, and an event that never ended grew without bound.)
 *
 * An event longer than `maxEventChars` (the separator not seen by then) is refused: the
 * relay ends the stream with `upstream_event_too_large` (README "Streaming contract").
 */

export interface SplitResult {
  events: string[];
  /** An event passed the cap (ended or not): the events before it are returned; stop splitting. */
  tooLarge: boolean;
}

/**
 * Separators as the relay has always read them: a line end (`\n` or `\r\n`) followed by a
 * blank line's (`\n` or `\r\n`). At most 3 characters of one can sit before a read's end.
 */
const CARRY = 3;

export class SseSplitter {
  /** Characters looked at so far (native searches included): linear in the input. */
  examined = 0;
  private parts: string[] = [];
  private pending = 0;
  /** The pending event's last ≤ 3 characters: a separator may straddle two reads. */
  private tail = '';

  constructor(private readonly maxEventChars: number) {}

  push(chunk: string): SplitResult {
    const events: string[] = [];
    const text = this.tail + chunk;
    // `text[0, carried)` is already in `parts`; once an event is cut, nothing before `cut` is pending.
    const carried = this.tail.length;
    let cut = -1;
    let pos = 0;
    for (;;) {
      const nl = text.indexOf('\n', pos);
      if (nl < 0) {
        this.examined += text.length - pos;
        break;
      }
      this.examined += nl + 1 - pos;
      pos = nl + 1;
      const end = text[pos] === '\n' ? pos + 1 : text[pos] === '\r' && text[pos + 1] === '\n' ? pos + 2 : -1;
      if (end < 0) continue;
      const from = cut < 0 ? carried : cut;
      const event = cut < 0 ? this.parts.join('') + text.slice(from, end) : text.slice(from, end);
      if (event.length > this.maxEventChars) return { events, tooLarge: true };
      events.push(event);
      this.parts = [];
      this.pending = 0;
      cut = end;
      pos = end;
    }
    const restFrom = cut < 0 ? carried : cut;
    const rest = text.slice(restFrom);
    if (rest) this.parts.push(rest);
    this.pending += rest.length;
    // The pending event's last characters: from this read, or carried over when it added fewer.
    const pendingStart = cut < 0 ? 0 : cut;
    this.tail = text.slice(Math.max(pendingStart, text.length - CARRY));
    return { events, tooLarge: this.pending > this.maxEventChars };
  }

  /** Characters of the event not yet ended. */
  get pendingChars(): number {
    return this.pending;
  }
}
