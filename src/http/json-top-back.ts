/**
 * The last top-level member of a given name of a JSON object's text, found walking backward
 * from its end: usage is the last or nearly last member of an OpenAI answer (`usage`, then
 * `system_fingerprint` or a Responses object's `user` and `metadata`), so settlement reads it
 * without scanning the `choices` or `output` before it (`json-top.ts` scans forward from
 * the start). The first match from the end is the last in the text, which is the one
 * `JSON.parse` keeps when a name repeats.
 *
 * Still structural (DESIGN "Settlement reads usage structurally"): only members of the
 * outermost object are read; a string is crossed from its closing quote to its opening one,
 * the first quote before it that is not escaped — in valid JSON a quote inside a string
 * follows an odd run of backslashes (its escape, after escaped backslashes) and an opening
 * quote follows none — so quoted `"usage":{…}` in model text or in caller `metadata` is
 * never taken for the answer's own. On anything shaped otherwise than an upstream
 * serialiser writes, the walk gives up (`null`) and the caller scans forward instead.
 */
import { BACKSLASH, CLOSE_BRACE, CLOSE_BRACKET, COLON, COMMA, isSpace, OPEN_BRACE, OPEN_BRACKET, QUOTE } from './json-chars';
import type { ValueSpan } from './json-top';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function spaceBefore(text: Uint8Array, i: number): number {
  while (i >= 0 && isSpace(text[i]!)) i--;
  return i;
}

/** Index of the opening quote of the string whose closing quote is at `close`; -1 if none. */
function stringStart(text: Uint8Array, close: number): number {
  let from = close - 1;
  while (from >= 0) {
    const q = text.lastIndexOf(QUOTE, from);
    if (q < 0) return -1;
    let slashes = 0;
    for (let k = q - 1; k >= 0 && text[k] === BACKSLASH; k--) slashes++;
    if (slashes % 2 === 0) return q;
    from = q - 1;
  }
  return -1;
}

/** Start of the value whose last byte is at `last`; -1 when it has none. */
function valueStart(text: Uint8Array, last: number): number {
  const c = text[last]!;
  if (c === QUOTE) return stringStart(text, last);
  if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
    let depth = 0;
    for (let i = last; i >= 0; i--) {
      const d = text[i]!;
      if (d === QUOTE) {
        i = stringStart(text, i);
        if (i < 0) return -1;
      } else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) depth++;
      else if ((d === OPEN_BRACE || d === OPEN_BRACKET) && --depth === 0) return i;
    }
    return -1;
  }
  // A number, true, false or null: back to the colon or the space before it.
  let i = last;
  while (i > 0 && !isSpace(text[i - 1]!) && text[i - 1] !== COLON && text[i - 1] !== QUOTE) i--;
  return i;
}

/** Whether the member name quoted at `[open, close]` is `name` (bytes compared; escaped names unescaped). */
function nameIs(text: Uint8Array, open: number, close: number, name: string, wanted: Uint8Array): boolean | null {
  const raw = text.subarray(open + 1, close);
  if (raw.includes(BACKSLASH)) {
    try {
      return JSON.parse(decoder.decode(text.subarray(open, close + 1))) === name;
    } catch {
      return null;
    }
  }
  if (raw.byteLength !== wanted.byteLength) return false;
  for (let k = 0; k < wanted.byteLength; k++) if (raw[k] !== wanted[k]) return false;
  return true;
}

/**
 * The span of the last top-level member `name` of the object `text` holds: undefined when it
 * has none (or is not an object, as for `topLevelMembers`); null when the text is not shaped
 * as valid JSON, for the caller to scan forward.
 */
export function lastTopLevelMember(text: Uint8Array, name: string): ValueSpan | undefined | null {
  let first = 0;
  while (first < text.byteLength && isSpace(text[first]!)) first++;
  if (text[first] !== OPEN_BRACE) return undefined;
  let i = spaceBefore(text, text.byteLength - 1);
  if (i <= first || text[i] !== CLOSE_BRACE) return null;
  i = spaceBefore(text, i - 1);
  if (i === first) return undefined; // {}
  const wanted = encoder.encode(name);
  for (;;) {
    const last = i;
    const start = valueStart(text, last);
    if (start <= first) return null;
    i = spaceBefore(text, start - 1);
    if (text[i] !== COLON) return null;
    const close = spaceBefore(text, i - 1);
    if (text[close] !== QUOTE) return null;
    const open = stringStart(text, close);
    if (open <= first) return null;
    const match = nameIs(text, open, close, name, wanted);
    if (match === null) return null;
    if (match) return { start, end: last + 1 };
    i = spaceBefore(text, open - 1);
    if (i === first) return undefined;
    if (text[i] !== COMMA) return null;
    i = spaceBefore(text, i - 1);
  }
}
