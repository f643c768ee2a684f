/**
 * What a request body brings into the prompt beyond its own text — pure, for `estimate.ts`:
 * input it names but does not hold (hosted tools, top-level or given by a Responses input item, stored audio, prompt templates, MCP servers,
 * retrieval, a caller's chat template, prompt embeddings, a stored conversation or Messages thread, a Gemini
 * context cache), which holds the context window; Anthropic's client tools, rendered from their
 * type; a Messages JSON output format.
 */

/**
 * Tools whose own text is all the input they add; any other (hosted) tool adds what it finds.
 * A tool without `type` is Anthropic's custom tool (`{name, description, input_schema}`, as the
 * SDKs and Claude Code send every tool of theirs): plain, not hosted.
 */
const PLAIN_TOOLS = new Set(['function', 'custom', 'undefined']);

/**
 * Anthropic's client tools defined by their type (`bash_20250124`, `text_editor_20250728`,
 * `computer_20250124`, …): the caller runs them and sends their results back in the body, so
 * they add no input of their own — but Anthropic renders their definition from the type, not
 * from the body, and bills it: 245 tokens for bash, 700 for the text editor, 735 for computer
 * use plus 466–499 of system prompt (Anthropic's tool-use pricing table). Each reserves
 * `CLIENT_TOOL_TOKENS`, above the dearest, instead of the whole context window a hosted tool
 * holds. Other typed tools (server tools, unknown families) stay hosted.
 */
export const CLIENT_TOOL = /^(bash|text_editor|computer)_\d{8}$/;
export const CLIENT_TOOL_TOKENS = 2_000;

export const toolType = (t: unknown) => String((t as { type?: unknown } | null)?.type);

/** Responses input items that give the model tools beside the top-level `tools`: `additional_tools`, and a `tool_search_output`'s loaded tools. */
const TOOL_ITEMS: ReadonlySet<string> = new Set(['additional_tools', 'tool_search_output']);

/**
 * Every tool a body gives the model: its `tools`, and on Responses those its input items give
 * (`TOOL_ITEMS`, openai 7.x `ResponseInputItem.AdditionalTools` and
 * `ResponseToolSearchOutputItemParam`) — a hosted tool there searches and bills as a top-level one.
 */
export function requestTools(body: Record<string, unknown>): unknown[] {
  const tools = Array.isArray(body.tools) ? body.tools : [];
  if (!Array.isArray(body.input)) return tools;
  const given = body.input.flatMap((item) => {
    const listed = (item as { tools?: unknown } | null)?.tools;
    return TOOL_ITEMS.has(toolType(item)) && Array.isArray(listed) ? listed : [];
  });
  return given.length === 0 ? tools : [...tools, ...given];
}

/**
 * A chat template the caller sends (vLLM's `chat_template`, top level or in `chat_template_kwargs`;
 * a node started with `--trust-request-chat-template` renders it): Jinja loops, so a tiny body can
 * render any prompt — bounded only by the context window.
 */
function callerTemplate(body: Record<string, unknown>): boolean {
  const kwargs = body.chat_template_kwargs;
  const nested = kwargs !== null && typeof kwargs === 'object' ? (kwargs as { chat_template?: unknown }).chat_template : undefined;
  return (body.chat_template !== undefined && body.chat_template !== null) || (nested !== undefined && nested !== null);
}

/**
 * A Gemini context cache the body names (`cachedContents/…`): Google's OpenAI-compatible
 * endpoints (Vertex's openapi, the Gemini API's) take it as `extra_body.google.cached_content`
 * and read the whole cache into the prompt, billed as prompt tokens (cached, at a discount, but
 * counted) — from 1,024–4,096 tokens up to the model's context window. Also looked for where
 * proxies in front of Gemini (LiteLLM) take it: `google.cached_content` and `cached_content`.
 */
function geminiCache(body: Record<string, unknown>): boolean {
  const named = (o: unknown) => o !== null && typeof o === 'object' && ((o as { cached_content?: unknown }).cached_content ?? (o as { cachedContent?: unknown }).cachedContent) != null;
  // Google's JSON parsers take a field's lowerCamelCase name as well (`extraBody`, `cachedContent`).
  const google = (o: unknown) => (o !== null && typeof o === 'object' ? (o as { google?: unknown }).google : undefined);
  return [body, body.extra_body, body.extraBody].some((o) => named(o) || named(google(o)));
}

/** Input the body names but does not hold (see the module header; file parts are found in the walk). */
export function unboundedContext(body: Record<string, unknown>): boolean {
  const tools = requestTools(body);
  const hosted = tools.some((t) => !PLAIN_TOOLS.has(toolType(t)) && !CLIENT_TOOL.test(toolType(t)));
  const storedAudio = Array.isArray(body.messages) && body.messages.some((m) => typeof (m as { audio?: { id?: unknown } } | null)?.audio?.id === 'string');
  const template = body.prompt !== null && typeof body.prompt === 'object' && !Array.isArray(body.prompt);
  // Chat's own web search (`web_search_options`, search models) adds what it finds like a hosted tool.
  const search = body.web_search_options !== undefined && body.web_search_options !== null;
  // Anthropic's MCP connector: the servers' tool definitions and what their tools return enter the context upstream;
  // Azure's "On Your Data" (`data_sources`) and OpenRouter's `plugins` (web search, PDF parsing): what they retrieve goes into the prompt.
  const listed = (v: unknown) => Array.isArray(v) && v.length > 0;
  const connected = listed(body.mcp_servers) || listed(body.data_sources) || listed(body.plugins);
  // vLLM's prompt embeddings (legacy completions): each row of the tensor is a prompt token, whatever its text says;
  // its `mm_processor_kwargs` (nodes with --trust-request-mm-kwargs) resize media past any image rule (`max_pixels`).
  const embeds = (body.prompt_embeds !== undefined && body.prompt_embeds !== null) || (body.mm_processor_kwargs !== undefined && body.mm_processor_kwargs !== null);
  // Anthropic's server-held thread (beta `thread: {type: "continue", previous_message_id}`): the conversation so far is upstream, billed as input.
  const thread = body.thread !== undefined && body.thread !== null && toolType(body.thread) !== 'create';
  return hosted || search || connected || storedAudio || template || callerTemplate(body) || embeds || geminiCache(body) || thread || (body.conversation !== undefined && body.conversation !== null);
}

/** A Messages body's JSON output format (`output_config.format`, or the beta's `output_format`), if it asks for one. */
export function outputFormat(body: Record<string, unknown>): unknown {
  const config = body.output_config;
  const format = config !== null && typeof config === 'object' ? (config as { format?: unknown }).format : undefined;
  return format ?? body.output_format ?? undefined;
}
