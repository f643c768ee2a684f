/**
 * OpenAI chat request → Bedrock Converse request. Pure.
 *
 * Built on the chat → Messages converter (`anthropic/to-messages.ts`): it validates the
 * chat body, refuses what a Claude-style API cannot express (`n > 1`, logprobs, JSON
 * `response_format`, audio, file ids, temperature above 1, …) and merges turns so roles
 * alternate, which Converse requires as well. The Messages request is then re-shaped:
 *
 * | Messages                         | Converse                                                  |
 * | `system` text blocks             | `system: [{text}]`                                        |
 * | text                             | `{text}`                                                  |
 * | base64 image                     | `{image:{format, source:{bytes}}}` (bytes as base64 in JSON) |
 * | image URL                        | refused: Converse takes bytes or S3 locations only        |
 * | base64 PDF document              | `{document:{format:"pdf", name:"document-N", source:{bytes}}}` |
 * | `tool_use` / `tool_result`       | `{toolUse:{toolUseId,name,input}}` / `{toolResult:{toolUseId,content,status}}` |
 * | `max_tokens` (the reserved cap)  | `inferenceConfig.maxTokens` (always set)                  |
 * | temperature, top_p, stop_sequences | `inferenceConfig.temperature`, `topP`, `stopSequences`  |
 * | tools, tool_choice auto/any/tool | `toolConfig.tools[].toolSpec`, `toolChoice`               |
 * | `reasoning_effort` (Claude only) | `additionalModelRequestFields.thinking`                   |
 * `tool_choice: "none"` has no Converse form: tools are left out (refused if the history
 * holds tool blocks, which Converse only accepts alongside a `toolConfig`). `user` and
 * `parallel_tool_calls` have no Converse equivalent and are dropped (the answer's shape is
 * unchanged).
 *
 * `reasoning_effort` becomes Claude's extended thinking as on Anthropic nodes
 * (`anthropic/thinking.ts`: the tier's budget under the reserved cap, none beside a
 * temperature, low top_p or forced tool, none on tool-result steps and prefills); Converse
 * takes it as `additionalModelRequestFields: {thinking}` (AWS: "Converse API" with Claude's
 * extended thinking), and only for a Claude model id (`anthropic.…`, `us.anthropic.…`): other
 * families go without it. An effort OpenAI does not define is refused for every model.
 *
 * The body is built from known fields only: nothing the caller adds reaches Bedrock, and
 * `additionalModelRequestFields` holds the router's `thinking` and nothing else, so no larger
 * cap can be smuggled (`inferenceConfig.maxTokens` stays the reserved cap).
 */
import { chatToMessages } from '../anthropic/to-messages';
import type { RequestBlock } from '../anthropic/wire';
import { fail, ok, type Result, type TranslationContext } from '../types';
import { isBedrockClaude } from './url';
import type { ConverseContentBlock, ConverseRequest } from './wire';

const FORMAT: Record<string, 'png' | 'jpeg' | 'gif' | 'webp'> = { 'image/png': 'png', 'image/jpeg': 'jpeg', 'image/gif': 'gif', 'image/webp': 'webp' };

function block(b: RequestBlock, param: string, docs: { n: number }): Result<ConverseContentBlock | null> {
  switch (b.type) {
    case 'text':
      return ok({ text: b.text });
    case 'image': {
      if (b.source.type !== 'base64') return fail('unsupported_value', 'Bedrock takes images as base64 data URLs, not http(s) URLs.', param);
      const format = FORMAT[b.source.media_type];
      if (!format) return fail('unsupported_value', `Bedrock accepts PNG, JPEG, GIF or WebP images, not ${b.source.media_type}.`, param);
      return ok({ image: { format, source: { bytes: b.source.data } } });
    }
    case 'document':
      if (b.source.type !== 'base64' || typeof b.source.data !== 'string') return fail('unsupported_value', 'Bedrock takes documents as base64 data.', param);
      return ok({ document: { format: 'pdf', name: `document-${++docs.n}`, source: { bytes: b.source.data } } });
    case 'tool_use':
      return ok({ toolUse: { toolUseId: b.id, name: b.name, input: b.input } });
    case 'tool_result': {
      const parts = typeof b.content === 'string' || b.content === undefined ? [{ type: 'text' as const, text: b.content ?? '' }] : b.content;
      const content: ({ text: string } | Extract<ConverseContentBlock, { image: unknown }>)[] = [];
      for (const p of parts) {
        const inner = block(p as RequestBlock, param, docs);
        if (!inner.ok) return inner;
        if (inner.value && ('text' in inner.value || 'image' in inner.value)) content.push(inner.value as { text: string });
      }
      return ok({ toolResult: { toolUseId: b.tool_use_id, content, ...(b.is_error ? { status: 'error' as const } : {}) } });
    }
    case 'thinking':
    case 'redacted_thinking':
      return ok(null); // chat callers never send these (the chat converter has no source for them)
  }
}

/** Chat request body → Converse request (the model is in the URL, not the body). */
export function chatToConverse(body: unknown, ctx: Pick<TranslationContext, 'upstreamModel' | 'maxTokens'>): Result<ConverseRequest> {
  const messages = chatToMessages(body, ctx, { thinking: isBedrockClaude(ctx.upstreamModel) });
  if (!messages.ok) return messages;
  const m = messages.value;
  const docs = { n: 0 };
  let hasToolBlocks = false;
  const out: ConverseRequest = { messages: [], inferenceConfig: { maxTokens: m.max_tokens } };
  for (const [i, turn] of m.messages.entries()) {
    const blocks = typeof turn.content === 'string' ? [{ type: 'text' as const, text: turn.content }] : turn.content;
    const content: ConverseContentBlock[] = [];
    for (const [j, b] of blocks.entries()) {
      const converted = block(b, `messages.${i}.content.${j}`, docs);
      if (!converted.ok) return converted;
      if (!converted.value) continue;
      if ('toolUse' in converted.value || 'toolResult' in converted.value) hasToolBlocks = true;
      content.push(converted.value);
    }
    out.messages.push({ role: turn.role, content });
  }
  if (Array.isArray(m.system) && m.system.length > 0) out.system = m.system.map((s) => ({ text: s.text }));
  if (m.temperature !== undefined) out.inferenceConfig.temperature = m.temperature;
  if (m.top_p !== undefined) out.inferenceConfig.topP = m.top_p;
  if (m.stop_sequences && m.stop_sequences.length > 0) out.inferenceConfig.stopSequences = m.stop_sequences;
  if (m.thinking?.type === 'enabled' && m.thinking.budget_tokens !== undefined)
    out.additionalModelRequestFields = { thinking: { type: 'enabled', budget_tokens: m.thinking.budget_tokens } };

  const none = m.tool_choice?.type === 'none';
  if (none && hasToolBlocks) return fail('unsupported_feature', 'tool_choice "none" cannot be sent to Bedrock with tool calls in the conversation.', 'tool_choice');
  if (m.tools && m.tools.length > 0 && !none) {
    out.toolConfig = {
      tools: m.tools.map((t) => ({
        toolSpec: { name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), inputSchema: { json: t.input_schema ?? { type: 'object', properties: {} } } },
      })),
    };
    const c = m.tool_choice;
    if (c?.type === 'auto') out.toolConfig.toolChoice = { auto: {} };
    else if (c?.type === 'any') out.toolConfig.toolChoice = { any: {} };
    else if (c?.type === 'tool') out.toolConfig.toolChoice = { tool: { name: c.name } };
  }
  return ok(out);
}
