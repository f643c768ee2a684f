/**
 * One meaning per body: a single pass over request JSON text that
 *  - refuses duplicate member names at any depth (`{"model":"a","model":"b"}` reads as `b`
 *    to JSON.parse and as `a` to some upstream parsers — the router must never check one
 *    model and forward another), comparing names after unescaping (`"mod\u0065l"` is `model`)
 *    and case folding (`"MAX_TOKENS"` is `max_tokens` to Go's `encoding/json`: `foldName`);
 *  - measures how deep objects and arrays nest, and stops at once past `maxDepth`;
 *  - records where each top-level member's value lies, so the router can change a few
 *    top-level fields (`model`, `stream_options`, a token cap) by splicing text, leaving
 *    every other byte as the caller sent it — integers beyond 2^53 (`seed`) stay exact,
 *    which a JSON.parse/JSON.stringify round trip would not guarantee.
 *
 * The text must already have passed JSON.parse (the scanner trusts the syntax). Strings are
 * skipped with indexOf, so a 400 KB base64 image costs a few native searches, not a loop
 * over every character.
 */
import { BACKSLASH, CLOSE_BRACE, CLOSE_BRACKET, COLON, COMMA, isSpace, OPEN_BRACE, OPEN_BRACKET, QUOTE } from './json-chars';

export interface MemberSpan {
  /** Index of the opening quote of the member's name. */
  nameStart: number;
  /** Index just past the closing quote of the name. */
  nameEnd: number;
  valueStart: number;
  /** Index just past the value. */
  valueEnd: number;
}

export interface ScannedObject {
  text: string;
  /** Top-level members by (unescaped) name. */
  members: Map<string, MemberSpan>;
  /** Index of the top-level object's closing brace. */
  closeBrace: number;
  /** Deepest nesting of objects and arrays (the top-level object is 1). */
  depth: number;
}

/** Nesting past `maxDepth` is reported before any duplicate, wherever each lies. */
export type ScanResult = { ok: true; object: ScannedObject } | { ok: false; duplicate: string; path: string } | { ok: false; tooDeep: true };

interface Frame {
  kind: 'object' | 'array';
  names?: Set<string>;
  /** Path segment of this container within its parent. */
  label: string;
  /** Objects: the next string is a member name. */
  expectName: boolean;
  /** Arrays: index of the current element. */
  index: number;
  currentName?: string;
}


/** End index (exclusive) of the string starting at `start` (a quote). */
function stringEnd(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const q = text.indexOf('"', from);
    if (q < 0) return text.length;
    let slashes = 0;
    for (let k = q - 1; text.charCodeAt(k) === BACKSLASH; k--) slashes++;
    if (slashes % 2 === 0) return q + 1;
    from = q + 1;
  }
}

function isDelimiter(c: number): boolean {
  return isSpace(c) || c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET;
}

function pathOf(stack: Frame[], name: string): string {
  return [...stack.slice(1).map((f) => f.label), name].join('.').replace(/\.\[/g, '[');
}

/**
 * A member name as case-insensitive parsers match it: Go's `encoding/json` (Ollama and other
 * Go nodes) fills a field from any name equal under Unicode case folding — `MAX_TOKENS`,
 * `ſtream` (long s), `K` (Kelvin) — the last one winning. Upper then lower case folds those.
 */
export function foldName(name: string): string {
  return /^[a-z0-9_]*$/.test(name) ? name : name.toUpperCase().toLowerCase();
}

/** Scan a JSON object's text (already validated by JSON.parse). */
export function scanObject(text: string, maxDepth = Infinity): ScanResult {
  const members = new Map<string, MemberSpan>();
  const stack: Frame[] = [];
  let closeBrace = -1;
  let depthSeen = 0;
  // The first duplicate; the scan goes on, since nesting too deep anywhere is reported first.
  let duplicate: { duplicate: string; path: string } | undefined;
  // The top-level member being read: its name, then (once known) where its value starts.
  let pending: { name: string; nameStart: number; nameEnd: number; valueStart?: number } | undefined;
  const finish = (valueStart: number, valueEnd: number) => {
    members.set(pending!.name, { nameStart: pending!.nameStart, nameEnd: pending!.nameEnd, valueStart, valueEnd });
    pending = undefined;
  };

  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isSpace(c) || c === COLON) continue;
    const top = stack[stack.length - 1];
    const depth = stack.length;
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (top?.kind === 'object' && top.expectName) {
        const raw = text.slice(i + 1, end - 1);
        const name = raw.includes('\\') ? (JSON.parse(text.slice(i, end)) as string) : raw;
        const folded = foldName(name);
        if (top.names!.has(folded)) duplicate ??= { duplicate: name, path: pathOf(stack, name) };
        top.names!.add(folded);
        top.currentName = name;
        top.expectName = false;
        if (depth === 1) pending = { name, nameStart: i, nameEnd: end };
      } else if (depth === 1 && pending) {
        finish(i, end);
      }
      i = end - 1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (depth === 1 && pending) pending.valueStart = i;
      const label = top === undefined ? '' : top.kind === 'array' ? `[${top.index}]` : (top.currentName ?? '');
      const kind = c === OPEN_BRACE ? 'object' : 'array';
      stack.push({ kind, label, expectName: kind === 'object', index: 0, ...(kind === 'object' ? { names: new Set<string>() } : {}) });
      if (stack.length > depthSeen) {
        depthSeen = stack.length;
        if (depthSeen > maxDepth) return { ok: false, tooDeep: true };
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      stack.pop();
      if (stack.length === 0) closeBrace = i;
      else if (stack.length === 1 && pending?.valueStart !== undefined) finish(pending.valueStart, i + 1);
    } else if (c === COMMA) {
      if (top?.kind === 'object') top.expectName = true;
      else if (top) top.index++;
    } else {
      // a number, true, false or null: runs to the next delimiter
      let j = i + 1;
      while (j < text.length && !isDelimiter(text.charCodeAt(j))) j++;
      if (depth === 1 && pending) finish(i, j);
      i = j - 1;
    }
  }
  if (duplicate) return { ok: false, ...duplicate };
  return { ok: true, object: { text, members, closeBrace, depth: depthSeen } };
}

/**
 * Top-level edits applied to the caller's text: `set` replaces a member's value (or appends
 * the member), `rename` changes a member's name and keeps its value bytes. Nothing else moves.
 */
export interface MemberEdits {
  set?: Record<string, unknown>;
  rename?: Record<string, string>;
}

export function spliceMembers(scanned: ScannedObject, edits: MemberEdits): string {
  const { text, members, closeBrace } = scanned;
  const patches: { start: number; end: number; insert: string }[] = [];
  const appended: string[] = [];
  for (const [name, value] of Object.entries(edits.set ?? {})) {
    const span = members.get(name);
    const json = JSON.stringify(value);
    if (span) patches.push({ start: span.valueStart, end: span.valueEnd, insert: json });
    else appended.push(`${JSON.stringify(name)}:${json}`);
  }
  for (const [from, to] of Object.entries(edits.rename ?? {})) {
    const span = members.get(from);
    if (span) patches.push({ start: span.nameStart, end: span.nameEnd, insert: JSON.stringify(to) });
  }
  if (appended.length > 0) {
    const empty = members.size === 0;
    patches.push({ start: closeBrace, end: closeBrace, insert: `${empty ? '' : ','}${appended.join(',')}` });
  }
  patches.sort((a, b) => b.start - a.start);
  let out = text;
  for (const p of patches) out = out.slice(0, p.start) + p.insert + out.slice(p.end);
  return out;
}
