/**
 * Reads a body once, with a size cap, into one buffer: request bodies (so retries can
 * resend the same bytes) and upstream JSON answers (held once, never as bytes + string +
 * parsed copies).
 *
 * The cap is checked against Content-Length up front and again while reading (a peer may
 * send no length, or lie), so an oversized body is refused without being held whole.
 */
import { RouterError } from '../errors/router-error';

/** The body's bytes, or null when it is larger than `limit` (the stream is cancelled). */
export async function readCapped(body: ReadableStream<Uint8Array> | null, declaredLength: string | null, limit: number): Promise<Uint8Array | null> {
  const declared = declaredLength === null ? NaN : Number(declaredLength);
  if (Number.isFinite(declared) && declared > limit) {
    await body?.cancel().catch(() => {});
    return null;
  }
  if (!body) return new Uint8Array();
  const reader = body.getReader();
  // With a truthful length, one buffer is filled in place; otherwise parts are joined once.
  const exact = Number.isFinite(declared) && declared > 0 ? new Uint8Array(declared) : null;
  const parts: Uint8Array[] = [];
  let size = 0;
  let filled = 0; // bytes of `exact` in use; once a chunk overflows it, the rest go to `parts`
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
    if (exact && parts.length === 0 && filled + value.byteLength <= exact.byteLength) {
      exact.set(value, filled);
      filled += value.byteLength;
    } else parts.push(value);
    size += value.byteLength;
  }
  if (exact && parts.length === 0 && filled === exact.byteLength) return exact;
  if (exact && filled > 0) parts.unshift(exact.subarray(0, filled));
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

/**
 * The caller's body. With a declared length within the limit it is read in one native call:
 * the runtime frames a request body by its Content-Length (it never reads past it), and the
 * size is checked again after. Without one, it is read piece by piece under the cap.
 */
export async function readBodyCapped(request: Request, limit: number): Promise<Uint8Array> {
  const length = request.headers.get('content-length');
  const declared = length === null ? NaN : Number(length);
  const whole = Number.isFinite(declared) && declared <= limit && !request.headers.has('transfer-encoding');
  const bytes = whole ? await wholeWithin(request, limit) : await readCapped(request.body, length, limit);
  if (bytes === null) {
    throw new RouterError(413, `Request body is larger than the ${limit}-byte limit.`, { code: 'request_too_large' });
  }
  return bytes;
}

async function wholeWithin(request: Request, limit: number): Promise<Uint8Array | null> {
  const bytes = new Uint8Array(await request.arrayBuffer());
  return bytes.byteLength > limit ? null : bytes;
}
