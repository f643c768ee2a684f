/**
 * How a piece of prompt text is counted, pure: the rules `limits.promptTokens` names
 * (`estimate.ts` walks a body and counts each string by one of them).
 */

/**
 * How text is counted (`estimate.ts`'s module header): `bound`, its UTF-8 bytes (a proven bound), or
 * `estimate`, the 4-ASCII-characters-a-token heuristic (not a bound).
 */
export type PromptRule = 'bound' | 'estimate';

/** Tokens of a piece of text by `rule` (default `bound`). */
export function textTokens(text: string, rule: PromptRule = 'bound'): number {
  return rule === 'bound' ? utf8Bytes(text) : estimatedTokens(text);
}

/**
 * UTF-8 length, without encoding: ASCII 1 byte, U+0080–07FF 2, the rest of the BMP 3, a
 * surrogate pair (astral) 4. A lone surrogate leaves as U+FFFD, 3 bytes, like the rest.
 */
export function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

const isLowSurrogate = (c: number) => c >= 0xdc00 && c <= 0xdfff;

function estimatedTokens(text: string): number {
  let ascii = 0;
  let other = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) ascii++;
    else if (c >= 0xd800 && c <= 0xdbff) {
      other += 2; // a surrogate pair: one astral character
      i++;
    } else other++;
  }
  return Math.ceil(ascii / 4) + other;
}
