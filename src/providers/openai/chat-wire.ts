/**
 * OpenAI Chat Completions wire shapes (API reference: "Create chat completion", "The chat
 * completion object", "The chat completion chunk object"), precisely enough to translate
 * them. Objects are loose: fields a converter does not act on are its own decision to keep
 * or refuse, never a parse failure.
 */
import * as z from 'zod';
import type { CanonicalUsage } from '../types';

export const TextPart = z.looseObject({ type: z.literal('text'), text: z.string() });
export const ImagePart = z.looseObject({
  type: z.literal('image_url'),
  image_url: z.looseObject({ url: z.string().min(1), detail: z.enum(['auto', 'low', 'high']).optional() }),
});
export const AudioPart = z.looseObject({ type: z.literal('input_audio') });
export const FilePart = z.looseObject({
  type: z.literal('file'),
  file: z.looseObject({ file_data: z.string().optional(), file_id: z.string().optional(), filename: z.string().optional() }),
});
export const RefusalPart = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });

export const ToolCall = z.looseObject({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.looseObject({ name: z.string().min(1), arguments: z.string() }),
});

const TextContent = z.union([z.string(), z.array(TextPart)]);

export const ChatMessage = z.discriminatedUnion('role', [
  z.looseObject({ role: z.literal('system'), content: TextContent, name: z.string().optional() }),
  z.looseObject({ role: z.literal('developer'), content: TextContent, name: z.string().optional() }),
  z.looseObject({
    role: z.literal('user'),
    content: z.union([z.string(), z.array(z.discriminatedUnion('type', [TextPart, ImagePart, AudioPart, FilePart]))]),
    name: z.string().optional(),
  }),
  z.looseObject({
    role: z.literal('assistant'),
    content: z.union([z.string(), z.array(z.discriminatedUnion('type', [TextPart, RefusalPart]))]).nullish(),
    tool_calls: z.array(ToolCall).nullish(),
    function_call: z.unknown().optional(),
    refusal: z.string().nullish(),
  }),
  z.looseObject({ role: z.literal('tool'), tool_call_id: z.string().min(1), content: TextContent }),
  z.looseObject({ role: z.literal('function'), name: z.string(), content: z.string().nullish() }),
]);

export const FunctionTool = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});

export const ChatToolChoice = z.union([
  z.enum(['auto', 'none', 'required']),
  z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string().min(1) }) }),
]);

export const ChatRequest = z.looseObject({
  model: z.string().min(1),
  messages: z.array(ChatMessage).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().int().nonnegative().nullish(),
  max_completion_tokens: z.number().int().nonnegative().nullish(),
  n: z.number().int().positive().nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
  user: z.string().nullish(),
  tools: z.array(FunctionTool).nullish(),
  tool_choice: ChatToolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  logprobs: z.boolean().nullish(),
  response_format: z.looseObject({ type: z.string() }).nullish(),
  modalities: z.array(z.string()).nullish(),
  functions: z.unknown().optional(),
  /** Read by translations to other providers (Claude's thinking); values checked there. */
  reasoning_effort: z.string().nullish(),
});

export const ChatUsage = z.looseObject({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  total_tokens: z.number().int().nonnegative().optional(),
  prompt_tokens_details: z.looseObject({ cached_tokens: z.number().int().nonnegative().nullish(), cache_write_tokens: z.number().int().nonnegative().nullish() }).nullish(),
});

export const FinishReason = z.enum(['stop', 'length', 'tool_calls', 'content_filter', 'function_call']);
/** Compatible servers send other finish reasons too (`abort`, `eos`, …): read as strings. */
const AnyFinishReason = z.string().min(1);

export const ChatCompletion = z.looseObject({
  id: z.string(),
  model: z.string(),
  choices: z
    .array(
      z.looseObject({
        index: z.number().int(),
        message: z.looseObject({
          content: z.string().nullish(),
          refusal: z.string().nullish(),
          tool_calls: z.array(ToolCall).nullish(),
        }),
        finish_reason: AnyFinishReason.nullable(),
      }),
    )
    .min(1),
  usage: ChatUsage.nullish(),
});

export const ChunkToolCall = z.looseObject({
  index: z.number().int().nonnegative(),
  id: z.string().nullish(),
  function: z.looseObject({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
});

export const ChatChunk = z.looseObject({
  id: z.string().optional(),
  model: z.string().optional(),
  choices: z.array(
    z.looseObject({
      index: z.number().int(),
      delta: z
        .looseObject({
          content: z.string().nullish(),
          refusal: z.string().nullish(),
          tool_calls: z.array(ChunkToolCall).nullish(),
        })
        .optional(),
      finish_reason: AnyFinishReason.nullish(),
    }),
  ),
  usage: ChatUsage.nullish(),
});

export type ChatMessage = z.infer<typeof ChatMessage>;
export type ChatRequest = z.infer<typeof ChatRequest>;
export type ToolCall = z.infer<typeof ToolCall>;
export type ChatUsage = z.infer<typeof ChatUsage>;
export type FinishReason = z.infer<typeof FinishReason>;
export type ChatCompletion = z.infer<typeof ChatCompletion>;
export type ChatChunk = z.infer<typeof ChatChunk>;
export type UserPart = Exclude<Extract<ChatMessage, { role: 'user' }>['content'], string>[number];

/**
 * Canonical usage from a chat `usage`, read as the native path reads it (`forward/usage.ts`):
 * output is what `total_tokens` says beyond the prompt when that is more than
 * `completion_tokens` — xAI leaves reasoning out of `completion_tokens` and Google's
 * OpenAI-compatible Gemini its thinking, while both count it in the total and bill it as output.
 */
export function canonicalChatUsage(u: ChatUsage): CanonicalUsage {
  const beyond = u.total_tokens !== undefined ? u.total_tokens - u.prompt_tokens : 0;
  const cachedTokens = Math.min(u.prompt_tokens_details?.cached_tokens ?? 0, u.prompt_tokens);
  // Writes (OpenAI's explicit cache breakpoints) are a part of the prompt too, beside the reads.
  const cacheWriteTokens = Math.min(u.prompt_tokens_details?.cache_write_tokens ?? 0, u.prompt_tokens - cachedTokens);
  return { promptTokens: u.prompt_tokens, cachedTokens, cacheWriteTokens, completionTokens: Math.max(u.completion_tokens, beyond) };
}

/** OpenAI usage from canonical figures (cache reads and writes are inside `prompt_tokens`, and named in its details). */
export function chatUsage(u: { promptTokens: number; cachedTokens: number; cacheWriteTokens?: number; completionTokens: number }): ChatUsage {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens, ...(u.cacheWriteTokens ? { cache_write_tokens: u.cacheWriteTokens } : {}) },
  };
}

/** First zod issue as a dotted path and message, for a typed `invalid_shape` failure. */
export function firstIssue(error: z.ZodError): { path: string | null; message: string } {
  const issue = error.issues[0];
  const path = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : null;
  return { path, message: issue ? issue.message : 'invalid body' };
}
