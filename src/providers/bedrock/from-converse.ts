/**
 * Bedrock Converse answer (JSON) → OpenAI chat completion. Pure.
 *
 * Text blocks are joined into `message.content`; `toolUse` blocks become `tool_calls`
 * (input re-serialised as the arguments string); reasoning blocks are not forwarded (chat
 * has no field; their tokens are in the usage). Stop reasons: `end_turn`, `stop_sequence`,
 * unknown → `stop`; `max_tokens`, `model_context_window_exceeded` → `length`; `tool_use` →
 * `tool_calls`; `guardrail_intervened`, `content_filtered` → `content_filter`.
 * Usage: `prompt_tokens` = inputTokens + cacheReadInputTokens + cacheWriteInputTokens.
 */
import type { ChatCompletionOut } from '../anthropic/from-messages';
import { chatUsage, firstIssue, type FinishReason } from '../openai/chat-wire';
import { fail, ok, type CanonicalUsage, type Result } from '../types';
import { ConverseResponse, ConverseUsage, converseCanonicalUsage } from './wire';

export function converseFinishReason(stop: string | null | undefined): FinishReason {
  switch (stop) {
    case 'max_tokens':
    case 'model_context_window_exceeded': return 'length';
    case 'tool_use': return 'tool_calls';
    case 'guardrail_intervened':
    case 'content_filtered': return 'content_filter';
    default: return 'stop';
  }
}

/** Usage of a Converse answer, read structurally from its top-level `usage` member. */
export function converseUsage(body: unknown): CanonicalUsage | undefined {
  const parsed = ConverseUsage.safeParse((body as { usage?: unknown } | null)?.usage);
  return parsed.success ? converseCanonicalUsage(parsed.data) : undefined;
}

/**
 * `model`: the router model id shown to the caller; `id`: the chat completion id (Converse
 * answers carry none: the router's request id is a good one); `created`: epoch seconds.
 */
export function converseToChat(body: unknown, opts: { model: string; id: string; created?: number }): Result<ChatCompletionOut> {
  const parsed = ConverseResponse.safeParse(body);
  if (!parsed.success) {
    const issue = firstIssue(parsed.error);
    return fail('invalid_shape', `The upstream answer is not a Converse response: ${issue.message}`, issue.path);
  }
  const r = parsed.data;
  const text: string[] = [];
  const toolCalls: NonNullable<ChatCompletionOut['choices'][0]['message']['tool_calls']> = [];
  for (const b of r.output.message.content) {
    if (typeof b.text === 'string') text.push(b.text);
    else if (b.toolUse) toolCalls.push({ id: b.toolUse.toolUseId, type: 'function', function: { name: b.toolUse.name, arguments: JSON.stringify(b.toolUse.input ?? {}) } });
  }
  return ok({
    id: opts.id,
    object: 'chat.completion',
    created: opts.created ?? Math.floor(Date.now() / 1000),
    model: opts.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: text.length > 0 ? text.join('') : null, refusal: null, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
        logprobs: null,
        finish_reason: converseFinishReason(r.stopReason),
      },
    ],
    usage: chatUsage(converseCanonicalUsage(r.usage)),
  });
}
