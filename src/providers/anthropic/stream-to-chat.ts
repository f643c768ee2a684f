/**
 * Anthropic Messages stream → OpenAI `chat.completion.chunk` stream. Stateful and
 * incremental: fed one parsed SSE event at a time, O(1) work per event (a map from content
 * block index to tool-call index is the only lookup).
 *
 * | Anthropic event                                | chat chunk(s)                                     |
 * | message_start                                  | `delta:{role:"assistant",content:""}`; usage noted |
 * | content_block_start text (non-empty)           | `delta.content`                                   |
 * | content_block_start tool_use                   | `delta.tool_calls[{index,id,type,function:{name,arguments:""}}]` |
 * | content_block_delta text_delta                 | `delta.content`                                   |
 * | content_block_delta input_json_delta           | `delta.tool_calls[{index,function:{arguments}}]`  |
 * | thinking / signature deltas, content_block_stop, ping | nothing                                    |
 * | message_delta                                  | `delta:{}` with `finish_reason` (once); usage noted (none counts without one) |
 * | message_stop                                   | usage chunk (`choices:[]`) if asked, `[DONE]`     |
 * | error                                          | `data: {"error":{…}}` (OpenAI shape); stream over |
 * An upstream that ends before `message_stop` gets an error frame, never a `[DONE]`: a
 * truncated answer must not pass for a complete one.
 */
import type { CanonicalUsage, MappedError, SseFrame, StreamTranslator, TranslationContext } from '../types';
import { chatUsage } from '../openai/chat-wire';
import { sseFrame } from '../sse';
import { mapAnthropicStreamError } from './errors';
import { finishReasonOf } from './from-messages';
import { canonicalUsage, StreamEvent, type AnthropicUsage } from './wire';

export interface AnthropicToChatOptions extends Pick<TranslationContext, 'model' | 'includeUsage'> {
  /** Seconds since the epoch for every chunk's `created` (defaults to now). */
  created?: number;
}

export class AnthropicToChatStream implements StreamTranslator {
  readonly #model: string;
  readonly #includeUsage: boolean;
  readonly #created: number;
  #id = '';
  #usage: Partial<AnthropicUsage> | undefined;
  readonly #toolIndexOfBlock = new Map<number, number>();
  #state: 'before' | 'open' | 'done' = 'before';
  #error: MappedError | undefined;
  #finished = false;
  /** A `message_delta` (the output's usage) arrived. */
  #delta = false;

  constructor(opts: AnthropicToChatOptions) {
    this.#model = opts.model;
    this.#includeUsage = opts.includeUsage;
    this.#created = opts.created ?? Math.floor(Date.now() / 1000);
  }

  /** The upstream's error if the stream carried one (what it means for the router). */
  get error(): MappedError | undefined {
    return this.#error;
  }

  /**
   * Only once a `message_delta` said what was written: `message_start`'s usage counts the
   * prompt and a placeholder output token, so a stream that never sent one (a gateway that
   * drops it) settles at its reservation rather than at 1 output token.
   */
  usage(): CanonicalUsage | undefined {
    return this.#usage && this.#delta ? canonicalUsage(this.#usage) : undefined;
  }

  #chunk(delta: Record<string, unknown>, finish: string | null = null): SseFrame {
    return sseFrame({
      id: this.#id,
      object: 'chat.completion.chunk',
      created: this.#created,
      model: this.#model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
  }

  #fail(mapped: MappedError): SseFrame[] {
    this.#state = 'done';
    this.#error = mapped;
    return [sseFrame(mapped.body)];
  }

  push(raw: { event?: string; data: string }): SseFrame[] {
    if (this.#state === 'done') return [];
    let json: unknown;
    try {
      json = JSON.parse(raw.data);
    } catch {
      return this.#fail(mapAnthropicStreamError({ type: 'api_error', message: 'unparsable stream event' }));
    }
    const parsed = StreamEvent.safeParse(json);
    if (!parsed.success) {
      // Unknown event types are allowed by Anthropic's versioning policy; malformed known ones are not.
      const type = (json as { type?: unknown } | null)?.type;
      const known = StreamEvent.options.some((o) => o.shape.type.value === type);
      return known ? this.#fail(mapAnthropicStreamError({ type: 'api_error', message: `malformed ${String(type)} event` })) : [];
    }
    const ev = parsed.data;
    switch (ev.type) {
      case 'message_start':
        this.#id = ev.message.id;
        this.#usage = { ...ev.message.usage };
        this.#state = 'open';
        return [this.#chunk({ role: 'assistant', content: '' })];
      case 'content_block_start': {
        const block = ev.content_block as { type: string; text?: unknown; id?: unknown; name?: unknown };
        if (block.type === 'text' && typeof block.text === 'string' && block.text.length > 0) return [this.#chunk({ content: block.text })];
        if (block.type === 'tool_use' && typeof block.id === 'string' && typeof block.name === 'string') {
          const index = this.#toolIndexOfBlock.size;
          this.#toolIndexOfBlock.set(ev.index, index);
          return [this.#chunk({ tool_calls: [{ index, id: block.id, type: 'function', function: { name: block.name, arguments: '' } }] })];
        }
        return [];
      }
      case 'content_block_delta': {
        const d = ev.delta;
        if (d.type === 'text_delta') return d.text.length > 0 ? [this.#chunk({ content: d.text })] : [];
        if (d.type === 'input_json_delta') {
          const index = this.#toolIndexOfBlock.get(ev.index);
          if (index === undefined || d.partial_json.length === 0) return [];
          return [this.#chunk({ tool_calls: [{ index, function: { arguments: d.partial_json } }] })];
        }
        return [];
      }
      case 'message_delta':
        this.#usage = { ...this.#usage, ...stripNullish(ev.usage) };
        this.#delta = true;
        // "One or more" message_delta events: the finish chunk goes out once, with the first stop reason.
        if (this.#finished || !ev.delta.stop_reason) return [];
        this.#finished = true;
        return [this.#chunk({}, finishReasonOf(ev.delta.stop_reason))];
      case 'message_stop': {
        this.#state = 'done';
        const frames: SseFrame[] = [];
        const usage = this.usage();
        if (this.#includeUsage && usage)
          frames.push(sseFrame({ id: this.#id, object: 'chat.completion.chunk', created: this.#created, model: this.#model, choices: [], usage: chatUsage(usage) }));
        frames.push(sseFrame('[DONE]'));
        return frames;
      }
      case 'error':
        return this.#fail(mapAnthropicStreamError(ev.error));
      case 'content_block_stop':
      case 'ping':
        return [];
    }
  }

  end(): SseFrame[] {
    if (this.#state === 'done') return [];
    return this.#fail(mapAnthropicStreamError({ type: 'api_error', message: 'stream ended before message_stop' }));
  }
}

function stripNullish(u: Partial<AnthropicUsage>): Partial<AnthropicUsage> {
  const out: Partial<AnthropicUsage> = {};
  for (const [k, v] of Object.entries(u)) if (v !== null && v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
