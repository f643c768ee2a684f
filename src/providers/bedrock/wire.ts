/**
 * Bedrock Converse wire shapes (Bedrock Runtime API reference: `Converse`,
 * `ConverseStream`, `ContentBlock`, `TokenUsage`), as zod schemas for what the converters
 * read. Loose objects: AWS adds members over time (`metrics`, `trace`, `performanceConfig`).
 */
import * as z from 'zod';
import type { CanonicalUsage } from '../types';

const Count = z.number().int().nonnegative();

export const ConverseUsage = z.looseObject({
  inputTokens: Count,
  outputTokens: Count,
  totalTokens: Count.optional(),
  cacheReadInputTokens: Count.nullish(),
  cacheWriteInputTokens: Count.nullish(),
});

export const ToolUse = z.looseObject({ toolUseId: z.string().min(1), name: z.string().min(1), input: z.unknown() });

/** Answer content blocks (reasoning, citations and others are loose and skipped). */
export const OutputBlock = z.looseObject({ text: z.string().optional(), toolUse: ToolUse.optional() });

export const ConverseResponse = z.looseObject({
  output: z.looseObject({ message: z.looseObject({ role: z.literal('assistant'), content: z.array(OutputBlock) }) }),
  stopReason: z.string().min(1),
  usage: ConverseUsage,
});

/** ConverseStream event payloads, by the `:event-type` header of their frame. */
export const StreamPayload = {
  messageStart: z.looseObject({ role: z.string() }),
  contentBlockStart: z.looseObject({
    contentBlockIndex: Count,
    start: z.looseObject({ toolUse: z.looseObject({ toolUseId: z.string().min(1), name: z.string().min(1) }).optional() }),
  }),
  contentBlockDelta: z.looseObject({
    contentBlockIndex: Count,
    delta: z.looseObject({ text: z.string().optional(), toolUse: z.looseObject({ input: z.string() }).optional() }),
  }),
  contentBlockStop: z.looseObject({ contentBlockIndex: Count }),
  messageStop: z.looseObject({ stopReason: z.string().min(1) }),
  metadata: z.looseObject({ usage: ConverseUsage }),
} as const;

export type ConverseUsage = z.infer<typeof ConverseUsage>;
export type ConverseResponse = z.infer<typeof ConverseResponse>;

/** Request shapes the translator builds (typed for the compiler, not validated). */
export type ConverseContentBlock =
  | { text: string }
  | { image: { format: 'png' | 'jpeg' | 'gif' | 'webp'; source: { bytes: string } } }
  | { document: { format: 'pdf'; name: string; source: { bytes: string } } }
  | { toolUse: { toolUseId: string; name: string; input: Record<string, unknown> } }
  | { toolResult: { toolUseId: string; content: ({ text: string } | Extract<ConverseContentBlock, { image: unknown }>)[]; status?: 'success' | 'error' } };

export interface ConverseRequest {
  messages: { role: 'user' | 'assistant'; content: ConverseContentBlock[] }[];
  system?: { text: string }[];
  inferenceConfig: { maxTokens: number; temperature?: number; topP?: number; stopSequences?: string[] };
  /** Only the router's own `thinking` (Claude's extended thinking), never anything the caller sent. */
  additionalModelRequestFields?: { thinking: { type: 'enabled'; budget_tokens: number } };
  toolConfig?: {
    tools: { toolSpec: { name: string; description?: string; inputSchema: { json: Record<string, unknown> } } }[];
    toolChoice?: { auto: Record<string, never> } | { any: Record<string, never> } | { tool: { name: string } };
  };
}

/**
 * Canonical usage from Converse's figures. Bedrock counts cache reads and writes apart from
 * `inputTokens` (`totalTokens` = all four), so the OpenAI-style prompt count adds them.
 */
export function converseCanonicalUsage(u: ConverseUsage): CanonicalUsage {
  const cachedTokens = u.cacheReadInputTokens ?? 0;
  const cacheWriteTokens = u.cacheWriteInputTokens ?? 0;
  return { promptTokens: u.inputTokens + cachedTokens + cacheWriteTokens, cachedTokens, cacheWriteTokens, completionTokens: u.outputTokens };
}
