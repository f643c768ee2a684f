/**
 * Claude's extended thinking as the simulated Bedrock node takes it through Converse (AWS
 * "Converse API": model-specific parameters in `additionalModelRequestFields`, Claude's
 * `thinking: {type: "enabled", budget_tokens}`; the answer's reasoning in `reasoningContent`
 * blocks).
 *
 * - `additionalModelRequestFields` must be an object of keys the model knows: for Claude
 *   `thinking` and `top_k`, for any other family none (Bedrock relays the model's refusal);
 * - with thinking, Claude's own rules (`thinkingRule` of the fleet's Anthropic node, applied to
 *   the Converse body read as Messages: `inferenceConfig.maxTokens` → `max_tokens`,
 *   `temperature`, `topP`, `toolChoice` any/tool → forced, `reasoningContent` blocks → thinking)
 *   answered as Bedrock words a model's 400: ValidationException, "The model returned the
 *   following errors: …";
 * - a thinking answer opens with one reasoning block (text + signature) whose tokens
 *   (`THINKING_TOKENS`) count in `outputTokens`, never past `maxTokens`.
 */
import { thinkingRule } from './anthropic.ts';

type Json = Record<string, unknown>;

/** Model-specific request fields Claude on Bedrock takes. */
const CLAUDE_FIELDS = new Set(['thinking', 'top_k']);

export const THOUGHT = ['Let me think', ' about this.'];
export const THINKING_TOKENS = 12;
export const SIGNATURE = 'EqQBCkYIARgCKkDsimulatedconversesignature==';

/** A Converse content block as the Messages block type Claude's rules look at. */
function messagesBlock(b: Json): Json {
  if ('reasoningContent' in b) return { type: (b.reasoningContent as Json)?.redactedContent !== undefined ? 'redacted_thinking' : 'thinking' };
  if ('toolUse' in b) return { type: 'tool_use' };
  if ('toolResult' in b) return { type: 'tool_result' };
  return { type: 'text' };
}

/** The Converse body read as the Messages fields `thinkingRule` checks. */
function asMessages(body: Json, fields: Json): Json {
  const cfg = body.inferenceConfig as Json;
  const choice = (body.toolConfig as { toolChoice?: Json } | undefined)?.toolChoice;
  return {
    thinking: fields.thinking,
    max_tokens: cfg.maxTokens,
    ...(cfg.temperature !== undefined ? { temperature: cfg.temperature } : {}),
    ...(cfg.topP !== undefined ? { top_p: cfg.topP } : {}),
    ...(fields.top_k !== undefined ? { top_k: fields.top_k } : {}),
    ...(choice && 'any' in choice ? { tool_choice: { type: 'any' } } : choice && 'tool' in choice ? { tool_choice: { type: 'tool' } } : {}),
    messages: (body.messages as { role: string; content: Json[] }[]).map((m) => ({ role: m.role, content: m.content.map(messagesBlock) })),
  };
}

/** Whether Bedrock reads the model id as Claude (`anthropic.…`, `us.anthropic.…`). */
export const isClaudeId = (modelId: string) => /(^|\.)anthropic\./.test(modelId);

/** Bedrock's 400 message for what the model refuses in `additionalModelRequestFields`; null if none. */
export function additionalFieldsError(body: Json, modelId: string): string | null {
  const fields = body.additionalModelRequestFields;
  if (fields === undefined) return null;
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) return 'additionalModelRequestFields: must be a JSON object';
  const known = isClaudeId(modelId) ? CLAUDE_FIELDS : new Set<string>();
  for (const key of Object.keys(fields)) if (!known.has(key)) return `The model returned the following errors: Malformed input request: extraneous key [${key}] is not permitted, please reformat your input and try again.`;
  const rule = thinkingRule(asMessages(body, fields as Json), modelId);
  return rule === null ? null : `The model returned the following errors: ${rule}`;
}

/** Whether the request enables thinking (valid by then: `additionalFieldsError` passed). */
export function thinks(body: Json): boolean {
  return ((body.additionalModelRequestFields as Json | undefined)?.thinking as Json | undefined)?.type === 'enabled';
}
