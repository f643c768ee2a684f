/** Character codes the JSON scanners (`json-members.ts` on text, `json-top.ts` on bytes) look for: the same in UTF-16 and UTF-8. */
export const QUOTE = 34;
export const BACKSLASH = 92;
export const COLON = 58;
export const COMMA = 44;
export const OPEN_BRACE = 123;
export const CLOSE_BRACE = 125;
export const OPEN_BRACKET = 91;
export const CLOSE_BRACKET = 93;

/** JSON's whitespace: space, tab, line feed, carriage return. */
export function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}
