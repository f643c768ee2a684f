/**
 * Reads a request body once, with a size cap, so retries can resend the same bytes.
 *
 * The cap is checked against Content-Length up front and again while streaming (a client
 * may send no length, or lie), so an oversized body is refused without being held whole.
 */
import { RouterError } from '../errors/router-error';

function tooLarge(limit: number): RouterError {
  return new RouterError(413, `Request body is larger than the ${limit}-byte limit.`, { code: 'request_too_large' });
}

export async function readBodyCapped(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    parts.push(value);
  }
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}
