/**
 * OpenAI chat chunk stream → Anthropic Messages SSE events, for an inbound `/v1/messages`
 * caller served by an OpenAI-compatible node. Stateful and incremental: one upstream event
 * in, its frames out, O(1) work per event.
 *
 * - the first chunk opens the message (`message_start`, content empty, usage 0: chat streams
 *   report usage only at the end);
 * - `delta.content` → a text block (`content_block_start` once, then `text_delta`s);
 *   a new `tool_calls[i]` (with its id) → a `tool_use` block, its `arguments` pieces →
 *   `input_json_delta`s. Switching kind closes the open block (`content_block_stop`), so
 *   block indexes count up from 0 in the order blocks were opened;
 * - `finish_reason` and the usage chunk are remembered; `[DONE]` closes the open block and
 *   sends `message_delta` (`stop_reason`, cumulative usage incl. `output_tokens`) and
 *   `message_stop`;
 * - an error object in the stream, a malformed chunk, or an upstream that ends without
 *   `[DONE]` → `event: error` (Anthropic shape); a cut answer is never passed off as complete.
 */
import type { CanonicalUsage, SseFrame, StreamTranslator } from '../types';
import { ChatChunk } from '../openai/chat-wire';
import { sseFrame } from '../sse';
import { openaiErrorToAnthropic } from './errors';
import { anthropicUsage, stopReasonOf, usageFromChat } from './to-messages-json';

type OpenBlock = { kind: 'text'; index: number } | { kind: 'tool'; index: number };

function frame<T extends { type: string }>(data: T): SseFrame {
  return sseFrame(data, data.type);
}

export class ChatToMessagesStream implements StreamTranslator {
  readonly #model: string;
  #state: 'before' | 'open' | 'done' = 'before';
  #open: OpenBlock | null = null;
  #nextBlock = 0;
  readonly #blockOfTool = new Map<number, number>();
  #finish: string | null = null;
  #usage: CanonicalUsage | undefined;
  #failed = false;

  /** `model`: the name to show the caller (what it asked for). */
  constructor(opts: { model: string }) {
    this.#model = opts.model;
  }

  /** True once the stream ended in an error event instead of `message_stop`. */
  get failed(): boolean {
    return this.#failed;
  }

  usage(): CanonicalUsage | undefined {
    return this.#usage;
  }

  #start(id: string): SseFrame[] {
    if (this.#state !== 'before') return [];
    this.#state = 'open';
    return [
      frame({
        type: 'message_start',
        message: { id, type: 'message', role: 'assistant', model: this.#model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } },
      }),
    ];
  }

  #closeOpen(): SseFrame[] {
    if (!this.#open) return [];
    const index = this.#open.index;
    this.#open = null;
    return [frame({ type: 'content_block_stop', index })];
  }

  #error(status: number, body: unknown): SseFrame[] {
    this.#state = 'done';
    this.#failed = true;
    return [frame(openaiErrorToAnthropic(status, body))];
  }

  push(raw: { event?: string; data: string }): SseFrame[] {
    if (this.#state === 'done') return [];
    if (raw.data.trim() === '[DONE]') return this.#finishMessage();
    let json: unknown;
    try {
      json = JSON.parse(raw.data);
    } catch {
      return this.#error(502, { error: { message: 'The upstream sent an unparsable stream event.' } });
    }
    if (typeof json === 'object' && json !== null && 'error' in json) return this.#error(500, json);
    const parsed = ChatChunk.safeParse(json);
    if (!parsed.success) return this.#error(502, { error: { message: 'The upstream sent a malformed chat chunk.' } });
    const chunk = parsed.data;
    if (chunk.usage) this.#usage = usageFromChat(chunk.usage);
    const choice = chunk.choices.find((c) => c.index === 0);
    // Chunks without a choice (usage, Azure's prompt_filter_results) do not open the message.
    if (!choice) return [];
    const out = this.#start(chunk.id || 'msg_router');
    const delta = choice.delta ?? {};
    const text = delta.content || delta.refusal;
    if (text) {
      if (this.#open?.kind !== 'text') {
        out.push(...this.#closeOpen());
        this.#open = { kind: 'text', index: this.#nextBlock++ };
        out.push(frame({ type: 'content_block_start', index: this.#open.index, content_block: { type: 'text', text: '' } }));
      }
      out.push(frame({ type: 'content_block_delta', index: this.#open.index, delta: { type: 'text_delta', text } }));
    }
    for (const call of delta.tool_calls ?? []) {
      let index = this.#blockOfTool.get(call.index);
      if (index === undefined) {
        out.push(...this.#closeOpen());
        index = this.#nextBlock++;
        this.#blockOfTool.set(call.index, index);
        this.#open = { kind: 'tool', index };
        const id = call.id ?? `toolu_${index}`;
        out.push(frame({ type: 'content_block_start', index, content_block: { type: 'tool_use', id, name: call.function?.name ?? '', input: {} } }));
      }
      const args = call.function?.arguments;
      if (args) out.push(frame({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: args } }));
    }
    if (choice.finish_reason) this.#finish = choice.finish_reason;
    return out;
  }

  #finishMessage(): SseFrame[] {
    const out = [...this.#start('msg_router'), ...this.#closeOpen()];
    this.#state = 'done';
    const usage = anthropicUsage(this.#usage ?? { promptTokens: 0, cachedTokens: 0, cacheWriteTokens: 0, completionTokens: 0 });
    out.push(frame({ type: 'message_delta', delta: { stop_reason: stopReasonOf(this.#finish), stop_sequence: null }, usage }));
    out.push(frame({ type: 'message_stop' }));
    return out;
  }

  end(): SseFrame[] {
    if (this.#state === 'done') return [];
    return this.#error(502, { error: { message: 'The upstream stream ended before it finished.' } });
  }
}
