/**
 * A simulated Anthropic Messages node, validating as strictly as the real API does where
 * the router could get it wrong: `x-api-key` (when the node demands a key) and
 * `anthropic-version` required; `max_tokens` required; roles alternate starting with
 * `user`; every `tool_use` answered by a `tool_result` in the next user turn and every
 * `tool_result` answering one; block types per role; temperature in [0, 1]; image sources.
 * Answers JSON or SSE (`message_start` … `message_stop`) with usage including cache tokens
 * (knobs `cacheReadTokens`, `cacheWriteTokens`); the `status` knob answers Anthropic's error
 * shape (`529` → `overloaded_error`). With `tools` and no tool result yet, it calls the first tool.
 * Extended thinking (`thinking.type: "enabled"`) is held to Claude's rules (`thinkingRule`);
 * a thinking request's answer opens with a thinking block (thinking and signature deltas when
 * streaming) whose tokens are in `output_tokens`, as Claude's are.
 */
import type http from 'node:http';
import { completionTokens, sendJson, sleep, type Knobs, type SimNode } from './shared.ts';
import { CLIENT_TOOLS, messagesInputTokens } from './tokens.ts';

type Json = Record<string, unknown>;

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  529: 'overloaded_error',
};

function anthropicError(res: http.ServerResponse, status: number, message: string, headers: Record<string, string> = {}) {
  return sendJson(res, status, { type: 'error', error: { type: ERROR_TYPES[status] ?? 'api_error', message } }, { 'request-id': 'req_sim', ...headers });
}

const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];
const BLOCKS_OF: Record<string, string[]> = {
  user: ['text', 'image', 'document', 'search_result', 'tool_result'],
  assistant: ['text', 'tool_use', 'thinking', 'redacted_thinking'],
};

function blocksOf(m: Json): Json[] {
  return typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : (m.content as Json[]);
}

/** Claude models without extended thinking (before Claude 3.7 Sonnet), by any platform's id: they refuse `thinking`. */
const NO_THINKING = /claude-(instant|2([.-]|$)|3-(opus|sonnet|haiku)|3[.-]5[.-])/;
/** Claude models with adaptive thinking (`thinking: {type: "adaptive"}`): Claude 4.6 and later. */
const ADAPTIVE = /claude-(opus|sonnet|haiku)-(4-[6-9]|[5-9])/;

const DOCS = 'Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking';

/**
 * What Claude refuses with thinking enabled, in its words (docs "Building with extended
 * thinking": budget ≥ 1,024 and < max_tokens; temperature 1, top_p ≥ 0.95, no top_k, no
 * forced tool; the final assistant turn, when it is a prefill or holds the tool use the last
 * results answer, must open with the thinking block Claude wrote); a model before Claude 3.7
 * Sonnet takes no thinking at all. Null if none applies.
 */
export function thinkingRule(body: Json, model: unknown = body.model): string | null {
  const thinking = body.thinking as Json | undefined;
  if (thinking === undefined || thinking.type === 'disabled') return null;
  if (thinking.type !== 'enabled' && thinking.type !== 'adaptive') return `thinking.type: Input tag '${String(thinking.type)}' found using 'type' does not match any of the expected tags`;
  if (typeof model === 'string' && NO_THINKING.test(model)) return `'${model}' does not support thinking.`;
  if (thinking.type === 'adaptive') {
    // Adaptive thinking (Claude Opus 4.6 and later): no budget, the model decides within `max_tokens`.
    if (typeof model === 'string' && !ADAPTIVE.test(model)) return `adaptive thinking is not supported on this model. ${DOCS}`;
  } else {
    const budget = thinking.budget_tokens;
    if (!Number.isInteger(budget)) return 'thinking.enabled.budget_tokens: Field required';
    if ((budget as number) < 1024) return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024';
    if ((budget as number) >= (body.max_tokens as number)) return `\`max_tokens\` must be greater than \`thinking.budget_tokens\`. ${DOCS}`;
  }
  if (body.temperature !== undefined && body.temperature !== 1) return `\`temperature\` may only be set to 1 when thinking is enabled. ${DOCS}`;
  if (body.top_p !== undefined && (body.top_p as number) < 0.95) return `\`top_p\` must be greater than or equal to 0.95 or unset when thinking is enabled. ${DOCS}`;
  if (body.top_k !== undefined) return `\`top_k\` must be unset when thinking is enabled. ${DOCS}`;
  const forced = (body.tool_choice as Json | undefined)?.type;
  if (forced === 'any' || forced === 'tool') return 'Thinking may not be enabled when tool_choice forces tool use.';
  const messages = body.messages as Json[];
  const last = messages.findLastIndex((m) => m.role === 'assistant');
  if (last < 0) return null;
  const blocks = blocksOf(messages[last]!);
  if (last !== messages.length - 1 && !blocks.some((b) => b.type === 'tool_use')) return null;
  const first = String(blocks[0]?.type);
  if (first === 'thinking' || first === 'redacted_thinking') return null;
  return `messages.${last}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${first}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable \`thinking\`. ${DOCS}`;
}

/** The first rule the body breaks, as Anthropic would word it; null if valid. */
export function validateMessages(body: Json, betas: string[] = []): string | null {
  if (typeof body.model !== 'string' || body.model === '') return 'model: Field required';
  if (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 1) return 'max_tokens: Field required';
  if (body.temperature !== undefined && (typeof body.temperature !== 'number' || body.temperature < 0 || body.temperature > 1)) return 'temperature: must be between 0 and 1';
  if (body.system !== undefined && typeof body.system !== 'string') {
    if (!Array.isArray(body.system) || body.system.some((b: Json) => b?.type !== 'text' || typeof b.text !== 'string')) return 'system: Input should be a valid string or a list of text blocks';
  }
  // pydantic's words for a config that is not an object (`null` included: the field is not Optional).
  if (body.thinking !== undefined && (typeof body.thinking !== 'object' || body.thinking === null || Array.isArray(body.thinking))) return 'thinking: Input should be a valid dictionary or object to extract fields from';
  if (body.stop_sequences !== undefined && (!Array.isArray(body.stop_sequences) || body.stop_sequences.some((s) => typeof s !== 'string'))) return 'stop_sequences: Input should be a list of strings';
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) return 'tools: Input should be a valid list';
    for (const [i, t] of (body.tools as Json[]).entries()) {
      const typed = t?.type === undefined || t.type === 'custom' ? undefined : CLIENT_TOOLS[String(t.type)];
      if (typed) {
        if (t.name !== typed.name) return `tools.${i}.name: Input should be '${typed.name}'`;
        if (typed.name === 'computer' && (!Number.isInteger(t.display_width_px) || !Number.isInteger(t.display_height_px))) return `tools.${i}: display_width_px and display_height_px are required`;
        if (typed.beta && !betas.includes(typed.beta)) return `tools.${i}.type: '${String(t.type)}' requires the anthropic-beta header '${typed.beta}'`;
      } else if (t?.type !== undefined && t.type !== 'custom') return `tools.${i}.type: Input tag '${String(t.type)}' found using 'type' does not match any of the expected tags`;
      else if (typeof t?.name !== 'string' || typeof t.input_schema !== 'object') return `tools.${i}: name and input_schema are required`;
    }
  }
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) return 'messages: at least one message is required';
  for (const [i, m] of (messages as Json[]).entries()) {
    if (m?.role !== 'user' && m?.role !== 'assistant') return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    if (i === 0 && m.role !== 'user') return 'messages: first message must use the "user" role';
    if (i > 0 && (messages[i - 1] as Json).role === m.role) return `messages: roles must alternate between "user" and "assistant", but found multiple "${m.role}" roles in a row`;
    if (typeof m.content !== 'string' && !Array.isArray(m.content)) return `messages.${i}.content: Input should be a valid string or list`;
    for (const [j, b] of blocksOf(m).entries()) {
      const where = `messages.${i}.content.${j}`;
      if (!BLOCKS_OF[m.role as string]!.includes(String(b?.type))) return `${where}.type: "${String(b?.type)}" is not allowed in a ${m.role} message`;
      if (b.type === 'text' && typeof b.text !== 'string') return `${where}.text: Field required`;
      if (b.type === 'image') {
        const src = b.source as Json | undefined;
        const okSource = src?.type === 'base64' ? IMAGE_TYPES.includes(String(src.media_type)) && typeof src.data === 'string' : src?.type === 'url' && typeof src.url === 'string';
        if (!okSource) return `${where}.source: invalid image source`;
      }
      if (b.type === 'tool_use' && (typeof b.id !== 'string' || typeof b.name !== 'string' || typeof b.input !== 'object' || b.input === null)) return `${where}: tool_use needs id, name and an input object`;
      if (b.type === 'thinking' && (typeof b.thinking !== 'string' || typeof b.signature !== 'string')) return `${where}: thinking needs thinking and signature`;
    }
  }
  // tool_use ↔ tool_result pairing, turn by turn.
  for (const [i, m] of (messages as Json[]).entries()) {
    const blocks = blocksOf(m);
    if (m.role === 'assistant') {
      const next = messages[i + 1] as Json | undefined;
      if (!next) continue;
      const answered = new Set(blocksOf(next).filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id));
      for (const b of blocks) if (b.type === 'tool_use' && !answered.has(b.id)) return `messages.${i + 1}: tool_use ids were found without tool_result blocks immediately after: ${String(b.id)}`;
    } else {
      const prev = i > 0 ? blocksOf(messages[i - 1] as Json) : [];
      const asked = new Set(prev.filter((b) => b.type === 'tool_use').map((b) => b.id));
      for (const [j, b] of blocks.entries()) if (b.type === 'tool_result' && !asked.has(b.tool_use_id)) return `messages.${i}.content.${j}: unexpected tool_use_id found in tool_result blocks: ${String(b.tool_use_id)}`;
    }
  }
  return thinkingRule(body);
}

/** Server-side compaction: the summary it writes, and what the answer then reads of the compacted context. */
const SUMMARY_TOKENS = 500;
const COMPACTED_INPUT = 600;

/** The simulated thinking: its deltas, and the tokens they count in `output_tokens`. */
const THOUGHT = ['Let me think', ' about this.'];
const THINKING_TOKENS = 12;
const SIGNATURE = 'EqQBCkYIARgCKkDsimulatedsignature==';

function toolToCall(body: Json): Json | undefined {
  const tools = body.tools as Json[] | undefined;
  if (!tools || tools.length === 0 || (body.tool_choice as Json | undefined)?.type === 'none') return undefined;
  const last = (body.messages as Json[]).at(-1)!;
  if (blocksOf(last).some((b) => b.type === 'tool_result')) return undefined;
  return tools[0];
}

export async function handleAnthropic(node: SimNode, req: http.IncomingMessage, res: http.ServerResponse, path: string, body: Json): Promise<void> {
  const k = node.knobs;
  if (k.requireKey && req.headers['x-api-key'] !== k.requireKey) return anthropicError(res, 401, 'invalid x-api-key');
  if (!req.headers['anthropic-version']) return anthropicError(res, 400, 'anthropic-version: header is required');
  const failing = k.status > 0 && (k.failFirst === 0 || node.served <= k.failFirst);
  if (failing || (k.failFirst > 0 && node.served <= k.failFirst)) {
    const status = k.status || 500;
    const headers: Record<string, string> = {};
    if (k.retryAfter !== undefined) headers['retry-after'] = String(k.retryAfter);
    return anthropicError(res, status, k.errorMessage ?? `simulated ${status} from ${node.id}`, headers);
  }
  if (req.method === 'GET' && path === '/v1/models') {
    return sendJson(res, 200, { data: [{ type: 'model', id: 'claude-sim', display_name: 'Claude (simulated)', created_at: '2025-01-01T00:00:00Z' }], has_more: false, first_id: 'claude-sim', last_id: 'claude-sim' });
  }
  if (req.method !== 'POST' || path !== '/v1/messages') return anthropicError(res, 404, `Not found: ${req.method} ${path}`);
  if (k.inputTpmLimit) {
    const limit = k.inputTpmLimit;
    const remaining = k.inputTpmRemaining ?? limit;
    if (messagesInputTokens(body) > remaining) {
      // Anthropic's words and headers (docs "Rate limits"); the bucket refills continuously, whole in a minute.
      const refill = Math.ceil(((messagesInputTokens(body) - remaining) / limit) * 60);
      const message =
        `This request would exceed your organization's rate limit of ${limit.toLocaleString('en-US')} input tokens per minute (org: org-${node.id}, model: ${String(body.model)}). ` +
        'For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. ' +
        'You may also contact sales at https://claude.com/contact-sales to discuss your options for a rate limit increase.';
      return anthropicError(res, 429, message, {
        'retry-after': String(k.retryAfter ?? Math.max(1, Math.min(60, refill))),
        'anthropic-ratelimit-input-tokens-limit': String(limit),
        'anthropic-ratelimit-input-tokens-remaining': String(remaining),
        'anthropic-ratelimit-input-tokens-reset': new Date(Date.now() + 60_000).toISOString(),
      });
    }
  }
  const invalid = validateMessages(body, String(req.headers['anthropic-beta'] ?? '').split(',').map((b) => b.trim()));
  if (invalid) return anthropicError(res, 400, invalid);

  const usage = {
    // Knob `toolPromptTokens`: Anthropic's tool-use system prompt when `tools` is non-empty (default 346; 313 forced: `tokens.ts`).
    input_tokens: messagesInputTokens(body, (k as Knobs & { toolPromptTokens?: number }).toolPromptTokens),
    cache_creation_input_tokens: k.cacheWriteTokens,
    cache_read_input_tokens: k.cacheReadTokens,
  };
  // Knob `cacheWrite1h`: the cache writes were made with `ttl: "1h"` (Anthropic's breakdown in `usage.cache_creation`).
  if ((k as Knobs & { cacheWrite1h?: boolean }).cacheWrite1h) Object.assign(usage, { cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: k.cacheWriteTokens } });
  const thinks = ['enabled', 'adaptive'].includes(String((body.thinking as Json | undefined)?.type));
  // Thinking counts in output_tokens, never past max_tokens.
  const output = thinks ? Math.min(completionTokens(k, body) + THINKING_TOKENS, body.max_tokens as number) : completionTokens(k, body);
  // Server-side compaction (a `compact_…` edit in `context_management`; the fleet compacts whatever the trigger): a first
  // sampling pass reads the whole conversation and writes a summary, then the answer reads the compacted context. The
  // top-level usage is the answer's alone; `usage.iterations` holds both, and Anthropic bills both.
  const compacts = ((body.context_management as Json | undefined)?.edits as Json[] | undefined)?.some((e) => /^compact_/.test(String(e?.type)));
  if (compacts) {
    const compacted = Math.min(usage.input_tokens, COMPACTED_INPUT);
    Object.assign(usage, {
      input_tokens: compacted,
      iterations: [
        { type: 'compaction', input_tokens: usage.input_tokens, output_tokens: SUMMARY_TOKENS, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
        { type: 'message', input_tokens: compacted, output_tokens: output, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
      ],
    });
  }
  const id = `msg_${node.id}_${node.served}`;
  const tool = toolToCall(body);
  const text = `Hello from ${node.id}`;
  if (body.stream !== true) {
    const answer = tool ? [{ type: 'tool_use', id: `toolu_${node.served}`, name: tool.name, input: { city: 'Paris' } }] : [{ type: 'text', text }];
    const content = thinks ? [{ type: 'thinking', thinking: THOUGHT.join(''), signature: SIGNATURE }, ...answer] : answer;
    return sendJson(res, 200, { id, type: 'message', role: 'assistant', model: body.model, content, stop_reason: tool ? 'tool_use' : 'end_turn', stop_sequence: null, usage: { ...usage, output_tokens: output } });
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const send = (data: Json) => res.write(`event: ${String(data.type)}\ndata: ${JSON.stringify(data)}\n\n`);
  // Knob `streamErrorFirst` (an error type): the 200 stream's first event is that error, as Anthropic's overloads come.
  const errorFirst = (k as Knobs & { streamErrorFirst?: string }).streamErrorFirst;
  if (errorFirst) {
    send({ type: 'error', error: { type: errorFirst, message: 'Overloaded' } });
    res.end();
    return;
  }
  send({ type: 'message_start', message: { id, type: 'message', role: 'assistant', model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } });
  send({ type: 'ping' });
  // The answer's block follows the thinking block when there is one.
  const index = thinks ? 1 : 0;
  if (thinks) {
    send({ type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } });
    for (const piece of THOUGHT) send({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: piece } });
    send({ type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: SIGNATURE } });
    send({ type: 'content_block_stop', index: 0 });
  }
  if (tool) {
    send({ type: 'content_block_start', index, content_block: { type: 'tool_use', id: `toolu_${node.served}`, name: tool.name, input: {} } });
    send({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '{"city": ' } });
    send({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } });
  } else {
    send({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
    for (let i = 0; i < k.chunks; i++) {
      if (i === k.cutAfterChunks) {
        res.socket?.destroy();
        return;
      }
      if (i === k.stallAfterChunks) return;
      send({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: i === 0 ? text : ` #${i}` } });
      if (k.chunkDelayMs > 0) await sleep(k.chunkDelayMs);
    }
    if (k.cutAfterChunks === k.chunks) {
      res.socket?.destroy();
      return;
    }
  }
  send({ type: 'content_block_stop', index });
  const iterations = (usage as { iterations?: unknown }).iterations;
  // Knob `noMessageDelta`: the stream never says what it wrote (a gateway that drops `message_delta`).
  if (!(k as Knobs & { noMessageDelta?: boolean }).noMessageDelta)
    send({ type: 'message_delta', delta: { stop_reason: tool ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: output, ...(iterations ? { iterations } : {}) } });
  send({ type: 'message_stop' });
  res.end();
}
