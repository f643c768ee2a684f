/**
 * Relays an upstream stream to the client as it arrives: SSE event by event, or raw bytes.
 *
 * Contract (README "Streaming"): once the first chunk is committed there is no failover.
 * If the upstream then cuts off, errors, or stays silent longer than the idle timeout, an
 * SSE stream ends with an error event in its own format — chat: `data: {"error":{…}}`;
 * Responses: `event: error` with `{"type":"error",…}` — which the openai SDKs raise as an
 * error; a stream is never passed off as complete without its end marker (`[DONE]`, or a
 * terminal `response.completed|incomplete|failed` event). A byte stream (audio) is errored,
 * so the client's read fails rather than ending short.
 *
 * The SSE relay splits events in linear time and refuses one longer than `maxEventBytes`
 * (`upstream_event_too_large`, `sse-split.ts`); it reads usage and the end marker as they
 * pass, structurally (`sse-event.ts`); a chat usage chunk the caller did not ask for is dropped.
 */
import { concatBytes } from '../http/concat-bytes';
import { imageCompleted, readEvent, type SseFormat } from './sse-event';
import { chatEventMayMatter, wholeEvents } from './sse-bytes';
import { SseSplitter } from './sse-split';
import type { ChunkReader } from './upstream';
import { addUsage, type Usage } from './usage';

export type { SseFormat } from './sse-event';

export interface StreamSummary {
  usage?: Usage;
  /** True when the upstream finished with its end marker. */
  completed: boolean;
  error?: string;
}

export interface RelayOptions {
  idleMs: number;
  /** Absolute time (ms since epoch) after which the stream is ended. */
  deadline: number;
}

export interface SseOptions extends RelayOptions {
  format: SseFormat;
  /** An event longer than this (characters of decoded text, at most its bytes) ends the stream. */
  maxEventBytes: number;
  /** Drop the usage-only chunk (chat: the caller did not ask for it). */
  stripUsage: boolean;
  /** Rewrites each event's text (e.g. tagging response ids); identity when absent. */
  rewrite?: (event: string) => string;
  /**
   * Image streams: the images asked for (`n`). OpenAI's image streams end after each image's
   * `image_generation.completed` event with no `[DONE]`: the stream is complete once this
   * many arrived (or at a `[DONE]`, which other servers send).
   */
  imageCompletions?: number;
}

export interface StreamFault {
  message: string;
  code: string;
}

const encoder = new TextEncoder();
/** How long past the deadline a stream's closing error event waits for a client to read it. */
const FAIL_GRACE_MS = 5_000;
/** Decodes one whole event (not a stream: no state between calls). */
const eventDecoder = new TextDecoder();

function sseErrorEvent(fault: StreamFault, format: SseFormat, sequence = 0): Uint8Array {
  if (format === 'responses') {
    const body = { type: 'error', code: fault.code, message: fault.message, param: null, sequence_number: sequence };
    return encoder.encode(`event: error\ndata: ${JSON.stringify(body)}\n\n`);
  }
  const body = { error: { message: fault.message, type: 'server_error', param: null, code: fault.code } };
  return encoder.encode(`data: ${JSON.stringify(body)}\n\n`);
}

/**
 * The pump shared by both relays: reads within the idle timeout and the deadline, hands
 * each chunk to `take` (null = nothing to send yet), and turns a stall, a cut or a read
 * error into `fail` (also used by `providers/stream-relay.ts` for translated streams). `done` decides whether a clean end of the upstream is complete.
 *
 * The client's body is the readable side of an `IdentityTransformStream`: the runtime
 * sends it natively, and only the writes cross into JavaScript (in three A/B pairs a JS
 * `ReadableStream` body was a little slower to the first byte: 1.58× the pass-through
 * against 1.50×). A client that goes away errors the writer; the upstream is cancelled
 * at once, not at the next chunk.
 */
export function relayLoop(
  reader: ChunkReader,
  first: Uint8Array,
  options: RelayOptions,
  hooks: {
    /** What to send for a chunk (null: nothing yet), and a fault that ends the stream after it. */
    take(chunk: Uint8Array): { out: Uint8Array | null; fault?: StreamFault };
    done(): StreamFault | undefined;
    /** `take` may hold on to a chunk's bytes after it returns (a binary frame decoder): no chunk is recycled. */
    holdsChunks?: boolean;
    fail(writer: WritableStreamDefaultWriter<Uint8Array>, fault: StreamFault): Promise<void>;
  },
): { body: ReadableStream<Uint8Array>; summary: Promise<StreamSummary> } {
  const { readable, writable } = new IdentityTransformStream();
  const writer = writable.getWriter() as WritableStreamDefaultWriter<Uint8Array>;
  const result: StreamSummary = { completed: false };
  let gone = false;
  writer.closed.catch(() => {
    // The client went away: stop the upstream too, and settle with what was seen.
    gone = true;
    reader.cancel().catch(() => {});
  });

  // One watchdog for the whole stream, not a timer per read. It judges only the upstream:
  // the idle timeout runs while a read is waiting (a slow client holding up a write is not
  // a stalled upstream), the deadline always. It re-arms itself while chunks keep coming;
  // a stall cancels the read in flight, which then ends.
  let waitingSince: number | null = null;
  let stalled: StreamFault | undefined;
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  function watch(): void {
    const now = Date.now();
    const idleLeft = waitingSince === null ? options.idleMs : waitingSince + options.idleMs - now;
    const deadlineLeft = options.deadline - now;
    if (idleLeft > 0 && deadlineLeft > 0) {
      watchdog = setTimeout(watch, Math.min(idleLeft, deadlineLeft));
      return;
    }
    const why = deadlineLeft <= 0 && idleLeft > 0 ? 'the request deadline passed' : `no data for ${options.idleMs} ms`;
    stalled = { message: `The upstream stream stalled (${why}).`, code: 'upstream_stream_stalled' };
    reader.cancel().catch(() => {});
    // Not waiting on a read: a write holds the pump, a client that reads nothing. Past the deadline its body ends too,
    // or the request (its concurrency slot, its reservation) would be held for as long as the client stays.
    if (waitingSince === null) writer.abort(new Error(stalled.code)).catch(() => {});
  }

  async function pump(): Promise<StreamFault | undefined> {
    let chunk: Uint8Array | null = first;
    watch();
    for (;;) {
      if (chunk) {
        const { out, fault } = hooks.take(chunk);
        if (out) await writer.write(out).catch(() => (gone = true));
        if (gone) return undefined;
        if (fault) return fault;
        // Written (the write settled) and not kept: its buffer takes the next read.
        if (!hooks.holdsChunks) reader.recycle?.(chunk);
      }
      if (stalled) return stalled;
      waitingSince = Date.now();
      const read = await reader.read();
      waitingSince = null;
      if (stalled) return stalled;
      if (read.done) return hooks.done();
      chunk = read.value;
    }
  }

  const lost: StreamFault = { message: 'The upstream connection was lost mid-stream.', code: 'upstream_stream_lost' };
  const summary = pump()
    .catch(() => stalled ?? lost) // a read cancelled by the watchdog may reject
    .then(async (fault) => {
      clearTimeout(watchdog);
      if (gone) return { ...result, error: 'client disconnected' };
      result.completed = fault === undefined;
      if (fault) {
        result.error = fault.message;
        reader.cancel().catch(() => {});
        // The error event waits for the client to read it: one that does not has until the deadline and a grace.
        const grace = setTimeout(() => writer.abort(new Error(fault.code)).catch(() => {}), Math.max(0, options.deadline - Date.now()) + FAIL_GRACE_MS);
        await hooks.fail(writer, fault).catch(() => {});
        clearTimeout(grace);
      } else await writer.close().catch(() => {});
      return result;
    });
  return { body: readable as ReadableStream<Uint8Array>, summary };
}

export function relaySse(
  reader: ChunkReader,
  first: Uint8Array,
  options: SseOptions,
): { body: ReadableStream<Uint8Array>; summary: Promise<StreamSummary> } {
  const decoder = new TextDecoder();
  const splitter = new SseSplitter(options.maxEventBytes);
  let ended = false;
  let events = 0;
  let seen: Usage | undefined;
  let images = 0;

  /** Notes the end marker and usage; the event to send (rewritten), or null to drop it. */
  function keep(event: string): string | null {
    events++;
    const reading = readEvent(event, options.format);
    if (reading.terminal) ended = true;
    const image = options.imageCompletions !== undefined && imageCompleted(event);
    if (image && ++images >= options.imageCompletions!) ended = true;
    // Each finished image carries its own usage: summed over the `n` images (were it cumulative, this overcounts, never under).
    if (reading.usage) seen = image && seen ? addUsage(seen, reading.usage) : reading.usage;
    if (options.stripUsage && reading.usageOnly) return null;
    return options.rewrite ? options.rewrite(event) : event;
  }

  // The byte fast path (`sse-bytes.ts`): chat streams whose events are not rewritten, while
  // nothing is pending in the exact path (its last read ended on a separator).
  const fast = options.format === 'chat' && !options.rewrite && options.imageCompletions === undefined;
  let clean = true;
  const ends: number[] = [];

  /**
   * A read of whole events as it came; a dropped event is cut out. Undefined when the chunk
   * is not whole events (the exact path takes it, nothing having been noted).
   */
  function takeWhole(chunk: Uint8Array): { out: Uint8Array | null } | undefined {
    if (!wholeEvents(chunk, options.maxEventBytes, ends)) return undefined;
    /** The parts to send, once an event was dropped (until then: the whole chunk). */
    let kept: Uint8Array[] | null = null;
    let start = 0;
    for (const end of ends) {
      // An event that cannot matter is only counted; one that may is read the exact way.
      const stays = chatEventMayMatter(chunk, start, end) ? keep(eventDecoder.decode(chunk.subarray(start, end))) !== null : (events++, true);
      if (!stays) kept ??= [chunk.subarray(0, start)];
      else if (kept) kept.push(chunk.subarray(start, end));
      start = end;
    }
    if (!kept) return { out: chunk };
    // A copy: the chunk's buffer takes the next read once this is written.
    const out = concatBytes(kept);
    return { out: out.byteLength > 0 ? out : null };
  }

  /**
   * Complete events out of the chunk. When the chunk held only whole events and none was
   * dropped or rewritten, its own bytes go on (no re-encoding).
   */
  function take(chunk: Uint8Array): { out: Uint8Array | null; fault?: StreamFault } {
    const whole = fast && clean ? takeWhole(chunk) : undefined;
    if (whole) return whole;
    const startedClean = splitter.pendingChars === 0;
    const split = splitter.push(decoder.decode(chunk, { stream: true }));
    // Nothing pending, and no byte of a character held in the decoder (the read ended in LF).
    clean = splitter.pendingChars === 0 && chunk[chunk.length - 1] === 0x0a;
    let out = '';
    let changed = false;
    for (const event of split.events) {
      const kept = keep(event);
      if (kept !== event) changed = true;
      if (kept !== null) out += kept;
    }
    const fault = split.tooLarge
      ? { message: `The upstream sent a stream event larger than the ${options.maxEventBytes}-byte limit.`, code: 'upstream_event_too_large' }
      : undefined;
    if (startedClean && splitter.pendingChars === 0 && !changed && !fault) return { out: chunk };
    return { out: out ? encoder.encode(out) : null, ...(fault ? { fault } : {}) };
  }

  const relay = relayLoop(reader, first, options, {
    take,
    done: () => (ended ? undefined : { message: 'The upstream ended the stream before it was complete.', code: 'upstream_stream_truncated' }),
    fail: async (writer, fault) => {
      await writer.write(sseErrorEvent(fault, options.format, events));
      await writer.close();
    },
  });
  // Usage counts only from a stream that reached its end marker: chunks of one that was cut,
  // stalled or left can carry usage *so far* (vLLM's `continuous_usage_stats`, which the caller
  // may ask for), while the upstream may write on to the cap. It then stays at its reservation.
  return { body: relay.body, summary: relay.summary.then((s) => ({ ...s, ...(seen && ended ? { usage: seen } : {}) })) };
}

/**
 * Raw bytes (audio) as they arrive; a cut or stall errors the client's body. `tap` sees each
 * chunk before it is sent, and its usage is the stream's (an audio endpoint's event stream: `audio-usage.ts`).
 */
export function relayBytes(
  reader: ChunkReader,
  first: Uint8Array,
  options: RelayOptions,
  tap?: { take(chunk: Uint8Array): void; usage(): Usage | undefined },
): { body: ReadableStream<Uint8Array>; summary: Promise<StreamSummary> } {
  const relay = relayLoop(reader, first, options, {
    take: (chunk) => {
      tap?.take(chunk);
      return { out: chunk };
    },
    done: () => undefined, // a byte stream has no end marker: its clean end is its end
    fail: (writer, fault) => writer.abort(new Error(`${fault.code}: ${fault.message}`)),
  });
  if (!tap) return relay;
  return { body: relay.body, summary: relay.summary.then((s) => (tap.usage() ? { ...s, usage: tap.usage()! } : s)) };
}
