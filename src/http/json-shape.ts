/**
 * What a caller's JSON body may build when parsed, checked on its bytes before `JSON.parse`
 * builds it. Parsed JSON costs memory and CPU by what it holds, not by its size: a 1 MiB body
 * of text or numbers parses to 1–4 MiB, but one of empty containers (`[{},{},…]`) to ~21 MiB
 * in ~0.4 s of CPU, and one nested a million levels (`[[[…]]]`) to ~29 MiB in ~0.5 s (V8,
 * measured) — refused for its depth only after it was built. A request holds its parsed body
 * while it runs: a few such requests at once would end the isolate and every request on it.
 *
 * So a body may nest at most `maxDepth` levels, and hold at most `CONTAINER_FLOOR` + one object
 * or array per `BYTES_PER_CONTAINER` bytes: 69,632 in 1 MiB, ~4 MiB parsed at worst. Real
 * requests are far from it (a content part `{"type":"text","text":"…"}` is 25 bytes and
 * more; an embeddings request's 2,048 token arrays fit the floor). One pass over the bytes:
 * strings are jumped with `indexOf`, other bytes skipped in a table-driven loop (~0.5 µs a KB).
 *
 * Bodies under `SHAPE_CHECK_BYTES` are not checked (nearly all: the hot path pays nothing):
 * the worst of them builds ~2 MiB in ~10 ms, what a legitimate 1 MiB body costs, and its depth
 * is still refused after parsing (`scanObject`).
 */
import { RouterError } from '../errors/router-error';
import { OPEN_BRACE, OPEN_BRACKET, QUOTE } from './json-chars';
import { PLAIN, stringEnd } from './json-top';

/** Bodies this large and over are checked. */
export const SHAPE_CHECK_BYTES = 65_536;
/** Objects and arrays any body may hold, whatever its size. */
export const CONTAINER_FLOOR = 4_096;
/** …and one more per this many bytes. */
export const BYTES_PER_CONTAINER = 16;

/** Why a body would build more than it should: `deep` past `maxDepth`, `wide` past its containers; undefined: fine. */
export function jsonShapeFault(bytes: Uint8Array, maxDepth: number): 'deep' | 'wide' | undefined {
  const maxContainers = CONTAINER_FLOOR + Math.floor(bytes.byteLength / BYTES_PER_CONTAINER);
  const to = bytes.byteLength;
  let depth = 0;
  let containers = 0;
  for (let i = 0; i < to; i++) {
    while (i < to && PLAIN[bytes[i]!] === 1) i++;
    if (i >= to) break;
    const c = bytes[i]!;
    if (c === QUOTE) i = stringEnd(bytes, i, to) - 1;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return 'deep';
      if (++containers > maxContainers) return 'wide';
    } else depth--;
  }
  return undefined;
}

/** Refuses, with a 400 naming the bound, a JSON body that would build more than its size justifies (before it is parsed). */
export function checkJsonShape(bytes: Uint8Array, maxDepth: number): void {
  if (bytes.byteLength < SHAPE_CHECK_BYTES) return;
  const fault = jsonShapeFault(bytes, maxDepth);
  if (fault === 'deep') throw new RouterError(400, `The request body nests objects and arrays more than ${maxDepth} levels deep.`, { code: 'invalid_request' });
  if (fault === 'wide') {
    const max = CONTAINER_FLOOR + Math.floor(bytes.byteLength / BYTES_PER_CONTAINER);
    throw new RouterError(400, `The request body holds more than ${max} objects and arrays for its ${bytes.byteLength} bytes (${CONTAINER_FLOOR} + one per ${BYTES_PER_CONTAINER} bytes).`, {
      code: 'invalid_request',
    });
  }
}
