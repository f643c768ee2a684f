/**
 * Anthropic Message (JSON answer) → OpenAI chat completion. Pure.
 *
 * Text blocks are joined into `message.content`; `tool_use` blocks become `tool_calls`
 * (input re-serialised as the arguments string); thinking blocks are not forwarded (chat has
 * no field for them; their tokens are in the usage). Stop reasons: `end_turn`,
 * `stop_sequence`, `pause_turn`, unknown → `stop`; `max_tokens`,
 * `model_context_window_exceeded` → `length`; `tool_use` →
 * `tool_calls`; `refusal` → `content_filter`. Usage: `prompt_tokens` = input + cache reads +
 * cache writes; cache reads are `prompt_tokens_details.cached_tokens`.
 */
import { fail, ok, type CanonicalUsage, type Result } from '../types';
import { chatUsage, firstIssue, type FinishReason } from '../openai/chat-wire';
import { canonicalUsage, MessageResponse, TextBlock, ToolUseBlock } from './wire';

/** Unknown stop reasons read as `stop`: the answer ended, for a reason chat has no name for. */
export function finishReasonOf(stop: string | null | undefined): FinishReason {
  switch (stop) {
    case 'max_tokens':
    case 'model_context_window_exceeded': return 'length';
    case 'tool_use': return 'tool_calls';
    case 'refusal': return 'content_filter';
    default: return 'stop';
  }
}

export interface ChatCompletionOut {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: {
    index: 0;
    message: {
      role: 'assistant';
      content: string | null;
      refusal: null;
      tool_calls?: { id: string; type: 'function'; function: { name: string; arguments: string } }[];
    };
    logprobs: null;
    finish_reason: FinishReason;
  }[];
  usage: ReturnType<typeof chatUsage>;
}

/** Usage of a Messages answer, read structurally from its `usage` member. */
export function messagesUsage(body: unknown): CanonicalUsage | undefined {
  const parsed = MessageResponse.shape.usage.safeParse((body as { usage?: unknown } | null)?.usage);
  return parsed.success ? canonicalUsage(parsed.data) : undefined;
}

/**
 * `model`: the name to show the caller (the router model id, not the node's name for it).
 * `created`: seconds since the epoch (defaults to now).
 */
export function messagesToChat(body: unknown, opts: { model: string; created?: number }): Result<ChatCompletionOut> {
  const parsed = MessageResponse.safeParse(body);
  if (!parsed.success) {
    const issue = firstIssue(parsed.error);
    return fail('invalid_shape', `The upstream answer is not a Message: ${issue.message}`, issue.path);
  }
  const msg = parsed.data;
  const texts: string[] = [];
  const toolCalls: NonNullable<ChatCompletionOut['choices'][0]['message']['tool_calls']> = [];
  for (const block of msg.content) {
    const t = TextBlock.safeParse(block);
    if (t.success) {
      texts.push(t.data.text);
      continue;
    }
    const u = ToolUseBlock.safeParse(block);
    if (u.success) toolCalls.push({ id: u.data.id, type: 'function', function: { name: u.data.name, arguments: JSON.stringify(u.data.input) } });
  }
  const message: ChatCompletionOut['choices'][0]['message'] = {
    role: 'assistant',
    content: texts.length > 0 ? texts.join('') : null,
    refusal: null,
    ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
  };
  return ok({
    id: msg.id,
    object: 'chat.completion',
    created: opts.created ?? Math.floor(Date.now() / 1000),
    model: opts.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReasonOf(msg.stop_reason) }],
    usage: chatUsage(canonicalUsage(msg.usage)),
  });
}
