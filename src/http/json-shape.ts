/**
 * What a caller's JSON body may build when parsed, checked on its bytes before `JSON.parse`
 * builds it. Parsed JSON costs memory and CPU by what it holds, not by its size: a 1 MiB body
 * of text or numbers parses to 1–4 MiB, but one of empty containers (`[{},{},…]`) to ~21 MiB
 * in ~0.4 s of CPU, and one nested a million levels (`[[[…]]]`) to ~29 MiB in ~0.5 s (V8,
 * measured) — refused for its depth only after it was built. A request holds its parsed body
 * while it runs: a few such requests at once would end the isolate and every request on it.
 *
 * So a body may nest at most `maxDepth` levels, and hold at most `CONTAINER_FLOOR` + one object
 * or array per `BYTES_PER_CONTAINER` bytes: 69,632 in 1 MiB, ~4 MiB parsed at worst; and at
 * most `MEMBER_FLOOR` + one object member per `BYTES_PER_MEMBER` bytes (`{"a0":0,"a1":0,…}`
 * built ~15× its size, duplicate check included: 49,152 in 1 MiB, ~6 MiB at worst) — both
 * counted on at most `STRUCTURE_CAP_BYTES` (4 MiB) of it: 266,240 and 147,456 at most, however
 * large the body (`limits.maxBodyBytes` is 16 MiB by default); and so array elements
 * (`VALUE_FLOOR` + one comma per `BYTES_PER_VALUE` bytes, 1,114,112 at most). Real
 * requests are far from it (a content part `{"type":"text","text":"…"}` is 25 bytes and
 * more; an embeddings request's 2,048 token arrays fit the floor). One pass over the bytes:
 * strings are jumped with `indexOf`, other bytes skipped in a table-driven loop (~0.5 µs a KB).
 *
 * Bodies under `SHAPE_CHECK_BYTES` are not checked (nearly all: the hot path pays nothing):
 * the worst of them builds ~2 MiB in ~10 ms, what a legitimate 1 MiB body costs, and its depth
 * is still refused after parsing (`scanObject`).
 */
import { RouterError } from '../errors/router-error';
import { COLON, COMMA, OPEN_BRACE, OPEN_BRACKET, QUOTE } from './json-chars';
import { PLAIN, stringEnd } from './json-top';

/** Bodies this large and over are checked. */
export const SHAPE_CHECK_BYTES = 65_536;
/** Objects and arrays any body may hold, whatever its size. */
export const CONTAINER_FLOOR = 4_096;
/** …and one more per this many bytes. */
export const BYTES_PER_CONTAINER = 16;
/** Object members (name: value pairs) any body may hold, whatever its size… */
export const MEMBER_FLOOR = 16_384;
/**
 * …and one more per this many bytes. A member of a distinct name costs ~80 bytes parsed (V8,
 * measured: 1.5M of them in a 13 MB body built 143 MB in 4.4 s) and ~48 more in the
 * duplicate-name check (`json-members.ts`): one per 32 bytes keeps them near 4× the body, the
 * containers' bound. Real bodies are far from it (500 tools without descriptions: one per 11
 * bytes but 6,000 in all, under the floor; text and base64 are members' values).
 */
export const BYTES_PER_MEMBER = 32;

/** Values after the first in their object or array (commas) any body may hold… */
export const VALUE_FLOOR = 65_536;
/**
 * …and one more per this many bytes. An array element costs 8–27 bytes parsed (V8, measured:
 * a 16 MiB body of `[0,0,…]` built 80 MB in 0.9 s, of `[1.5,"",…]` 89 MB in 1.3 s); one per
 * 4 bytes keeps them near 5× the body. Real bodies are far from it: an embeddings request of
 * 300,000 token ids (OpenAI's most) is ~2 MB with one per 6–7 bytes.
 */
export const BYTES_PER_VALUE = 4;

/**
 * Bodies past this size get no more objects, arrays or members than one of this size: a large
 * body is large for its text or media, not its structure. Per byte alone, the 16 MiB default
 * `limits.maxBodyBytes` let one body hold 1.05M objects (93 MB and 1.1 s to parse in V8,
 * measured, beside its 16 MiB of bytes and text): one request near an isolate's 128 MB. At
 * this size the structure built stays under ~40 MB, whatever the body.
 */
export const STRUCTURE_CAP_BYTES = 4 * 1_048_576;

/** The most objects and arrays, object members and separated values a body of `bytes` may hold. */
export function shapeBounds(bytes: number): { containers: number; members: number; values: number } {
  const counted = Math.min(bytes, STRUCTURE_CAP_BYTES);
  return {
    containers: CONTAINER_FLOOR + Math.floor(counted / BYTES_PER_CONTAINER),
    members: MEMBER_FLOOR + Math.floor(counted / BYTES_PER_MEMBER),
    values: VALUE_FLOOR + Math.floor(counted / BYTES_PER_VALUE),
  };
}

/** The same skip table as `json-top.ts`, with `:` (one per object member) and `,` looked at too. */
const SKIP = PLAIN.slice();
SKIP[COLON] = 0;
SKIP[COMMA] = 0;

/**
 * Why a body would build more than it should: `deep` past `maxDepth`, `wide` past its
 * containers, `members` past its object members, `values` past its separated values (commas:
 * array elements, beside members); undefined: fine.
 */
export function jsonShapeFault(bytes: Uint8Array, maxDepth: number): 'deep' | 'wide' | 'members' | 'values' | undefined {
  const { containers: maxContainers, members: maxMembers, values: maxValues } = shapeBounds(bytes.byteLength);
  const to = bytes.byteLength;
  let depth = 0;
  let containers = 0;
  let members = 0;
  let values = 0;
  for (let i = 0; i < to; i++) {
    while (i < to && SKIP[bytes[i]!] === 1) i++;
    if (i >= to) break;
    const c = bytes[i]!;
    if (c === QUOTE) i = stringEnd(bytes, i, to) - 1;
    else if (c === COLON) {
      if (++members > maxMembers) return 'members';
    } else if (c === COMMA) {
      if (++values > maxValues) return 'values';
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return 'deep';
      if (++containers > maxContainers) return 'wide';
    } else depth--;
  }
  return undefined;
}

/** How each width fault is worded: what was counted, and the rule (`shapeBounds`). */
const SHAPE_LIMITS = {
  wide: { bound: 'containers', what: 'objects and arrays', floor: CONTAINER_FLOOR, per: BYTES_PER_CONTAINER },
  values: { bound: 'values', what: 'values in its arrays and objects', floor: VALUE_FLOOR, per: BYTES_PER_VALUE },
  members: { bound: 'members', what: 'object members', floor: MEMBER_FLOOR, per: BYTES_PER_MEMBER },
} as const;

/** Refuses, with a 400 naming the bound, a JSON body that would build more than its size justifies (before it is parsed). */
export function checkJsonShape(bytes: Uint8Array, maxDepth: number): void {
  if (bytes.byteLength < SHAPE_CHECK_BYTES) return;
  const fault = jsonShapeFault(bytes, maxDepth);
  if (fault === 'deep') throw new RouterError(400, `The request body nests objects and arrays more than ${maxDepth} levels deep.`, { code: 'invalid_request' });
  if (fault === undefined) return;
  const bound = shapeBounds(bytes.byteLength)[SHAPE_LIMITS[fault].bound];
  const { what, floor, per } = SHAPE_LIMITS[fault];
  throw new RouterError(400, `The request body holds more than ${bound} ${what} for its ${bytes.byteLength} bytes (${floor} + one per ${per} bytes, counted up to ${STRUCTURE_CAP_BYTES} bytes).`, {
    code: 'invalid_request',
  });
}
