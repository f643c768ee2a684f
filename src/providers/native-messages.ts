/**
 * How a native Messages answer reaches an Anthropic Messages caller (Claude on Bedrock
 * InvokeModel, on Vertex rawPredict): JSON is Anthropic's Message as it came (bytes as they
 * are, usage read from its `usage`); a Vertex stream is Anthropic SSE, passed on and watched;
 * Bedrock's binary event stream is re-framed as Anthropic SSE by the adapter's translator;
 * a caller error (4xx) is mapped by the adapter and shown in Anthropic's error shape.
 */
import type { AnswerShape } from './answer';
import { openaiErrorToAnthropic } from './anthropic-inbound/errors';
import { messagesUsage } from './anthropic/from-messages';
import { AnthropicToChatStream } from './anthropic/stream-to-chat';
import type { ProviderAdapter, TranslationContext } from './types';

export function nativeMessagesShape(adapter: ProviderAdapter, ctx: TranslationContext): AnswerShape {
  const own = adapter.messagesStream;
  return {
    caller: 'anthropic',
    // Pass mode: Anthropic's events go on as they came; the chat translator only watches them.
    stream: () => (own ? own() : new AnthropicToChatStream({ model: ctx.model, includeUsage: false })),
    pass: own === undefined,
    usage: messagesUsage,
    error: (status, headers, body) => {
      const mapped = adapter.mapError(status, headers, body);
      return { status: mapped.status, body: openaiErrorToAnthropic(mapped.status, mapped.body) };
    },
  };
}
