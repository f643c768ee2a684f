/**
 * Reads a body once, with a size cap, into one buffer: request bodies (so retries can
 * resend the same bytes) and upstream JSON answers (held once, never as bytes + string +
 * parsed copies).
 *
 * The cap is checked against Content-Length up front and again while reading (a peer may
 * send no length, or lie), so an oversized body is refused without being held whole. A
 * caller's oversized upload is read and discarded to a bound before the 413, so a client
 * that sends its whole body before reading reads the answer (`drainUpload`).
 */
import { RouterError } from '../errors/router-error';
import { concatBytes } from './concat-bytes';

/**
 * What happens to the rest of a body past its cap: by default it is cancelled (an upstream
 * answer: stop the download); a caller's upload is drained instead (`drainUpload`).
 */
export type Overflow = (body: ReadableStream<Uint8Array>, reader?: ReadableStreamDefaultReader<Uint8Array>) => Promise<void>;

const cancel: Overflow = (body, reader) => (reader ?? body).cancel().catch(() => {});

/**
 * The body's bytes, or null when it is larger than `limit` (the rest goes to `overflow`) or
 * when `late` resolves first (the body is cancelled then: its sender is cut off).
 */
export async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  declaredLength: string | null,
  limit: number,
  overflow: Overflow = cancel,
  late?: Promise<'late'>,
): Promise<Uint8Array | null> {
  const declared = declaredLength === null ? NaN : Number(declaredLength);
  if (Number.isFinite(declared) && declared > limit) {
    if (body) await overflow(body);
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
    const read = late ? await Promise.race([reader.read(), late]) : await reader.read();
    if (read === 'late') {
      await cancel(body, reader);
      return null;
    }
    const { done, value } = read;
    if (done) break;
    if (size + value.byteLength > limit) {
      await overflow(body, reader);
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
  return parts.length === 1 ? parts[0]! : concatBytes(parts, size);
}

/**
 * An upstream answer's bytes, or null when larger than `limit`. Framed by a Content-Length
 * within the limit and sent with no content or transfer coding, it is read in one native
 * call: the runtime never reads an HTTP/1.1 body past its length, and the size is checked
 * again after. A coded body (gzip: its length is the compressed size, the runtime hands out
 * the decoded bytes) or one without a length is read piece by piece under the cap.
 */
export async function readAnswerCapped(response: Response, limit: number): Promise<Uint8Array | null> {
  const headers = response.headers;
  const length = headers.get('content-length');
  const declared = length === null ? NaN : Number(length);
  if (Number.isFinite(declared) && declared <= limit && !headers.has('content-encoding') && !headers.has('transfer-encoding')) {
    const bytes = await response.bytes();
    return bytes.byteLength > limit ? null : bytes;
  }
  return readCapped(response.body, length, limit);
}

/**
 * The caller's body. With a declared length within the limit it is read in one native call:
 * the runtime frames a request body by its Content-Length (it never reads past it), and the
 * size is checked again after. Without one, it is read piece by piece under the cap.
 *
 * The whole body must arrive within `withinMs` (`limits.bodyReadMs`), or the request is a 408
 * `request_timeout`: a caller who stalls or trickles his body holds no request open — nor,
 * for a large body, its room in the isolate's body budget — past it. A body read piece by
 * piece is cancelled then; one read natively is let go with the request (its read cannot be
 * cancelled while it runs), which the runtime ends as the 408 leaves.
 */
export async function readBodyCapped(request: Request, limit: number, withinMs: number): Promise<Uint8Array> {
  const length = request.headers.get('content-length');
  const declared = length === null ? NaN : Number(length);
  const whole = Number.isFinite(declared) && declared <= limit && !request.headers.has('transfer-encoding');
  const drainBytes = Math.max(2 * limit, DRAIN_MIN_BYTES);
  // A declared length past what would be drained: answer at once (the upload is cut).
  const overflow: Overflow = Number.isFinite(declared) && declared > drainBytes ? cancel : (body, reader) => drainUpload(body, reader, drainBytes);
  // The runtime's own timer (`AbortSignal.timeout`): nothing to clear on the hot path, where a JS
  // setTimeout/clearTimeout pair is a measurable cost (`fetch-within.ts`).
  const deadline = AbortSignal.timeout(withinMs);
  const late = new Promise<'late'>((resolve) => deadline.addEventListener('abort', () => resolve('late'), { once: true }));
  const reading = whole ? request.bytes() : readCapped(request.body, length, limit, overflow, late);
  let bytes: Uint8Array | null | 'late';
  try {
    bytes = await Promise.race([reading, late]);
  } catch {
    // The caller's connection broke mid-body: his fault, not the router's (no 500, no stack in the log).
    throw new RouterError(400, 'The request body ended before it was complete (the connection was lost).', { code: 'request_body_incomplete' });
  }
  if (bytes === 'late') {
    reading.catch(() => {}); // the read left behind fails when the runtime ends the request
    throw new RouterError(408, `The request body did not arrive within ${withinMs} ms (limits.bodyReadMs); send it whole and promptly.`, { code: 'request_timeout' });
  }
  // Whole: the size is checked again after the read.
  if (bytes === null || bytes.byteLength > limit) {
    throw new RouterError(413, `Request body is larger than the ${limit}-byte limit.`, { code: 'request_too_large' });
  }
  return bytes;
}

/** A too-large upload is read and discarded up to at least this many bytes before the 413. */
export const DRAIN_MIN_BYTES = 64 * 1_048_576;
/** …and for at most this long: a client trickling its upload does not hold the request open. */
export const DRAIN_MAX_MS = 10_000;

/**
 * Reads and discards the rest of a too-large upload, up to `maxBytes` and `DRAIN_MAX_MS`,
 * then cancels what is left. A client such as Node's `fetch` writes its whole body before it
 * reads the answer: answered while still uploading, it saw the connection reset (EPIPE)
 * instead of the 413. Bodies past the bound may still be cut.
 *
 * Read through a BYOB reader into one reused 1 MiB buffer: a 60 MiB upload is ~170 reads and
 * ~80 ms of workerd CPU, where the default reader's 4 KiB chunks took 15,000 reads and ~800 ms.
 */
export async function drainUpload(body: ReadableStream<Uint8Array>, held: ReadableStreamDefaultReader<Uint8Array> | undefined, maxBytes: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeUp = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), DRAIN_MAX_MS)));
  held?.releaseLock();
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = body.getReader({ mode: 'byob' });
  } catch {
    // not a byte stream: chunks as they come
  }
  const reader = byob ?? body.getReader();
  try {
    let buffer = new ArrayBuffer(1 << 20);
    for (let drained = 0; drained <= maxBytes; ) {
      const next = byob ? byob.read(new Uint8Array(buffer)) : (reader as ReadableStreamDefaultReader<Uint8Array>).read();
      const read = await Promise.race([next, timeUp]);
      if (read === 'late' || read.done) break;
      drained += read.value.byteLength;
      if (read.value.buffer.byteLength === 1 << 20) buffer = read.value.buffer as ArrayBuffer;
    }
  } catch {
    // the client went away: nothing left to drain
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
}
