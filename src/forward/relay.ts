/**
 * Relays an upstream SSE stream to the client event by event, as the events arrive.
 *
 * Contract (README "Streaming"): once the first chunk is committed there is no failover.
 * If the upstream then cuts off, errors, or stays silent longer than the idle timeout,
 * the client receives `data: {"error":{…}}` and the stream ends cleanly — a stream
 * without `data: [DONE]` is never passed off as complete.
 *
 * The relay also watches for the usage chunk (`choices: []` with `usage`) so tokens can be
 * settled; when the router asked for usage on the caller's behalf, that chunk is dropped.
 */
import { usageOf, type Usage } from './usage';

export interface StreamSummary {
  usage?: Usage;
  /** True when the upstream finished with `[DONE]`. */
  completed: boolean;
  error?: string;
}

export interface RelayOptions {
  idleMs: number;
  /** Absolute time (ms since epoch) after which the stream is ended. */
  deadline: number;
  /** Drop the usage-only chunk (the caller did not ask for it). */
  stripUsage: boolean;
}

const EVENT_END = /\r?\n\r?\n/;
const encoder = new TextEncoder();

export function sseErrorEvent(message: string, code: string): Uint8Array {
  const body = { error: { message, type: 'server_error', param: null, code } };
  return encoder.encode(`data: ${JSON.stringify(body)}\n\n`);
}

export function relaySse(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  first: Uint8Array,
  options: RelayOptions,
): { body: ReadableStream<Uint8Array>; summary: Promise<StreamSummary> } {
  const decoder = new TextDecoder();
  let buffer = '';
  let pending: Uint8Array | null = first;
  const result: StreamSummary = { completed: false };
  let settle!: (s: StreamSummary) => void;
  const summary = new Promise<StreamSummary>((resolve) => (settle = resolve));

  /**
   * Complete events out of the buffer, minus any dropped usage chunk. When the chunk held
   * only whole events and none was dropped, its own bytes go on (no re-encoding).
   */
  function take(chunk: Uint8Array): Uint8Array | null {
    const startedClean = buffer === '';
    buffer += decoder.decode(chunk, { stream: true });
    let out = '';
    let dropped = false;
    for (let match = EVENT_END.exec(buffer); match; match = EVENT_END.exec(buffer)) {
      const end = match.index + match[0].length;
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end);
      if (keep(event)) out += event;
      else dropped = true;
    }
    if (startedClean && buffer === '' && !dropped) return chunk;
    return out ? encoder.encode(out) : null;
  }

  /** Notes `[DONE]` and usage; false for the usage-only chunk the caller did not ask for. */
  function keep(event: string): boolean {
    if (event.includes('[DONE]') && /^data:\s*\[DONE\]\s*$/m.test(event)) {
      result.completed = true;
      return true;
    }
    if (!event.includes('"usage"')) return true;
    const data = event
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n');
    try {
      const parsed = JSON.parse(data) as { choices?: unknown[] };
      const usage = usageOf(parsed);
      if (usage) result.usage = usage;
      return !(options.stripUsage && usage && Array.isArray(parsed.choices) && parsed.choices.length === 0);
    } catch {
      return true;
    }
  }

  function finish(controller: ReadableStreamDefaultController<Uint8Array>, error?: { message: string; code: string }) {
    if (error) {
      result.error = error.message;
      controller.enqueue(sseErrorEvent(error.message, error.code));
      reader.cancel().catch(() => {});
    }
    controller.close();
    settle(result);
  }

  async function readWithin(ms: number): Promise<ReadableStreamReadResult<Uint8Array> | 'timeout'> {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
    try {
      return await Promise.race([reader.read(), timeout]);
    } finally {
      if (timer !== null) clearTimeout(timer);
    }
  }

  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        for (;;) {
          let chunk: Uint8Array;
          if (pending) {
            chunk = pending;
            pending = null;
          } else {
            const wait = Math.min(options.idleMs, options.deadline - Date.now());
            const read = wait > 0 ? await readWithin(wait) : 'timeout';
            if (read === 'timeout') {
              const why = wait < options.idleMs ? 'the request deadline passed' : `no data for ${options.idleMs} ms`;
              return finish(controller, { message: `The upstream stream stalled (${why}).`, code: 'upstream_stream_stalled' });
            }
            if (read.done) {
              if (result.completed) return finish(controller);
              return finish(controller, {
                message: 'The upstream ended the stream before it was complete.',
                code: 'upstream_stream_truncated',
              });
            }
            chunk = read.value;
          }
          const out = take(chunk);
          if (out) return controller.enqueue(out);
        }
      } catch {
        finish(controller, { message: 'The upstream connection was lost mid-stream.', code: 'upstream_stream_lost' });
      }
    },
    cancel() {
      // The client went away: stop the upstream too, and settle with what was seen.
      result.error = 'client disconnected';
      reader.cancel().catch(() => {});
      settle(result);
    },
  });
  return { body, summary };
}
