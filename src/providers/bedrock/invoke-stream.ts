/**
 * InvokeModelWithResponseStream for Claude (Messages callers) → Anthropic SSE.
 *
 * Each `chunk` event's payload is `{"bytes":"<base64>"}`, the base64 of one Anthropic
 * stream event's JSON (`message_start`, `content_block_delta`, …; AWS "Anthropic Claude
 * Messages API" → streaming). They are re-framed as `event: <type>` / `data: <json>` — the
 * caller sees the stream Anthropic's own API sends. Usage is read structurally from
 * `message_start` and `message_delta` (Anthropic's figures, cache reads/writes included).
 * Exception frames end the stream with an Anthropic `error` event; a stream cut before
 * `message_stop` gets one too.
 */
import { anthropicTypeForStatus } from '../anthropic/errors';
import { AnthropicUsage, canonicalUsage } from '../anthropic/wire';
import type { CanonicalUsage, MappedError, SseFrame } from '../types';
import type { BinaryStreamTranslator } from './converse-stream';
import { mapBedrockError, mapBedrockMalformedStream, mapBedrockStreamException } from './errors';
import { EventStreamDecoder, translateFrames, type EventFrame } from './event-stream';

function base64Text(b64: string): string {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

const frame = (type: string, json: string): SseFrame => `event: ${type}\ndata: ${json}\n\n`;

export class InvokeStreamToMessages implements BinaryStreamTranslator {
  readonly #decoder = new EventStreamDecoder();
  #usage: Partial<AnthropicUsage> | undefined;
  #delta = false;
  #malformedUsage = false;
  #state: 'open' | 'done' = 'open';
  #error: MappedError | undefined;

  get error(): MappedError | undefined {
    return this.#error;
  }

  /**
   * Only once a well-formed `message_delta` said what was written (as `AnthropicToChatStream`):
   * `message_start` counts a placeholder output token, and a figure that is not a count
   * (negative, a string) is no usage at all — either way the request settles at its reservation.
   */
  usage(): CanonicalUsage | undefined {
    return this.#usage && this.#delta && !this.#malformedUsage ? canonicalUsage(this.#usage) : undefined;
  }

  #fail(mapped: MappedError): SseFrame[] {
    this.#state = 'done';
    this.#error = mapped;
    const error = { type: anthropicTypeForStatus(mapped.status), message: mapped.body.error.message };
    return [frame('error', JSON.stringify({ type: 'error', error }))];
  }

  #malformed(what: string): SseFrame[] {
    return this.#fail(mapBedrockMalformedStream(what));
  }

  /** SSE events never come from Bedrock: the relay feeds `pushBytes`. */
  push(): SseFrame[] {
    return [];
  }

  pushBytes(bytes: Uint8Array): SseFrame[] {
    if (this.#state === 'done') return [];
    return translateFrames(
      this.#decoder,
      bytes,
      (f) => this.#frame(f),
      () => this.#state === 'done',
      () => this.#malformed('corrupt event stream frame'),
    );
  }

  #frame(f: EventFrame): SseFrame[] {
    let payload: { bytes?: unknown } | null;
    try {
      payload = JSON.parse(f.body) as { bytes?: unknown } | null;
    } catch {
      return this.#malformed(`unparsable ${f.type} payload`);
    }
    if (f.messageType !== 'event') return this.#fail(mapBedrockStreamException(f.type || 'internalServerException', payload));
    if (f.type !== 'chunk' || typeof payload?.bytes !== 'string') return [];
    let json: string;
    let ev: { type?: unknown; message?: { usage?: Partial<AnthropicUsage> }; usage?: Partial<AnthropicUsage> };
    try {
      json = base64Text(payload.bytes);
      ev = JSON.parse(json) as typeof ev;
    } catch {
      return this.#malformed('unparsable chunk');
    }
    if (typeof ev?.type !== 'string') return [];
    if (ev.type === 'message_start' && ev.message?.usage) {
      if (!AnthropicUsage.safeParse(ev.message.usage).success) this.#malformedUsage = true;
      this.#usage = { ...ev.message.usage };
    }
    if (ev.type === 'message_delta' && ev.usage) {
      if (!AnthropicUsage.partial().safeParse(ev.usage).success) this.#malformedUsage = true;
      this.#usage = { ...this.#usage, ...Object.fromEntries(Object.entries(ev.usage).filter(([, v]) => v != null)) };
      this.#delta = true;
    }
    if (ev.type === 'error') {
      // Anthropic's own in-stream error (e.g. overloaded_error): passed on as it came, and it ends the stream.
      const e = (ev as { error?: { type?: unknown; message?: unknown } }).error;
      this.#state = 'done';
      this.#error = mapBedrockError(typeof e?.type === 'string' && e.type === 'rate_limit_error' ? 429 : 500, new Headers(), { message: String(e?.message ?? '') });
    }
    if (ev.type === 'message_stop') this.#state = 'done';
    return [frame(ev.type, json)];
  }

  end(): SseFrame[] {
    if (this.#state === 'done') return [];
    return this.#malformed('stream ended before message_stop');
  }
}
