/**
 * The relay's fast path over raw bytes (`relay.ts`): most reads of a chat stream are whole
 * events none of which can end the stream or carry usage (content chunks). Those are found
 * with byte searches and passed on as they came — no decoding, no splitting into strings, no
 * re-encoding. Anything else goes the exact way (`sse-split.ts`, `sse-event.ts`).
 *
 * Byte positions of `\n` and `\r` are the text's: UTF-8 never uses bytes below 0x80 inside a
 * multi-byte character, so an event boundary found in the bytes is the one the text has.
 */

const LF = 0x0a;
const CR = 0x0d;

/**
 * Fills `ends` with the end offset of each event in `chunk` (its blank-line separator
 * included, as `SseSplitter` cuts them: a line end, `\n` or `\r\n`, then a blank line's) and
 * returns true when the chunk is exactly whole events, each at most `maxEventBytes` long.
 * False (the chunk ends inside an event, or an event is too long to judge by bytes): `ends`
 * means nothing, and the caller takes the exact path.
 */
export function wholeEvents(chunk: Uint8Array, maxEventBytes: number, ends: number[]): boolean {
  ends.length = 0;
  let start = 0;
  let pos = 0;
  for (;;) {
    const nl = chunk.indexOf(LF, pos);
    if (nl < 0) return start === chunk.length && start > 0;
    pos = nl + 1;
    const end = chunk[pos] === LF ? pos + 1 : chunk[pos] === CR && chunk[pos + 1] === LF ? pos + 2 : -1;
    if (end < 0) continue;
    if (end - start > maxEventBytes) return false;
    ends.push(end);
    start = end;
    pos = end;
  }
}

const USAGE = [...'usage"'].map((c) => c.charCodeAt(0));
const NULL = [...'null'].map((c) => c.charCodeAt(0));
const DONE = [...'[DONE]'].map((c) => c.charCodeAt(0));
const QUOTE = 0x22;
const COLON = 0x3a;

function matchesAt(bytes: Uint8Array, at: number, pattern: number[]): boolean {
  for (let k = 0; k < pattern.length; k++) if (bytes[at + k] !== pattern[k]) return false;
  return true;
}

/** JSON whitespace (RFC 8259 §2). */
function skipSpace(bytes: Uint8Array, at: number, end: number): number {
  while (at < end && (bytes[at] === 0x20 || bytes[at] === 0x09 || bytes[at] === LF || bytes[at] === CR)) at++;
  return at;
}

/**
 * Whether a chat-format event in `bytes[start, end)` may end the stream or carry usage: it
 * holds `[DONE]`, or a member named `usage` whose value is not `null`. Inside a JSON string a
 * quote is escaped (`\"`), so `"usage"` followed by `:` is always a member name; content
 * chunks with `"usage":null` (OpenAI sends it on every chunk once usage is asked for) or no
 * `usage` at all are the ones skipped; so is nothing split over `data:` lines after the name.
 * False means `readEvent` would find nothing in it.
 */
export function chatEventMayMatter(bytes: Uint8Array, start: number, end: number): boolean {
  for (let at = bytes.indexOf(DONE[0]!, start); at >= 0 && at < end; at = bytes.indexOf(DONE[0]!, at + 1)) {
    if (matchesAt(bytes, at, DONE)) return true;
  }
  for (let at = bytes.indexOf(USAGE[0]!, start); at >= 0 && at < end; at = bytes.indexOf(USAGE[0]!, at + 1)) {
    if (bytes[at - 1] !== QUOTE || at - 1 < start || !matchesAt(bytes, at, USAGE)) continue;
    const after = at + USAGE.length;
    let next = skipSpace(bytes, after, end);
    // A line break: the data goes on in another `data:` line (SSE joins them), judged the exact way.
    for (let k = after; k < next; k++) if (bytes[k] === LF) return true;
    if (bytes[next] !== COLON) continue; // a string value "usage", not a member name
    next = skipSpace(bytes, next + 1, end);
    if (next + NULL.length > end || !matchesAt(bytes, next, NULL)) return true;
  }
  return false;
}
