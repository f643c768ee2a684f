/**
 * Anthropic Messages API wire shapes (docs: "Messages", "Streaming Messages", "Errors"),
 * as zod schemas so both directions validate what they read. Objects are loose: Anthropic's
 * versioning policy adds fields and event types over time, and unknown fields must not fail
 * a translation. Only the shapes the converters act on are modelled precisely.
 */
import * as z from 'zod';
import type { CanonicalUsage } from '../types';

const CacheControl = z.looseObject({ type: z.literal('ephemeral') }).nullish();

export const TextBlock = z.looseObject({ type: z.literal('text'), text: z.string(), cache_control: CacheControl });
export const ImageBlock = z.looseObject({
  type: z.literal('image'),
  source: z.discriminatedUnion('type', [
    z.looseObject({ type: z.literal('base64'), media_type: z.string().min(1), data: z.string() }),
    z.looseObject({ type: z.literal('url'), url: z.string().min(1) }),
  ]),
  cache_control: CacheControl,
});
export const DocumentBlock = z.looseObject({
  type: z.literal('document'),
  source: z.looseObject({ type: z.string(), media_type: z.string().optional(), data: z.string().optional(), url: z.string().optional() }),
  title: z.string().nullish(),
});
export const ToolUseBlock = z.looseObject({
  type: z.literal('tool_use'),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.record(z.string(), z.unknown()),
});
export const ToolResultBlock = z.looseObject({
  type: z.literal('tool_result'),
  tool_use_id: z.string().min(1),
  content: z.union([z.string(), z.array(z.union([TextBlock, ImageBlock]))]).optional(),
  is_error: z.boolean().optional(),
});
export const ThinkingBlock = z.looseObject({ type: z.literal('thinking'), thinking: z.string(), signature: z.string() });
export const RedactedThinkingBlock = z.looseObject({ type: z.literal('redacted_thinking'), data: z.string() });

/** Blocks a request's messages may hold. */
export const RequestBlock = z.discriminatedUnion('type', [
  TextBlock,
  ImageBlock,
  DocumentBlock,
  ToolUseBlock,
  ToolResultBlock,
  ThinkingBlock,
  RedactedThinkingBlock,
]);

export const MessageParam = z.looseObject({
  role: z.enum(['user', 'assistant']),
  content: z.union([z.string(), z.array(RequestBlock)]),
});

export const ToolDef = z.looseObject({
  /** Client tools have no type or `custom`; server tools (web search, bash, …) name a versioned type. */
  type: z.string().optional(),
  name: z.string().min(1),
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.unknown()).optional(),
});

export const ToolChoice = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('auto'), disable_parallel_tool_use: z.boolean().optional() }),
  z.looseObject({ type: z.literal('any'), disable_parallel_tool_use: z.boolean().optional() }),
  z.looseObject({ type: z.literal('none') }),
  z.looseObject({ type: z.literal('tool'), name: z.string().min(1), disable_parallel_tool_use: z.boolean().optional() }),
]);

export const MessagesRequest = z.looseObject({
  model: z.string().min(1),
  max_tokens: z.number().int().positive(),
  messages: z.array(MessageParam).min(1),
  system: z.union([z.string(), z.array(TextBlock)]).optional(),
  stop_sequences: z.array(z.string()).optional(),
  stream: z.boolean().optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().nonnegative().optional(),
  metadata: z.looseObject({ user_id: z.string().nullish() }).optional(),
  tools: z.array(ToolDef).optional(),
  tool_choice: ToolChoice.optional(),
  /** `adaptive` (Claude 4.6 and later): no budget, the model decides how much to think within `max_tokens`. */
  thinking: z.looseObject({ type: z.enum(['enabled', 'disabled', 'adaptive']), budget_tokens: z.number().int().optional() }).optional(),
});

/** Stop reasons the converters know; others (Anthropic adds them over time) are read as strings. */
export const StopReason = z.enum(['end_turn', 'max_tokens', 'stop_sequence', 'tool_use', 'pause_turn', 'refusal', 'model_context_window_exceeded']);
const AnyStopReason = z.string().min(1);

export const AnthropicUsage = z.looseObject({
  input_tokens: z.number().int().nonnegative(),
  output_tokens: z.number().int().nonnegative(),
  cache_creation_input_tokens: z.number().int().nonnegative().nullish(),
  cache_read_input_tokens: z.number().int().nonnegative().nullish(),
  /** The writes by TTL (`cache_control.ttl`): one-hour writes bill 2× input, five-minute ones 1.25×. */
  cache_creation: z.looseObject({ ephemeral_1h_input_tokens: z.number().int().nonnegative().nullish() }).nullish(),
});

export const MessageResponse = z.looseObject({
  id: z.string(),
  type: z.literal('message'),
  role: z.literal('assistant'),
  model: z.string(),
  content: z.array(z.looseObject({ type: z.string() })),
  stop_reason: AnyStopReason.nullable(),
  stop_sequence: z.string().nullish(),
  usage: AnthropicUsage,
});

export const ErrorType = z.string().min(1);
export const ErrorBody = z.looseObject({
  type: z.literal('error'),
  error: z.looseObject({ type: ErrorType, message: z.string() }),
});

const Delta = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('text_delta'), text: z.string() }),
  z.looseObject({ type: z.literal('input_json_delta'), partial_json: z.string() }),
  z.looseObject({ type: z.literal('thinking_delta'), thinking: z.string() }),
  z.looseObject({ type: z.literal('signature_delta'), signature: z.string() }),
  z.looseObject({ type: z.literal('citations_delta') }),
]);

/** The SSE events of a streamed Message (docs: "Streaming Messages" → event types). */
export const StreamEvent = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('message_start'), message: MessageResponse }),
  z.looseObject({ type: z.literal('content_block_start'), index: z.number().int().nonnegative(), content_block: z.looseObject({ type: z.string() }) }),
  z.looseObject({ type: z.literal('content_block_delta'), index: z.number().int().nonnegative(), delta: Delta }),
  z.looseObject({ type: z.literal('content_block_stop'), index: z.number().int().nonnegative() }),
  z.looseObject({
    type: z.literal('message_delta'),
    delta: z.looseObject({ stop_reason: AnyStopReason.nullish(), stop_sequence: z.string().nullish() }),
    /** Cumulative; `input_tokens` and the cache figures appear here on newer API versions. */
    usage: AnthropicUsage.partial().extend({ output_tokens: z.number().int().nonnegative() }),
  }),
  z.looseObject({ type: z.literal('message_stop') }),
  z.looseObject({ type: z.literal('ping') }),
  z.looseObject({ type: z.literal('error'), error: z.looseObject({ type: ErrorType, message: z.string() }) }),
]);

export type TextBlock = z.infer<typeof TextBlock>;
export type ImageBlock = z.infer<typeof ImageBlock>;
export type ToolUseBlock = z.infer<typeof ToolUseBlock>;
export type ToolResultBlock = z.infer<typeof ToolResultBlock>;
export type RequestBlock = z.infer<typeof RequestBlock>;
export type MessageParam = z.infer<typeof MessageParam>;
export type ToolDef = z.infer<typeof ToolDef>;
export type ToolChoice = z.infer<typeof ToolChoice>;
export type MessagesRequest = z.infer<typeof MessagesRequest>;
export type StopReason = z.infer<typeof StopReason>;
export type AnthropicUsage = z.infer<typeof AnthropicUsage>;
export type MessageResponse = z.infer<typeof MessageResponse>;
export type ErrorBody = z.infer<typeof ErrorBody>;
export type StreamEvent = z.infer<typeof StreamEvent>;

/** One sampling pass of a request that took several (`usage.iterations`): server-side compaction's, or the answer's. */
const Iteration = AnthropicUsage.extend({ type: z.string().optional() });

/**
 * The passes Anthropic bills beside the answer's: `usage.iterations` entries not of type
 * `message` — server-side compaction's pass, which reads the whole conversation and writes its
 * summary. The top-level figures are the answer's alone (Anthropic's compaction docs: sum the
 * iterations for what is billed), so settling at them would charge a key less than the node billed.
 */
function otherPasses(u: Partial<AnthropicUsage>): AnthropicUsage[] {
  const iterations = (u as { iterations?: unknown }).iterations;
  if (!Array.isArray(iterations)) return [];
  return iterations.flatMap((it) => {
    const parsed = Iteration.safeParse(it);
    return parsed.success && parsed.data.type !== 'message' ? [parsed.data] : [];
  });
}

/** Canonical usage from Anthropic's figures: OpenAI's prompt count includes both cache parts; every billed pass counted. */
export function canonicalUsage(u: Partial<AnthropicUsage>): CanonicalUsage {
  const passes: Partial<AnthropicUsage>[] = [u, ...otherPasses(u)];
  const sum = (f: (p: Partial<AnthropicUsage>) => number | null | undefined) => passes.reduce((s, p) => s + (f(p) ?? 0), 0);
  const cachedTokens = sum((p) => p.cache_read_input_tokens);
  const cacheWriteTokens = sum((p) => p.cache_creation_input_tokens);
  const cacheWrite1hTokens = Math.min(cacheWriteTokens, sum((p) => p.cache_creation?.ephemeral_1h_input_tokens));
  return {
    promptTokens: sum((p) => p.input_tokens) + cachedTokens + cacheWriteTokens,
    cachedTokens,
    cacheWriteTokens,
    ...(cacheWrite1hTokens > 0 ? { cacheWrite1hTokens } : {}),
    completionTokens: sum((p) => p.output_tokens),
  };
}
