/**
 * Bedrock ConverseStream (binary event stream) → OpenAI `chat.completion.chunk` SSE.
 * Stateful and incremental: bytes in as they arrive (`pushBytes`), frames decoded by
 * `EventStreamDecoder`, O(1) work per event.
 *
 * | ConverseStream event                 | chat chunk(s)                                          |
 * | messageStart                         | `delta:{role:"assistant",content:""}`                  |
 * | contentBlockStart toolUse            | `delta.tool_calls[{index,id,type,function:{name,arguments:""}}]` |
 * | contentBlockDelta text               | `delta.content`                                        |
 * | contentBlockDelta toolUse.input      | `delta.tool_calls[{index,function:{arguments}}]`       |
 * | contentBlockDelta reasoningContent, contentBlockStop | nothing                               |
 * | messageStop                          | `delta:{}` with `finish_reason`                        |
 * | metadata (after messageStop)         | usage chunk (`choices:[]`) if asked, `[DONE]`          |
 * | exception frame (throttlingException, modelStreamErrorException, …) | OpenAI error frame; stream over |
 * A stream that ends before `messageStop` (or mid-frame, or with a corrupt frame) gets an
 * error frame and no `[DONE]`. So does one that ends after `messageStop` without `metadata`:
 * `end()` would close it with `[DONE]`, but the relay (`stream-relay.ts`) ends every stream
 * that never sent its end marker with `upstream_stream_truncated` — Bedrock always sends
 * `metadata`, so its absence is a cut — and settlement keeps the reservation (no usage).
 */
import { chatUsage } from '../openai/chat-wire';
import { sseFrame } from '../sse';
import type { CanonicalUsage, MappedError, SseFrame, StreamTranslator, TranslationContext } from '../types';
import { mapBedrockMalformedStream, mapBedrockStreamException } from './errors';
import { EventStreamDecoder, translateFrames, type EventFrame } from './event-stream';
import { converseFinishReason } from './from-converse';
import { converseCanonicalUsage, StreamPayload } from './wire';

export interface ConverseToChatOptions extends Pick<TranslationContext, 'model' | 'includeUsage'> {
  /** The chunk id (ConverseStream carries none: the router's request id). */
  id: string;
  created?: number;
}

/** A translator fed raw bytes (binary upstream streams), as `StreamTranslator` is fed SSE events. */
export interface BinaryStreamTranslator extends Partial<Pick<StreamTranslator, 'push'>> {
  pushBytes(bytes: Uint8Array): SseFrame[];
  end(): SseFrame[];
  usage(): CanonicalUsage | undefined;
  readonly error: MappedError | undefined;
}

export class ConverseToChatStream implements BinaryStreamTranslator {
  readonly #decoder = new EventStreamDecoder();
  readonly #opts: ConverseToChatOptions;
  readonly #created: number;
  readonly #toolIndexOfBlock = new Map<number, number>();
  #usage: CanonicalUsage | undefined;
  #state: 'before' | 'open' | 'stopped' | 'done' = 'before';
  #error: MappedError | undefined;

  constructor(opts: ConverseToChatOptions) {
    this.#opts = opts;
    this.#created = opts.created ?? Math.floor(Date.now() / 1000);
  }

  get error(): MappedError | undefined {
    return this.#error;
  }

  usage(): CanonicalUsage | undefined {
    return this.#usage;
  }

  #chunk(delta: Record<string, unknown>, finish: string | null = null): SseFrame {
    return sseFrame({ id: this.#opts.id, object: 'chat.completion.chunk', created: this.#created, model: this.#opts.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  }

  #fail(mapped: MappedError): SseFrame[] {
    this.#state = 'done';
    this.#error = mapped;
    return [sseFrame(mapped.body)];
  }

  #malformed(what: string): SseFrame[] {
    return this.#fail(mapBedrockMalformedStream(what));
  }

  #done(): SseFrame[] {
    this.#state = 'done';
    const frames: SseFrame[] = [];
    if (this.#opts.includeUsage && this.#usage)
      frames.push(sseFrame({ id: this.#opts.id, object: 'chat.completion.chunk', created: this.#created, model: this.#opts.model, choices: [], usage: chatUsage(this.#usage) }));
    frames.push(sseFrame('[DONE]'));
    return frames;
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
      (f) => this.pushFrame(f),
      () => this.#state === 'done',
      () => this.#malformed('corrupt event stream frame'),
    );
  }

  /** One decoded frame (exposed for tests that feed frames directly). */
  pushFrame(f: EventFrame): SseFrame[] {
    if (this.#state === 'done') return [];
    let json: unknown;
    try {
      json = JSON.parse(f.body);
    } catch {
      return this.#malformed(`unparsable ${f.type} payload`);
    }
    if (f.messageType !== 'event') return this.#fail(mapBedrockStreamException(f.type || 'internalServerException', json));
    switch (f.type) {
      case 'messageStart':
        if (!StreamPayload.messageStart.safeParse(json).success) return this.#malformed('malformed messageStart');
        this.#state = 'open';
        return [this.#chunk({ role: 'assistant', content: '' })];
      case 'contentBlockStart': {
        const p = StreamPayload.contentBlockStart.safeParse(json);
        if (!p.success) return this.#malformed('malformed contentBlockStart');
        const tool = p.data.start.toolUse;
        if (!tool) return [];
        const index = this.#toolIndexOfBlock.size;
        this.#toolIndexOfBlock.set(p.data.contentBlockIndex, index);
        return [this.#chunk({ tool_calls: [{ index, id: tool.toolUseId, type: 'function', function: { name: tool.name, arguments: '' } }] })];
      }
      case 'contentBlockDelta': {
        const p = StreamPayload.contentBlockDelta.safeParse(json);
        if (!p.success) return this.#malformed('malformed contentBlockDelta');
        const d = p.data.delta;
        if (typeof d.text === 'string') return d.text.length > 0 ? [this.#chunk({ content: d.text })] : [];
        if (d.toolUse) {
          const index = this.#toolIndexOfBlock.get(p.data.contentBlockIndex);
          if (index === undefined || d.toolUse.input.length === 0) return [];
          return [this.#chunk({ tool_calls: [{ index, function: { arguments: d.toolUse.input } }] })];
        }
        return []; // reasoningContent, citations: no chat field
      }
      case 'messageStop': {
        const p = StreamPayload.messageStop.safeParse(json);
        if (!p.success) return this.#malformed('malformed messageStop');
        this.#state = 'stopped';
        return [this.#chunk({}, converseFinishReason(p.data.stopReason))];
      }
      case 'metadata': {
        const p = StreamPayload.metadata.safeParse(json);
        if (!p.success) return this.#malformed('malformed metadata');
        this.#usage = converseCanonicalUsage(p.data.usage);
        return this.#state === 'stopped' ? this.#done() : [];
      }
      default:
        return []; // contentBlockStop and event types added later
    }
  }

  end(): SseFrame[] {
    if (this.#state === 'done') return [];
    if (this.#state === 'stopped' && this.#decoder.pending === 0) return this.#done();
    return this.#malformed('stream ended before messageStop');
  }
}
