/**
 * Inbound `POST /v1/messages` (an Anthropic caller) → OpenAI chat request for an
 * OpenAI-compatible node. Pure; returns a typed failure for what chat cannot carry.
 *
 * - `system` → one system message; text blocks → text parts; images: base64 source → data
 *   URL, url source → `image_url`; base64 PDF documents → `file` parts;
 * - assistant `tool_use` blocks → `tool_calls` (input serialised as the arguments string);
 *   `tool_result` blocks → `role:"tool"` messages, placed before the rest of their user turn
 *   (chat wants tool answers right after the assistant's calls); a result with `is_error: true`
 *   carries the failure in its text (`failedToolText`: chat has no such flag);
 * - `stop_sequences` → `stop`, `max_tokens`, `temperature`, `top_p`, `metadata.user_id` →
 *   `user`, tools (`input_schema` → `parameters`), `tool_choice` (`any` → `required`,
 *   `disable_parallel_tool_use` → `parallel_tool_calls:false`); `stream` asks for usage.
 * - `thinking` enabled → `reasoning_effort` for a reasoning model (`opts.reasoning`: o-series,
 *   gpt-5), held to Anthropic's own rules (a budget of at least 1,024, below `max_tokens`);
 *   adaptive thinking (no budget) → the effort its `output_config.effort` names (default high);
 *   the reasoning tokens count inside the cap, as Claude's thinking counts inside `max_tokens`.
 *   Such a model takes only the default `temperature` and `top_p` (1): other values are left out.
 * Refused: `thinking` / `redacted_thinking` blocks in history (`thinking_in_history`: chat
 * has no way to send them back), `thinking` enabled for a model that does not reason
 * (`unsupported_feature`),
 * server tools (typed tools such as web search) and MCP servers (`mcp_servers`), images
 * inside tool results, non-PDF documents. Ignored: `top_k`, `cache_control` (prompt caching is the node's own business).
 */
import { fail, ok, type Result, type TranslationFailure } from '../types';
import { firstIssue } from '../openai/chat-wire';
import { MIN_THINKING_BUDGET } from '../anthropic/thinking';
import { MessagesRequest, type MessageParam, type RequestBlock } from '../anthropic/wire';

type ChatPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } } | { type: 'file'; file: { file_data: string; filename?: string } };
type ChatToolCall = { id: string; type: 'function'; function: { name: string; arguments: string } };
export type ChatMessageOut =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string | ChatPart[] }
  | { role: 'assistant'; content: string | null; tool_calls?: ChatToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

export interface ChatRequestOut {
  model: string;
  messages: ChatMessageOut[];
  max_tokens: number;
  stream?: boolean;
  stream_options?: { include_usage: true };
  stop?: string[];
  temperature?: number;
  top_p?: number;
  user?: string;
  tools?: { type: 'function'; function: { name: string; description?: string; parameters: Record<string, unknown> } }[];
  tool_choice?: 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };
  parallel_tool_calls?: boolean;
  reasoning_effort?: ReasoningEffort;
}

type ReasoningEffort = 'low' | 'medium' | 'high';

/**
 * A Claude thinking budget as an OpenAI reasoning effort. Claude Code's "think", "think hard"
 * and "ultrathink" (4,000, 10,000 and 31,999 tokens) land on low, medium and high.
 */
export function effortFor(budget: number): ReasoningEffort {
  return budget < 8_000 ? 'low' : budget < 24_000 ? 'medium' : 'high';
}

/** `thinking` enabled, for a model that reasons: its effort, or Anthropic's own refusal of the budget. */
function thinkingEffort(budget: number | undefined, maxTokens: number): Result<ReasoningEffort> {
  if (budget === undefined || budget < MIN_THINKING_BUDGET) {
    return fail('unsupported_value', `thinking.budget_tokens must be at least ${MIN_THINKING_BUDGET}.`, 'thinking.budget_tokens');
  }
  if (budget >= maxTokens) return fail('unsupported_value', '`max_tokens` must be greater than `thinking.budget_tokens`.', 'max_tokens');
  return ok(effortFor(budget));
}

/**
 * Adaptive thinking (Claude 4.6 and later: no budget) as an effort: Anthropic's own
 * `output_config.effort` — `low`, `medium`, `high` (its default), `max` (read as `high`).
 */
function adaptiveEffort(config: unknown): ReasoningEffort {
  const effort = (config as { effort?: unknown } | null | undefined)?.effort;
  return effort === 'low' || effort === 'medium' ? effort : 'high';
}

type Failed = { ok: false; error: TranslationFailure };

function thinking(param: string): Failed {
  return fail('thinking_in_history', 'This model is served through an OpenAI-compatible API, which cannot take thinking blocks back; remove them from the conversation history.', param);
}

/**
 * A failed tool's result as chat text. Chat's tool message has no error flag, so Anthropic's
 * `is_error: true` is carried in the text the model reads: an `Error: ` prefix (the form
 * Anthropic's own tool-use docs show for failed tools), unless the text already opens with
 * `Error:`; an empty result becomes `Error`. Dropped, the model would take a failure's
 * text (often empty, or a stack trace) for the tool's answer.
 */
export function failedToolText(text: string): string {
  if (text.trim().length === 0) return 'Error';
  return /^\s*error\s*:/i.test(text) ? text : `Error: ${text}`;
}

function userTurn(blocks: RequestBlock[], param: string): Result<ChatMessageOut[]> {
  const tools: ChatMessageOut[] = [];
  const parts: ChatPart[] = [];
  for (const [j, b] of blocks.entries()) {
    const at = `${param}.content.${j}`;
    switch (b.type) {
      case 'text':
        parts.push({ type: 'text', text: b.text });
        break;
      case 'image':
        // Only http(s) URLs: an OpenAI-compatible node must not be asked to read other schemes.
        if (b.source.type === 'url' && !/^https?:\/\//i.test(b.source.url)) return fail('unsupported_value', 'An image URL must be http(s).', `${at}.source.url`);
        parts.push({ type: 'image_url', image_url: { url: b.source.type === 'base64' ? `data:${b.source.media_type};base64,${b.source.data}` : b.source.url } });
        break;
      case 'document':
        if (b.source.type !== 'base64' || b.source.media_type !== 'application/pdf' || b.source.data === undefined)
          return fail('unsupported_feature', 'Only base64 PDF documents can be sent to this model.', at);
        parts.push({ type: 'file', file: { file_data: `data:application/pdf;base64,${b.source.data}`, ...(b.title ? { filename: b.title } : {}) } });
        break;
      case 'tool_result': {
        const content = b.content ?? '';
        if (typeof content !== 'string' && content.some((c) => c.type !== 'text'))
          return fail('unsupported_feature', 'Tool results can carry only text for this model.', at);
        const text = typeof content === 'string' ? content : content.map((c) => (c.type === 'text' ? c.text : '')).join('');
        tools.push({ role: 'tool', tool_call_id: b.tool_use_id, content: b.is_error === true ? failedToolText(text) : text });
        break;
      }
      case 'tool_use':
        return fail('invalid_shape', 'tool_use blocks belong in assistant turns.', at);
      case 'thinking':
      case 'redacted_thinking':
        return thinking(at);
    }
  }
  const user: ChatMessageOut[] = parts.length === 0 ? [] : [{ role: 'user', content: parts.every((p) => p.type === 'text') && parts.length === 1 ? parts[0]!.text : parts }];
  return ok([...tools, ...user]);
}

function assistantTurn(blocks: RequestBlock[], param: string): Result<ChatMessageOut[]> {
  const texts: string[] = [];
  const calls: ChatToolCall[] = [];
  for (const [j, b] of blocks.entries()) {
    const at = `${param}.content.${j}`;
    if (b.type === 'text') texts.push(b.text);
    else if (b.type === 'tool_use') calls.push({ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input) } });
    else if (b.type === 'thinking' || b.type === 'redacted_thinking') return thinking(at);
    else return fail('invalid_shape', `${b.type} blocks belong in user turns.`, at);
  }
  return ok([{ role: 'assistant', content: texts.length > 0 ? texts.join('') : null, ...(calls.length > 0 ? { tool_calls: calls } : {}) }]);
}

function turn(m: MessageParam, param: string): Result<ChatMessageOut[]> {
  if (typeof m.content === 'string') return ok([m.role === 'user' ? { role: 'user', content: m.content } : { role: 'assistant', content: m.content }]);
  return m.role === 'user' ? userTurn(m.content, param) : assistantTurn(m.content, param);
}

/** Messages request body → chat request for `upstreamModel` (the node's name for the model). */
export function messagesToChatRequest(body: unknown, opts: { upstreamModel: string; /** The node's model takes `reasoning_effort`. */ reasoning?: boolean }): Result<ChatRequestOut> {
  const parsed = MessagesRequest.safeParse(body);
  if (!parsed.success) {
    const issue = firstIssue(parsed.error);
    return fail('invalid_shape', `Invalid Messages request: ${issue.message}`, issue.path);
  }
  const req = parsed.data;
  let effort: ReasoningEffort | undefined;
  if (req.thinking?.type === 'enabled' || req.thinking?.type === 'adaptive') {
    if (!opts.reasoning) return fail('unsupported_feature', 'Extended thinking is not available on this model.', 'thinking');
    const mapped = req.thinking.type === 'enabled' ? thinkingEffort(req.thinking.budget_tokens, req.max_tokens) : ok(adaptiveEffort(req.output_config));
    if (!mapped.ok) return mapped;
    effort = mapped.value;
  }
  const server = req.tools?.findIndex((t) => t.type !== undefined && t.type !== 'custom') ?? -1;
  if (server >= 0) return fail('unsupported_feature', `Server tool "${req.tools![server]!.type}" is not available on this model.`, `tools.${server}`);
  // The MCP connector's tools are Anthropic's to call: dropped, the model would answer without them.
  if (Array.isArray(req.mcp_servers) && req.mcp_servers.length > 0) return fail('unsupported_feature', 'MCP servers (mcp_servers) are not available on this model.', 'mcp_servers');

  const messages: ChatMessageOut[] = [];
  if (req.system !== undefined) {
    const system = typeof req.system === 'string' ? req.system : req.system.map((b) => b.text).join('\n');
    if (system.length > 0) messages.push({ role: 'system', content: system });
  }
  for (const [i, m] of req.messages.entries()) {
    const out = turn(m, `messages.${i}`);
    if (!out.ok) return out;
    messages.push(...out.value);
  }

  const out: ChatRequestOut = { model: opts.upstreamModel, messages, max_tokens: req.max_tokens };
  if (req.stream) {
    out.stream = true;
    // Anthropic callers always get usage in message_delta: the node must report it.
    out.stream_options = { include_usage: true };
  }
  if (req.stop_sequences && req.stop_sequences.length > 0) out.stop = req.stop_sequences;
  // A reasoning model takes only the default sampling (OpenAI: temperature and top_p 1): another value is left out, not
  // relayed as OpenAI's 400 — Anthropic takes 0–1 on every model, and a reasoning model's sampling is its own.
  if (req.temperature !== undefined && !(opts.reasoning && req.temperature !== 1)) out.temperature = req.temperature;
  if (req.top_p !== undefined && !(opts.reasoning && req.top_p !== 1)) out.top_p = req.top_p;
  if (req.metadata?.user_id) out.user = req.metadata.user_id;
  if (effort !== undefined) out.reasoning_effort = effort;
  if (req.tools && req.tools.length > 0)
    out.tools = req.tools.map((t) => ({
      type: 'function',
      function: { name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), parameters: t.input_schema ?? { type: 'object', properties: {} } },
    }));
  const choice = req.tool_choice;
  if (choice) {
    out.tool_choice = choice.type === 'auto' ? 'auto' : choice.type === 'any' ? 'required' : choice.type === 'none' ? 'none' : { type: 'function', function: { name: choice.name } };
    if (choice.type !== 'none' && choice.disable_parallel_tool_use) out.parallel_tool_calls = false;
  }
  return ok(out);
}
