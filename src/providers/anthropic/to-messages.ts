/**
 * OpenAI chat request → Anthropic Messages request. Pure; returns a typed failure for what
 * Messages cannot express instead of dropping it silently.
 *
 * - system/developer messages → `system` text blocks (hoisted, in order: Messages has no
 *   system turns inside the conversation);
 * - text parts → text blocks (empty text dropped: Messages refuses empty text blocks);
 *   images: data URLs → base64 source, http(s) URLs → url source; PDF data URLs → document;
 * - assistant `tool_calls` → `tool_use` blocks (arguments must be a JSON object);
 *   `role:"tool"` → `tool_result` blocks; consecutive same-role turns merged so roles
 *   alternate (tool results, then the user's text, in one user turn);
 * - `stop` → `stop_sequences`; `max_tokens` is always the reserved cap; `temperature`
 *   (0–1 only), `top_p`; `user` → `metadata.user_id`; tools and `tool_choice`
 *   (`required` → `any`, `parallel_tool_calls:false` → `disable_parallel_tool_use`);
 * - `reasoning_effort` → `thinking` with a budget under the cap (`thinking.ts`: when it is
 *   left out — for a Claude model that cannot think, among others — and what it refuses alongside).
 * Refused: `n > 1`, `logprobs`, JSON `response_format`, audio (input parts or output
 * modality), file ids, legacy `functions`/`function_call`. Ignored (no Messages
 * equivalent, answer shape unchanged): seed, penalties, logit_bias, service_tier, store.
 */
import { fail, ok, type Result, type TranslationContext } from '../types';
import { ChatRequest, firstIssue, type ChatMessage, type UserPart } from '../openai/chat-wire';
import { claudeThinks, thinkingFor } from './thinking';
import type { MessageParam, MessagesRequest, RequestBlock, ToolChoice, ToolDef } from './wire';

const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

type Built = Result<RequestBlock[]>;

function text(content: string | { type: 'text'; text: string }[]): RequestBlock[] {
  const parts = typeof content === 'string' ? [content] : content.map((p) => p.text);
  return parts.filter((t) => t.length > 0).map((t) => ({ type: 'text' as const, text: t }));
}

function userPart(part: UserPart, param: string): Result<RequestBlock | null> {
  switch (part.type) {
    case 'text':
      return ok(part.text.length > 0 ? { type: 'text', text: part.text } : null);
    case 'image_url': {
      const url = part.image_url.url;
      const data = DATA_URL.exec(url);
      if (data) {
        const mediaType = data[1]!.toLowerCase();
        if (!IMAGE_TYPES.has(mediaType)) return fail('unsupported_value', `Anthropic accepts images as JPEG, PNG, GIF or WebP, not ${mediaType}.`, param);
        return ok({ type: 'image', source: { type: 'base64', media_type: mediaType, data: data[2]! } });
      }
      if (/^https?:\/\//i.test(url)) return ok({ type: 'image', source: { type: 'url', url } });
      return fail('unsupported_value', 'An image must be an http(s) URL or a base64 data URL.', `${param}.image_url.url`);
    }
    case 'file': {
      const data = part.file.file_data ? DATA_URL.exec(part.file.file_data) : null;
      if (!data || data[1]!.toLowerCase() !== 'application/pdf')
        return fail('unsupported_feature', 'Only PDF files sent inline as base64 data URLs can be sent to this model (no file ids).', param);
      return ok({ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: data[2]! } });
    }
    case 'input_audio':
      return fail('unsupported_feature', 'Audio input is not available on this model.', param);
  }
}

function messageBlocks(m: ChatMessage, param: string): Built {
  switch (m.role) {
    case 'user': {
      if (typeof m.content === 'string') return ok(text(m.content));
      const blocks: RequestBlock[] = [];
      for (const [j, part] of m.content.entries()) {
        const block = userPart(part, `${param}.content.${j}`);
        if (!block.ok) return block;
        if (block.value) blocks.push(block.value);
      }
      return ok(blocks);
    }
    case 'assistant': {
      if (m.function_call !== undefined && m.function_call !== null)
        return fail('unsupported_feature', 'Legacy function_call is not supported; use tool_calls.', `${param}.function_call`);
      const content = m.content ?? '';
      const blocks: RequestBlock[] =
        typeof content === 'string' ? text(content) : content.flatMap((p) => (p.type === 'text' ? text(p.text) : text(p.refusal)));
      for (const [j, call] of (m.tool_calls ?? []).entries()) {
        let input: unknown;
        try {
          input = JSON.parse(call.function.arguments || '{}');
        } catch {
          input = undefined;
        }
        if (typeof input !== 'object' || input === null || Array.isArray(input))
          return fail('invalid_tool_arguments', 'Tool call arguments must be a JSON object.', `${param}.tool_calls.${j}.function.arguments`);
        blocks.push({ type: 'tool_use', id: call.id, name: call.function.name, input: input as Record<string, unknown> });
      }
      return ok(blocks);
    }
    case 'tool': {
      const content = typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('');
      // An empty result is sent without content (Messages refuses empty text).
      return ok([{ type: 'tool_result', tool_use_id: m.tool_call_id, ...(content.length > 0 ? { content } : {}) }]);
    }
    case 'function':
      return fail('unsupported_feature', 'Legacy function messages are not supported; use tool messages.', param);
    case 'system':
    case 'developer':
      return ok([]);
  }
}

function toolChoice(req: ChatRequest): Result<ToolChoice | undefined> {
  const noParallel = req.parallel_tool_calls === false ? { disable_parallel_tool_use: true } : {};
  const choice = req.tool_choice;
  if (choice === undefined || choice === null) return ok(req.parallel_tool_calls === false && req.tools?.length ? { type: 'auto', ...noParallel } : undefined);
  if (choice === 'none') return ok({ type: 'none' });
  if (choice === 'auto') return ok({ type: 'auto', ...noParallel });
  if (choice === 'required') return ok({ type: 'any', ...noParallel });
  return ok({ type: 'tool', name: choice.function.name, ...noParallel });
}

function refusals(req: ChatRequest): Result<null> {
  if ((req.n ?? 1) > 1) return fail('unsupported_feature', 'This model returns one choice per request; n must be 1.', 'n');
  if (req.logprobs) return fail('unsupported_feature', 'Log probabilities are not available on this model.', 'logprobs');
  const format = req.response_format?.type;
  if (format !== undefined && format !== 'text') return fail('unsupported_feature', `response_format "${format}" is not available on this model.`, 'response_format');
  if (req.modalities?.some((m) => m !== 'text')) return fail('unsupported_feature', 'This model answers in text only.', 'modalities');
  if (req.functions !== undefined) return fail('unsupported_feature', 'Legacy functions are not supported; use tools.', 'functions');
  if (req.temperature !== undefined && req.temperature !== null && (req.temperature < 0 || req.temperature > 1))
    return fail('unsupported_value', 'This model accepts temperature from 0 to 1.', 'temperature');
  return ok(null);
}

export interface ChatToMessagesOptions {
  /**
   * Turn `reasoning_effort` into `thinking` (default true; false for a model that cannot take
   * it, as Bedrock's non-Claude models). An effort OpenAI does not define is refused either way.
   */
  thinking?: boolean;
}

/** Chat request body → Messages request for `ctx.upstreamModel`, with `max_tokens` = `ctx.maxTokens`. */
export function chatToMessages(body: unknown, ctx: Pick<TranslationContext, 'upstreamModel' | 'maxTokens'>, options: ChatToMessagesOptions = {}): Result<MessagesRequest> {
  const parsed = ChatRequest.safeParse(body);
  if (!parsed.success) {
    const issue = firstIssue(parsed.error);
    return fail('invalid_shape', `Invalid chat request: ${issue.message}`, issue.path);
  }
  const req = parsed.data;
  const refused = refusals(req);
  if (!refused.ok) return refused;

  const system: { type: 'text'; text: string }[] = [];
  const messages: MessageParam[] = [];
  for (const [i, m] of req.messages.entries()) {
    if (m.role === 'system' || m.role === 'developer') {
      system.push(...(text(m.content) as { type: 'text'; text: string }[]));
      continue;
    }
    const blocks = messageBlocks(m, `messages.${i}`);
    if (!blocks.ok) return blocks;
    if (blocks.value.length === 0) continue;
    const role = m.role === 'assistant' ? 'assistant' : 'user';
    const last = messages.at(-1);
    if (last && last.role === role && Array.isArray(last.content)) last.content.push(...blocks.value);
    else messages.push({ role, content: blocks.value });
  }
  if (messages.length === 0) return fail('invalid_shape', 'The request has no user or assistant content to send.', 'messages');

  const choice = toolChoice(req);
  if (!choice.ok) return choice;
  const tools: ToolDef[] | undefined = req.tools?.map((t) => ({
    name: t.function.name,
    ...(t.function.description !== undefined ? { description: t.function.description } : {}),
    input_schema: t.function.parameters ?? { type: 'object', properties: {} },
  }));
  const thinking = thinkingFor(req, messages, ctx.maxTokens);
  if (!thinking.ok) return thinking;
  const stop = req.stop === undefined || req.stop === null ? undefined : typeof req.stop === 'string' ? [req.stop] : req.stop;

  const out: MessagesRequest = { model: ctx.upstreamModel, max_tokens: ctx.maxTokens, messages };
  if (system.length > 0) out.system = system;
  if (stop && stop.length > 0) out.stop_sequences = stop;
  if (req.stream) out.stream = true;
  if (typeof req.temperature === 'number') out.temperature = req.temperature;
  if (typeof req.top_p === 'number') out.top_p = req.top_p;
  if (req.user) out.metadata = { user_id: req.user };
  if (tools && tools.length > 0) out.tools = tools;
  if (choice.value) out.tool_choice = choice.value;
  if (thinking.value && options.thinking !== false && claudeThinks(ctx.upstreamModel)) out.thinking = thinking.value;
  return ok(out);
}
