/**
 * Incremental decoder of AWS's binary event stream (`application/vnd.amazon.eventstream`,
 * AWS "Event stream encoding"): frames of `[total length u32][headers length u32][prelude
 * CRC32][headers][payload][message CRC32]`. Framing is done here (a frame can arrive split
 * over any number of reads, or many in one read); each complete frame is decoded and its
 * checksums verified by `@smithy/eventstream-codec`, AWS's own codec.
 *
 * Work is linear in the bytes fed: complete frames are decoded in place; the pieces of an
 * unfinished frame are held apart and joined once, when the frame is complete.
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { concatBytes } from '../../http/concat-bytes';

/** AWS caps an event stream message at 16 MiB (prelude's total length). */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;
const MIN_FRAME_BYTES = 16;

export interface EventFrame {
  /** `:message-type`: `event`, `exception` or `error`. */
  messageType: string;
  /** `:event-type` (events) or `:exception-type` (exceptions) or `:error-code` (errors). */
  type: string;
  /** The payload as text (JSON for Bedrock). */
  body: string;
}

/**
 * The loop both Bedrock stream translators run on each read: `bytes` through `decoder`, each
 * complete frame to `onFrame` until `over()`; a corrupt frame goes to `corrupt` instead.
 */
export function translateFrames<T>(decoder: EventStreamDecoder, bytes: Uint8Array, onFrame: (f: EventFrame) => T[], over: () => boolean, corrupt: () => T[]): T[] {
  let frames: EventFrame[];
  try {
    frames = decoder.push(bytes);
  } catch {
    return corrupt();
  }
  const out: T[] = [];
  for (const f of frames) {
    out.push(...onFrame(f));
    if (over()) break;
  }
  return out;
}

export class EventStreamDecoder {
  readonly #codec = new EventStreamCodec(toUtf8, fromUtf8);
  /** Pieces of one unfinished frame, joined only once the whole frame is there. */
  #pieces: Uint8Array[] = [];
  #held = 0;
  /** Total length of the unfinished frame, once its prelude has arrived (0 = unknown yet). */
  #need = 0;

  /** Feed bytes as they arrive; returns the frames they complete. Throws on a corrupt frame. */
  push(bytes: Uint8Array): EventFrame[] {
    if (bytes.length === 0) return [];
    if (this.#held > 0) {
      this.#pieces.push(bytes.slice()); // a copy: the caller may reuse its buffer
      this.#held += bytes.length;
      if (this.#need === 0 && this.#held >= 4) this.#need = frameLength(concat(this.#pieces, this.#held), 0);
      if (this.#held < Math.max(this.#need, 4)) return [];
    }
    const buf = this.#held > 0 ? concat(this.#pieces, this.#held) : bytes;
    this.#pieces = [];
    this.#held = 0;
    this.#need = 0;
    const out: EventFrame[] = [];
    let at = 0;
    while (buf.length - at >= 4) {
      const total = frameLength(buf, at);
      if (buf.length - at < total) break;
      const message = this.#codec.decode(buf.subarray(at, at + total));
      at += total;
      const h = (name: string) => {
        const v = message.headers[name];
        return v && v.type === 'string' ? v.value : undefined;
      };
      const messageType = h(':message-type') ?? 'event';
      const type = (messageType === 'exception' ? h(':exception-type') : messageType === 'error' ? h(':error-code') : h(':event-type')) ?? '';
      const body = messageType === 'error' ? JSON.stringify({ message: h(':error-message') ?? '' }) : toUtf8(message.body);
      out.push({ messageType, type, body });
    }
    if (at < buf.length) {
      this.#pieces = [buf.slice(at)];
      this.#held = buf.length - at;
      this.#need = this.#held >= 4 ? frameLength(buf, at) : 0;
    }
    return out;
  }

  /** Bytes of an unfinished frame still held: non-zero at the end means the stream was cut. */
  get pending(): number {
    return this.#held;
  }
}

function frameLength(buf: Uint8Array, at: number): number {
  const total = new DataView(buf.buffer, buf.byteOffset + at, 4).getUint32(0, false);
  if (total < MIN_FRAME_BYTES || total > MAX_FRAME_BYTES) throw new Error(`event stream frame of ${total} bytes is out of bounds`);
  return total;
}

function concat(pieces: Uint8Array[], length: number): Uint8Array {
  return pieces.length === 1 ? pieces[0]! : concatBytes(pieces, length);
}
