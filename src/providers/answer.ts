/**
 * How an accepted (or caller-error) answer reaches the caller when formats or providers
 * differ: the caller's format and the node's decide the translation of a JSON answer, of a
 * stream, of an error body, and where the usage is read (structurally, from the node's own
 * answer: `DESIGN.md` "Settlement reads usage structurally").
 *
 * | caller ← node          | JSON                  | stream                         | errors                     |
 * | chat ← openai/azure    | (not here: `forward/deliver.ts`, bytes as they are)                                 |
 * | chat ← anthropic       | Messages → chat       | `AnthropicToChatStream`        | mapped to OpenAI's shape   |
 * | messages ← anthropic   | bytes as they are     | bytes as they are (observed)   | as they are                |
 * | messages ← openai/azure| chat → Messages       | `ChatToMessagesStream`         | to Anthropic's shape       |
 */
import type { Usage } from '../forward/usage';
import { chatToMessagesJson } from './anthropic-inbound/to-messages-json';
import { ChatToMessagesStream } from './anthropic-inbound/chat-stream-to-messages';
import { openaiErrorToAnthropic } from './anthropic-inbound/errors';
import { messagesUsage } from './anthropic/from-messages';
import { AnthropicToChatStream } from './anthropic/stream-to-chat';
import { chatUsageOf } from './openai/adapter';
import type { WireFormat } from './registry';
import type { CanonicalUsage, ProviderAdapter, Result, StreamTranslator, TranslationContext } from './types';

export interface AnswerShape {
  caller: WireFormat;
  /** A 2xx JSON answer (parsed) → the caller's; absent: the bytes go as they are. */
  json?: (body: unknown) => Result<unknown>;
  /** A fresh translator (or, with `pass`, an observer) for one streamed answer. */
  stream: () => StreamTranslator;
  /** The upstream's frames go to the caller as they are; the translator only watches them. */
  pass: boolean;
  /** Usage from the node's JSON answer. */
  usage: (body: unknown) => CanonicalUsage | undefined;
  /** A caller error (4xx) the node returned → status and body in the caller's format. */
  error: (status: number, headers: Headers, body: unknown) => { status: number; body: unknown };
}

/** Canonical usage in the router's settlement shape (prompt counts cache reads and writes). */
export function settlementUsage(u: CanonicalUsage): Usage {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    ...(u.cachedTokens > 0 ? { cached_tokens: u.cachedTokens } : {}),
    ...(u.cacheWriteTokens > 0 ? { cache_write_tokens: u.cacheWriteTokens } : {}),
    ...(u.cacheWrite1hTokens ? { cache_write_1h_tokens: u.cacheWrite1hTokens } : {}),
  };
}

/** The shape for a caller/node pair; undefined: today's OpenAI pass-through (`forward/deliver.ts`). */
export function answerShape(caller: WireFormat, node: WireFormat, adapter: ProviderAdapter, ctx: TranslationContext): AnswerShape | undefined {
  if (caller === 'openai' && node === 'openai') return undefined;
  if (caller === 'openai') {
    return {
      caller,
      ...(adapter.translateJson ? { json: (body: unknown) => adapter.translateJson!(body, ctx) } : {}),
      // Bedrock brings its own (Converse, binary event stream); Messages nodes use Anthropic's.
      stream: () => adapter.streamTranslator?.(ctx) ?? new AnthropicToChatStream(ctx),
      pass: false,
      usage: (body) => adapter.usage(body),
      error: (status, headers, body) => {
        const mapped = adapter.mapError(status, headers, body);
        return { status: mapped.status, body: mapped.body };
      },
    };
  }
  if (node === 'anthropic') {
    return {
      caller,
      // Watches message_start / message_delta for usage and message_stop for completeness.
      stream: () => new AnthropicToChatStream({ model: ctx.model, includeUsage: false }),
      pass: true,
      usage: messagesUsage,
      error: (status, _headers, body) => ({ status, body }),
    };
  }
  return {
    caller,
    json: (body) => chatToMessagesJson(body, { model: ctx.model }),
    stream: () => new ChatToMessagesStream({ model: ctx.model }),
    pass: false,
    usage: chatUsageOf,
    error: (status, _headers, body) => ({ status, body: openaiErrorToAnthropic(status, body) }),
  };
}
