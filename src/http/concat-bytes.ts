/**
 * Byte arrays joined into one new array (always a copy: callers may reuse the parts' buffers
 * afterwards, as the stream relay does with its reads).
 */
export function concatBytes(parts: readonly Uint8Array[], size = parts.reduce((n, p) => n + p.byteLength, 0)): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
