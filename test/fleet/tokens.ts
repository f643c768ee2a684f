/**
 * What the simulated fleet bills for a prompt, as strictly as the real providers: every
 * piece of text through a cl100k-style count (`bpeTokens`, dense text a token a character),
 * plus each provider's own framing. This is what the router's reservation is tested against
 * end to end (`test/worker/prompt-bound.test.ts`, `prompt-bound-chat.test.ts`), so where a
 * real provider bills more than text — framing, tool definitions, Anthropic's tool-use
 * system prompt, tool-call inputs as JSON — the fleet bills it too.
 *
 * - **OpenAI chat** (the cookbook's `num_tokens_from_messages`): 3 tokens a message, every
 *   string of it (role, content, name, tool calls), 1 more for a `name`, 3 to prime the
 *   reply; function tools by the cookbook's `num_tokens_for_tools` (7 a function, its
 *   `name:description`, 3 for its properties and 3 each with the property's schema as
 *   JSON text, 12 at the end); a `json_schema` response format as its JSON text; what a
 *   vLLM chat template renders beside the messages (`documents`, `chat_template_kwargs`).
 * - **Responses**: read as chat — `instructions` a developer message, a string `input` a
 *   user message, each `input` item framed like a message; tools as chat's (flat form).
 * - **Legacy completions**: each prompt of an array on its own (strings by text, token ids
 *   one each); the caller adds the node's special tokens.
 * - **Anthropic Messages** (and Bedrock InvokeModel / Vertex rawPredict, Bedrock Converse):
 *   3 tokens a message and for a system prompt, 3 to prime the reply, text blocks by text,
 *   `tool_use` inputs as their JSON text (keys and numbers included), tool definitions as
 *   JSON text plus the tool-use system prompt Anthropic adds when `tools` are given (346
 *   tokens; 313 for `tool_choice` `any`/`tool`: Claude Sonnet 4's figures); a JSON output
 *   schema (`output_config.format`, `output_format`) as its JSON text plus a format prompt.
 * - **Images**: an Anthropic image (Messages, Converse) as Claude bills it — its long edge
 *   fit into 1568 px, then width × height / 750 tokens, at most 1,600; the size read from a
 *   base64 PNG's header, the most for any other (a URL). An OpenAI image part bills a flat 85
 *   tokens (OpenAI's least; the router's OpenAI image rules are tested against their own
 *   figures in `reservations.test.ts`). Audio and files bill nothing here, and no base64 is
 *   ever read as text.
 */

/**
 * Tokens of text (or token ids) as a cl100k-style tokenizer bills them, strict where the
 * router's reservation is tested: the text splits like cl100k's pre-tokenizer (a letter run
 * with its leading space, a group of up to 3 digits, a whitespace run, any other character
 * alone); a run of ASCII letters costs 4 letters a token (common words are 1), a piece with
 * a character outside ASCII its UTF-8 bytes (byte-level fallback, as rare CJK and emoji are
 * billed), every other piece 1. So dense text — `1,1,1,…` — is a token a character, as
 * OpenAI bills it, rare CJK 3 a character, and prose about 4 characters a token. Token ids
 * count one each.
 */
export function bpeTokens(input: unknown): number {
  if (typeof input === 'number') return 1;
  if (Array.isArray(input)) return input.reduce<number>((sum, item) => sum + bpeTokens(item), 0);
  if (typeof input !== 'string') return 0;
  let tokens = 0;
  for (const [piece] of input.matchAll(/ ?[A-Za-z]+|\p{N}{1,3}|\s+|./gsu)) {
    if (/[A-Za-z]/.test(piece)) tokens += Math.ceil(piece.trimStart().length / 4);
    else tokens += /[^\x00-\x7f]/.test(piece) && !/^\s+$/.test(piece) ? Buffer.byteLength(piece) : 1;
  }
  return tokens;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
/** JSON text of a value, as a provider renders a schema or a tool input into the prompt. */
const jsonText = (v: unknown) => (v === undefined || v === null ? 0 : bpeTokens(JSON.stringify(v)));

/** A flat figure for any image (module header). */
export const IMAGE_TOKENS = 85;
const CLAUDE_IMAGE_MAX = 1_600;
const OPENAI_MESSAGE = 3;
const OPENAI_NAME = 1;
const REPLY_PRIMING = 3;
const FUNCTION_START = 7;
const PROPERTIES_START = 3;
const PROPERTY = 3;
const FUNCTIONS_END = 12;
const IMAGE_PARTS = new Set(['image_url', 'input_image', 'image', 'computer_screenshot']);
const UNREAD_PARTS = new Set(['input_audio', 'file', 'input_file']);
/**
 * vLLM's multimodal parts by URL: a video's frames and an audio file's seconds, billed as
 * prompt tokens (Qwen2.5-VL: a few hundred tokens a sampled frame; Qwen2-Audio: 25 a second).
 * Figures for a 20-s clip and a 60-s file.
 */
const MEDIA_URL_PARTS: Record<string, number> = { video_url: 12_000, audio_url: 1_500 };
/** Members a provider never renders into the prompt (part types, Anthropic's cache marks and thinking signatures). */
const UNRENDERED = new Set(['type', 'cache_control', 'signature']);

/** Claude's image rule (module header); `image` is a Messages block or a Converse `image` member. */
function claudeImageTokens(image: Json): number {
  const source = (image.source ?? {}) as Json;
  const data = source.data ?? source.bytes;
  const head = typeof data === 'string' ? Buffer.from(data.slice(0, 64), 'base64') : Buffer.alloc(0);
  if (head.length < 24 || head.toString('latin1', 1, 4) !== 'PNG') return CLAUDE_IMAGE_MAX;
  const [w, h] = [head.readUInt32BE(16), head.readUInt32BE(20)];
  const fit = Math.min(1, 1568 / Math.max(w, h));
  return Math.min(CLAUDE_IMAGE_MAX, Math.ceil((w * fit * h * fit) / 750));
}

type ImageBill = (part: Json) => number;
const openaiImage: ImageBill = () => IMAGE_TOKENS;
const claudeImage: ImageBill = (part) => claudeImageTokens(isObject(part.image) ? part.image : part);

/** Every string of a message, item or content part, as text; images by `image` (module header). */
function textIn(value: unknown, image: ImageBill = openaiImage): number {
  if (typeof value === 'string') return bpeTokens(value);
  if (Array.isArray(value)) return value.reduce<number>((sum, v) => sum + textIn(v, image), 0);
  if (!isObject(value)) return 0;
  if (IMAGE_PARTS.has(String(value.type)) || 'image' in value) return image(value);
  if (UNREAD_PARTS.has(String(value.type))) return 0;
  if (Object.hasOwn(MEDIA_URL_PARTS, String(value.type))) return MEDIA_URL_PARTS[String(value.type)]!;
  let sum = 0;
  for (const [key, v] of Object.entries(value)) {
    if (UNRENDERED.has(key)) continue;
    // A tool call's input object (Anthropic `tool_use`, Converse `toolUse`/`json`) is rendered as JSON.
    sum += (key === 'input' || key === 'json') && isObject(v) ? jsonText(v) : textIn(v, image);
  }
  return sum;
}

/** OpenAI function (and custom) tools, chat's nested or Responses' flat form, and chat's legacy `functions`. */
function openaiTools(tools: unknown): number {
  if (!Array.isArray(tools) || tools.length === 0) return 0;
  let sum = FUNCTIONS_END;
  for (const tool of tools as Json[]) {
    const fn = (isObject(tool?.function) ? tool.function : tool) as Json;
    sum += FUNCTION_START + bpeTokens(`${String(fn.name ?? '')}:${String(fn.description ?? '')}`) + jsonText(fn.format);
    const params = (fn.parameters ?? fn.input_schema) as Json | undefined;
    const props = isObject(params?.properties) ? Object.entries(params.properties) : [];
    if (props.length > 0) sum += PROPERTIES_START;
    for (const [key, schema] of props) sum += PROPERTY + bpeTokens(`${key}:${JSON.stringify(schema)}`);
  }
  return sum;
}

/** Responses input items that give the model tools beside the top-level `tools`. */
const TOOL_ITEMS = new Set(['additional_tools', 'tool_search_output']);

/** Chat-style messages (or Responses items): 3 each, their text, 1 a name; the reply primed. */
function openaiMessages(messages: unknown[]): number {
  return messages.reduce<number>((sum, m) => sum + OPENAI_MESSAGE + textIn(m) + (isObject(m) && typeof m.name === 'string' ? OPENAI_NAME : 0), REPLY_PRIMING);
}

function responseFormat(body: Json): number {
  const format = body.response_format as Json | undefined;
  return format?.type === 'json_schema' ? jsonText(format.json_schema) : 0;
}

/**
 * What a self-hosted node's chat template renders beside the messages (vLLM): RAG `documents`
 * (`Document: i`, then each `key: value`, as Command R's and Granite's templates do) and the
 * variables of `chat_template_kwargs` the template prints (each string value, each key once).
 */
function templateInputs(body: Json): number {
  const documents = Array.isArray(body.documents) ? (body.documents as unknown[]) : [];
  let sum = documents.reduce<number>((s, doc, i) => s + bpeTokens(`Document: ${i}\n`) + (isObject(doc) ? Object.entries(doc).reduce<number>((t, [key, v]) => t + bpeTokens(`${key}: `) + textIn(v) + 1, 0) : 0), 0);
  if (isObject(body.chat_template_kwargs)) for (const [key, v] of Object.entries(body.chat_template_kwargs)) sum += bpeTokens(key) + textIn(v);
  return sum;
}

/** Prompt tokens of an OpenAI chat body. */
export function chatPromptTokens(body: Json): number {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  return openaiMessages(messages) + openaiTools(body.tools) + openaiTools(body.functions) + responseFormat(body) + templateInputs(body);
}

/** Input tokens of a Responses body (without the stored context a `previous_response_id` adds). */
export function responsesInputTokens(body: Json): number {
  const items = [
    ...(typeof body.instructions === 'string' ? [{ role: 'developer', content: body.instructions }] : []),
    ...(typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : Array.isArray(body.input) ? body.input : []),
  ];
  const format = isObject(body.text) ? jsonText((body.text as Json).format) : 0;
  // Items that give the model tools (`additional_tools`, `tool_search_output`) or a JSON output format (`configuration_update`):
  // rendered as the top-level ones are, schemas whole (their property names too).
  const given = items.filter((i) => isObject(i) && TOOL_ITEMS.has(String(i.type)));
  const configured = items.filter((i) => isObject(i) && i.type === 'configuration_update') as Json[];
  const rest = items.filter((i) => !given.includes(i) && !configured.includes(i as Json));
  const givenTools = given.reduce<number>((sum, i) => sum + OPENAI_MESSAGE + openaiTools((i as Json).tools), 0);
  const configuredFormats = configured.reduce<number>((sum, i) => sum + OPENAI_MESSAGE + (isObject(i.text) ? jsonText((i.text as Json).format) : 0), 0);
  return openaiMessages(rest) + givenTools + configuredFormats + openaiTools(body.tools) + format;
}

/** Each prompt of a legacy completions `prompt` (a string or one token-id array is one), billed on its own. */
export function completionPrompts(prompt: unknown): unknown[] {
  return Array.isArray(prompt) && prompt.length > 0 && typeof prompt[0] !== 'number' ? prompt : [prompt];
}

const ANTHROPIC_MESSAGE = 3;
/** Anthropic's tool-use system prompt (Claude Sonnet 4): with `tool_choice` auto/none, and any/tool. */
const TOOL_USE_PROMPT = 346;

/**
 * Anthropic's client tools defined by type: the name each must carry, the beta it needs, and
 * what Anthropic bills for its definition (rendered from the type, not the body's JSON):
 * bash 245, text editor 700, computer use 735 plus 499 of system prompt (Anthropic's tool-use
 * pricing table; the most of its 466–499 range).
 */
export const CLIENT_TOOLS: Record<string, { name: string; tokens: number; beta?: string }> = {
  bash_20241022: { name: 'bash', tokens: 245, beta: 'computer-use-2024-10-22' },
  bash_20250124: { name: 'bash', tokens: 245 },
  text_editor_20241022: { name: 'str_replace_editor', tokens: 700, beta: 'computer-use-2024-10-22' },
  text_editor_20250124: { name: 'str_replace_editor', tokens: 700 },
  text_editor_20250429: { name: 'str_replace_based_edit_tool', tokens: 700 },
  text_editor_20250728: { name: 'str_replace_based_edit_tool', tokens: 700 },
  computer_20241022: { name: 'computer', tokens: 735 + 499, beta: 'computer-use-2024-10-22' },
  computer_20250124: { name: 'computer', tokens: 735 + 499, beta: 'computer-use-2025-01-24' },
};

/** What a tools array bills as text: custom tools their JSON, client tools their definition. */
function toolsText(tools: unknown[]): number {
  return tools.reduce<number>((sum, t) => sum + (CLIENT_TOOLS[String((t as Json | null)?.type)]?.tokens ?? jsonText(t)), 0);
}
const TOOL_USE_PROMPT_FORCED = 313;

/**
 * Input tokens of an Anthropic Messages body (the same body on Bedrock InvokeModel and Vertex
 * rawPredict); `toolPrompt` replaces the tool-use system prompt's figure (knob `toolPromptTokens`).
 */
export function messagesInputTokens(body: Json, toolPrompt?: number): number {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const system = body.system === undefined ? 0 : ANTHROPIC_MESSAGE + textIn(body.system, claudeImage);
  const tools = Array.isArray(body.tools) && body.tools.length > 0 ? body.tools : undefined;
  const forced = ['any', 'tool'].includes(String((body.tool_choice as Json | undefined)?.type));
  const toolUse = tools ? toolsText(tools) + (toolPrompt ?? (forced ? TOOL_USE_PROMPT_FORCED : TOOL_USE_PROMPT)) : 0;
  return messages.reduce<number>((sum, m) => sum + ANTHROPIC_MESSAGE + textIn((m as Json)?.content, claudeImage), REPLY_PRIMING + system + toolUse + outputFormat(body));
}

/**
 * Claude's JSON outputs (`output_config.format`, the beta's `output_format`): the schema is
 * rendered into the prompt as JSON text, with a system prompt explaining the format around it.
 * Anthropic publishes no figure for that prompt; the fleet bills 300 (below the tool-use
 * prompt's 346, which the same constrained sampling rides on for strict tools).
 */
const FORMAT_PROMPT = 300;
function outputFormat(body: Json): number {
  const format = (isObject(body.output_config) ? body.output_config.format : undefined) ?? body.output_format;
  return format === undefined || format === null ? 0 : jsonText(format) + FORMAT_PROMPT;
}

/** Input tokens of a Bedrock Converse body: a Messages body in Converse's shape (`system` blocks, `toolConfig`). */
export function converseInputTokens(body: Json): number {
  const config = body.toolConfig as { tools?: unknown[]; toolChoice?: Json } | undefined;
  const choice = config?.toolChoice && ('any' in config.toolChoice || 'tool' in config.toolChoice) ? { type: 'any' } : undefined;
  return messagesInputTokens({ messages: body.messages, system: body.system, tools: config?.tools, tool_choice: choice });
}

/**
 * Chat usage as OpenAI reports it: with `modalities` holding `"audio"` (gpt-4o-audio) the
 * reply is spoken, and its tokens are reported as audio in `completion_tokens_details`
 * (billed at the audio output rate, 8× text on gpt-4o-audio-preview). Cache reads and writes
 * (`prompt_tokens_details.cached_tokens`, `cache_write_tokens`: gpt-5.6's explicit breakpoints) are parts of the prompt.
 */
export function chatUsage(body: Json, prompt: number, completion: number, hiddenReasoning = 0, cache = { read: 0, write: 0 }) {
  const audio = Array.isArray(body.modalities) && body.modalities.includes('audio');
  // Prompt caching (knobs `cacheReadTokens`/`cacheWriteTokens`): reads and writes are parts of `prompt_tokens`, as OpenAI reports them.
  const read = Math.min(cache.read, prompt);
  const write = Math.min(cache.write, prompt - read);
  return {
    prompt_tokens: prompt,
    ...(read > 0 || write > 0 ? { prompt_tokens_details: { cached_tokens: read, ...(write > 0 ? { cache_write_tokens: write } : {}) } } : {}),
    completion_tokens: completion,
    // xAI and Gemini (OpenAI-compatible): reasoning billed as output, in the total but not in `completion_tokens`.
    total_tokens: prompt + completion + hiddenReasoning,
    ...(audio ? { completion_tokens_details: { audio_tokens: completion, text_tokens: 0 } } : {}),
    ...(hiddenReasoning > 0 ? { completion_tokens_details: { reasoning_tokens: hiddenReasoning } } : {}),
  };
}

/** Every prompt-cache lifetime a body asks: `prompt_cache_options.ttl` and each `prompt_cache_breakpoint.ttl`, wherever they are. */
export function cacheTtls(value: unknown, out: unknown[] = []): unknown[] {
  if (value === null || typeof value !== 'object') return out;
  for (const [name, inner] of Object.entries(value)) {
    if ((name === 'prompt_cache_options' || name === 'prompt_cache_breakpoint') && (inner as Json | null)?.ttl !== undefined) out.push((inner as Json).ttl);
    cacheTtls(inner, out);
  }
  return out;
}

/**
 * Responses' `input_tokens_details` as gpt-5.6 reports prompt caching (knobs `cacheReadTokens`,
 * `cacheWriteTokens`: parts of `input_tokens`): the writes by retention in
 * `cache_write_tokens_details` — all at 12 hours when the request's `prompt_cache_options.ttl`
 * or a breakpoint's asks `12h` (the breakpoints inherit the request's), else at 30 minutes.
 */
export function responsesInputDetails(k: { cacheReadTokens: number; cacheWriteTokens: number }, body: Json, inputTokens: number) {
  const read = Math.min(k.cacheReadTokens, inputTokens);
  const write = Math.min(k.cacheWriteTokens, inputTokens - read);
  if (write === 0) return { cached_tokens: read };
  const halfDay = cacheTtls(body).includes('12h') ? write : 0;
  return { cached_tokens: read, cache_write_tokens: write, cache_write_tokens_details: { ttl_12h_tokens: halfDay, ttl_30m_tokens: write - halfDay } };
}
