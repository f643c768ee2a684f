/**
 * Reads named top-level members out of a JSON object's text without parsing the rest: the
 * values it skips are never built into objects, strings are jumped over with `indexOf`.
 *
 * Settlement uses it to read `usage` from an upstream answer structurally (the invariant in
 * DESIGN "Settlement reads usage structurally"): text a caller can influence — `metadata`
 * echoed after `usage`, model output quoting `"usage":{…}` — sits inside strings or nested
 * objects and is never taken for the answer's own member. On a 16 MiB answer one scan costs
 * a fraction of a `JSON.parse` and allocates nothing but the spans (README "Usage and cost").
 *
 * The text is trusted to be JSON as an upstream serialiser writes it; on anything else the
 * spans may be wrong, and the caller's `JSON.parse` of a span fails (usage then unknown).
 */
import { BACKSLASH, CLOSE_BRACE, CLOSE_BRACKET, COLON, COMMA, isSpace, OPEN_BRACE, OPEN_BRACKET, QUOTE } from './json-chars';

export interface ValueSpan {
  start: number;
  /** Just past the value. */
  end: number;
}

const decoder = new TextDecoder();

/** 1 for bytes that never change the structure outside a string (all but quotes and brackets). */
export const PLAIN = new Uint8Array(256).fill(1);
for (const c of [QUOTE, OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, CLOSE_BRACKET]) PLAIN[c] = 0;

/** End index (exclusive) of the string starting at `start` (a quote); `to` if it never closes. */
export function stringEnd(text: Uint8Array, start: number, to: number): number {
  let from = start + 1;
  for (;;) {
    const q = text.indexOf(QUOTE, from);
    if (q < 0 || q >= to) return to;
    let slashes = 0;
    for (let k = q - 1; text[k] === BACKSLASH; k--) slashes++;
    if (slashes % 2 === 0) return q + 1;
    from = q + 1;
  }
}


/**
 * The value spans of the wanted top-level members of the object in `text[from, to)`; the last
 * of a repeated name wins, as in `JSON.parse`. Not an object: no members.
 */
export function topLevelMembers(text: Uint8Array, wanted: readonly string[], from = 0, to = text.byteLength): Map<string, ValueSpan> {
  const found = new Map<string, ValueSpan>();
  let i = from;
  while (i < to && isSpace(text[i]!)) i++;
  if (text[i]! !== OPEN_BRACE) return found;
  let depth = 0;
  let expectName = false;
  let current: string | null = null; // the wanted top-level member whose value comes next
  let valueStart = -1;
  for (; i < to; i++) {
    // Inside a nested value only quotes and brackets matter: skip the rest (numbers, commas) in a tight loop.
    if (depth > 1) while (i < to && PLAIN[text[i]!] === 1) i++;
    const c = text[i]!;
    if (c === QUOTE) {
      const end = stringEnd(text, i, to);
      if (depth === 1) {
        if (expectName) {
          const raw = text.subarray(i, end);
          const name = raw.includes(BACKSLASH) ? (JSON.parse(decoder.decode(raw)) as string) : decoder.decode(raw.subarray(1, -1));
          current = wanted.includes(name) ? name : null;
          expectName = false;
        } else if (current !== null) {
          found.set(current, { start: i, end });
          current = null;
        }
      }
      i = end - 1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (depth === 1 && current !== null) valueStart = i;
      depth++;
      if (depth === 1) expectName = true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      if (depth === 0) break;
      if (depth === 1 && current !== null) {
        found.set(current, { start: valueStart, end: i + 1 });
        current = null;
      }
    } else if (depth === 1) {
      if (c === COMMA) expectName = true;
      else if (current !== null && !isSpace(c) && c !== COLON) {
        // a number, true, false or null: runs to the next delimiter
        let j = i + 1;
        for (; j < to; j++) {
          const d = text[j]!;
          if (isSpace(d) || d === COMMA || d === CLOSE_BRACE) break;
        }
        found.set(current, { start: i, end: j });
        current = null;
        i = j - 1;
      }
    }
  }
  return found;
}

/** JSON bytes parsed; undefined when there are none or they are not JSON. */
export function parseJsonBytes(bytes: Uint8Array | undefined): unknown {
  try {
    return JSON.parse(decoder.decode(bytes ?? new Uint8Array()));
  } catch {
    return undefined;
  }
}

/** The value at `span` (from `topLevelMembers`), parsed; undefined when absent or not JSON. */
export function spanValue(text: Uint8Array, span: ValueSpan | undefined): unknown {
  return span ? parseJsonBytes(text.subarray(span.start, span.end)) : undefined;
}

/** The wanted member's value, parsed; undefined when absent or not JSON. */
export function topLevelValue(text: Uint8Array, name: string, from = 0, to = text.byteLength): unknown {
  return spanValue(text, topLevelMembers(text, [name], from, to).get(name));
}
