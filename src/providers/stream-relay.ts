/**
 * Relays a streamed answer whose format is not the caller's own, or whose format the OpenAI
 * relay does not read (Anthropic events): each upstream SSE event goes through a
 * `StreamTranslator` and its frames go on, on the same pump as `forward/relay.ts` (idle
 * timeout, deadline, client gone). With `pass`, the upstream's events go on as they came
 * (whole events, re-framed) and the translator only watches them (usage, the end marker).
 *
 * The stream contract holds in the caller's format: complete only with its end marker
 * (chat: `data: [DONE]`; Messages: `event: message_stop`); a cut, stall, upstream `error`
 * event or early end leaves the caller with an error event it raises (chat:
 * `data: {"error":{…}}`; Messages: `event: error` `{"type":"error","error":{…}}`).
 */
import { relayLoop, type RelayOptions, type StreamFault, type StreamSummary } from '../forward/relay';
import type { ChunkReader } from '../forward/upstream';
import { settlementUsage } from './answer';
import type { WireFormat } from './registry';
import { SseDecoder, sseFrame, type SseEvent } from './sse';
import type { StreamTranslator } from './types';

const encoder = new TextEncoder();

/** Our own frames, so a prefix test is exact (JSON never holds a raw newline). */
function isEnd(frame: string, caller: WireFormat): boolean {
  return caller === 'openai' ? frame === 'data: [DONE]\n\n' : frame.startsWith('event: message_stop\n');
}
function isError(frame: string, caller: WireFormat): boolean {
  return caller === 'openai' ? frame.startsWith('data: {"error":') : frame.startsWith('event: error\n');
}

/** The error event a caller of this format raises. */
export function streamErrorFrame(fault: StreamFault, caller: WireFormat): string {
  if (caller === 'anthropic') return sseFrame({ type: 'error', error: { type: 'api_error', message: fault.message } }, 'error');
  return sseFrame({ error: { message: fault.message, type: 'server_error', param: null, code: fault.code } });
}

/** An upstream event re-framed as it came (name and data; comments and ids dropped). */
function rawFrame(event: SseEvent): string {
  const data = event.data.split('\n').map((line) => `data: ${line}`).join('\n');
  return `${event.event !== undefined ? `event: ${event.event}\n` : ''}${data}\n\n`;
}

export function relayTranslated(
  reader: ChunkReader,
  first: Uint8Array,
  options: RelayOptions & { caller: WireFormat; pass: boolean; maxEventBytes: number },
  translator: StreamTranslator,
): { body: ReadableStream<Uint8Array>; summary: Promise<StreamSummary> } {
  const decoder = new TextDecoder();
  const sse = new SseDecoder();
  let ended = false;
  /** An error event was written already (the upstream's own, or its translation). */
  let errored = false;
  let tail: string[] = [];

  /** Watches (or translates) frames; returns what to write in translate mode. */
  function watch(frames: string[]): string {
    let out = '';
    for (const frame of frames) {
      if (ended || errored) break;
      if (isEnd(frame, options.caller)) ended = true;
      else if (isError(frame, options.caller)) errored = true;
      out += frame;
    }
    return out;
  }

  /** Text since the last complete event: an upstream event past `maxEventBytes` ends the stream. */
  let open = 0;
  function take(chunk: Uint8Array): { out: Uint8Array | null; fault?: StreamFault } {
    let out = '';
    if (translator.pushBytes) return binary(chunk);
    const text = decoder.decode(chunk, { stream: true });
    const events = sse.push(text);
    open = events.length > 0 ? 0 : open + text.length;
    if (open > options.maxEventBytes) return { out: null, fault: { message: `The upstream sent an event longer than ${options.maxEventBytes} bytes.`, code: 'upstream_event_too_large' } };
    for (const event of events) {
      const frames = translator.push(event);
      if (options.pass) {
        // The observer's frames are chat frames: only their end and error markers matter.
        for (const frame of frames) {
          if (isEnd(frame, 'openai')) ended = true;
          else if (isError(frame, 'openai')) errored = true;
        }
        // Whole events only, so an error event after a cut never lands inside a half-sent one.
        out += rawFrame(event);
      } else out += watch(frames);
    }
    return { out: out ? encoder.encode(out) : null };
  }

  /** Binary upstream streams (Bedrock): the translator decodes the frames itself. */
  function binary(chunk: Uint8Array): { out: Uint8Array | null } {
    const out = watch(translator.pushBytes!(chunk));
    return { out: out ? encoder.encode(out) : null };
  }

  const relay = relayLoop(reader, first, options, {
    take,
    holdsChunks: translator.pushBytes !== undefined,
    done: () => {
      if (ended) return undefined;
      if (!options.pass) tail = translator.end();
      return { message: 'The upstream ended the stream before it was complete.', code: 'upstream_stream_truncated' };
    },
    fail: async (writer, fault) => {
      // In pass mode an upstream `error` event has reached the caller already.
      if (!errored) {
        const own = !options.pass && tail.some((f) => isError(f, options.caller));
        await writer.write(encoder.encode(own ? tail.join('') : streamErrorFrame(fault, options.caller)));
      }
      await writer.close();
    },
  });
  return {
    body: relay.body,
    // Usage only from a stream that reached its end: a cut one may have billed up to its cap,
    // so it stays at its reservation (README "Rate limits"), as in `forward/relay.ts`.
    summary: relay.summary.then((s) => {
      const usage = ended ? translator.usage() : undefined;
      return { ...s, ...(usage ? { usage: settlementUsage(usage) } : {}) };
    }),
  };
}
