/**
 * OpenAI chat completion (JSON answer of an OpenAI-compatible node) → Anthropic Message, for
 * an inbound `POST /v1/messages` caller. Pure.
 *
 * `message.content` (or `refusal`) → one text block; `tool_calls` → `tool_use` blocks (the
 * arguments string must parse to a JSON object: Messages carries tool input as an object).
 * Finish reasons: `stop` → `end_turn`, `length` → `max_tokens`, `tool_calls`/`function_call`
 * → `tool_use`, `content_filter` → `refusal`. Usage: Anthropic's `input_tokens` excludes
 * cache reads, so it is `prompt_tokens − cached_tokens`; cached tokens →
 * `cache_read_input_tokens`. Only the first choice is read (the request never asks for n > 1).
 */
import { fail, ok, type CanonicalUsage, type Result } from '../types';
import { canonicalChatUsage, ChatCompletion, firstIssue, type ChatUsage } from '../openai/chat-wire';
import type { StopReason } from '../anthropic/wire';

export type MessagesBlockOut = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

export interface MessageOut {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: MessagesBlockOut[];
  stop_reason: StopReason;
  stop_sequence: null;
  usage: { input_tokens: number; output_tokens: number; cache_read_input_tokens: number; cache_creation_input_tokens: number };
}

/** Unknown finish reasons read as `end_turn`. */
export function stopReasonOf(finish: string | null | undefined): StopReason {
  switch (finish) {
    case 'length': return 'max_tokens';
    case 'tool_calls':
    case 'function_call': return 'tool_use';
    case 'content_filter': return 'refusal';
    default: return 'end_turn';
  }
}

/** Canonical usage from an OpenAI usage object (OpenAI reports no cache writes). */
export function usageFromChat(u: ChatUsage): CanonicalUsage {
  return canonicalChatUsage(u);
}

/** Anthropic usage figures from canonical ones (input excludes both cache parts). */
export function anthropicUsage(u: CanonicalUsage): MessageOut['usage'] {
  return {
    input_tokens: Math.max(0, u.promptTokens - u.cachedTokens - u.cacheWriteTokens),
    output_tokens: u.completionTokens,
    cache_read_input_tokens: u.cachedTokens,
    cache_creation_input_tokens: u.cacheWriteTokens,
  };
}

/** Parses a tool call's arguments string into the object Messages wants; undefined if it is not one. */
export function toolInput(args: string): Record<string, unknown> | undefined {
  if (args.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(args);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** `model`: the name to show the caller (what it asked for). */
export function chatToMessagesJson(body: unknown, opts: { model: string }): Result<MessageOut> {
  const parsed = ChatCompletion.safeParse(body);
  if (!parsed.success) {
    const issue = firstIssue(parsed.error);
    return fail('invalid_shape', `The upstream answer is not a chat completion: ${issue.message}`, issue.path);
  }
  const chat = parsed.data;
  const choice = chat.choices[0]!;
  const content: MessagesBlockOut[] = [];
  const text = choice.message.content ?? choice.message.refusal ?? '';
  if (text.length > 0) content.push({ type: 'text', text });
  for (const [j, call] of (choice.message.tool_calls ?? []).entries()) {
    const input = toolInput(call.function.arguments);
    if (!input) return fail('invalid_tool_arguments', 'The model returned tool call arguments that are not a JSON object.', `choices.0.message.tool_calls.${j}.function.arguments`);
    content.push({ type: 'tool_use', id: call.id, name: call.function.name, input });
  }
  const usage = chat.usage ? usageFromChat(chat.usage) : { promptTokens: 0, cachedTokens: 0, cacheWriteTokens: 0, completionTokens: 0 };
  return ok({
    id: chat.id,
    type: 'message',
    role: 'assistant',
    model: opts.model,
    content,
    stop_reason: stopReasonOf(choice.finish_reason),
    stop_sequence: null,
    usage: anthropicUsage(usage),
  });
}
