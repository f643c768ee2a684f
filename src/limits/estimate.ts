/**
 * Prompt token estimates for reservations, pure. A reservation is settled to the real
 * usage when the answer ends, but until then it is what keeps TPM exact, so the estimate
 * leans high where it must guess and never counts bytes that are not text:
 *
 * - **Text**, by the rule `limits.promptTokens` names (`PromptRule`):
 *   - `bound` (the default): its UTF-8 length. A BPE token is at least one byte, so no
 *     tokenizer can make more tokens of a text than it has bytes: the one bound that holds
 *     against any caller (dense digit/punctuation runs, rare CJK, emoji).
 *   - `estimate`: ASCII at 4 characters a token; every other code point as a whole token
 *     (CJK runs about one token a character); characters outside the BMP (emoji) as two.
 *     Close for prose and code, but a caller can beat it (`1,1,1,…` is about a token a
 *     character): not a bound. Anthropic's `count_tokens` answers it (an answer, not a
 *     reservation).
 * - **Messages**: 4 tokens of framing each, plus 3 to prime the reply (OpenAI's cookbook
 *   rule); every string in a message counts as text — content, names, tool-call ids and
 *   function arguments — except the media parts below; Anthropic's `tool_use` blocks as the
 *   text of their JSON (their `input` is an object: keys and numbers are billed too).
 * - **Images** (`image_url` / `input_image` parts, Responses' `computer_screenshot`), at the rate of the model (`ImageRule`,
 *   `image-rules.ts`): tile models fit the image into 2048×2048, scale its short side down
 *   to 768 and charge base + tile × 512-px tiles (`detail: "low"`: base alone) — gpt-4o's
 *   85 + 170, gpt-4o-mini's 2,833 + 5,667; patch models charge 32-px patches (at most
 *   `maxPatches`) × a multiplier, whatever the detail. Sizes are read from a data URL's
 *   header (PNG, GIF, JPEG, WebP); an image whose size cannot be read (a remote URL) costs
 *   the rule's maximum. Over several models (a fallback chain), the dearest. The base64
 *   itself is never counted.
 *   Anthropic's `image` blocks the same way: a base64 source by its header's size, a url or
 *   file source at the most, at Claude's rate when a Claude model may serve the request. A
 *   data URL (or base64 source) whose MIME type is not an image — a PDF, a video, audio, which
 *   Gemini's OpenAI-compatible endpoints read as such — is unbounded (below).
 * - **Audio** (`input_audio`, WAV or MP3): its seconds at 32 tokens each — Gemini's rate, the
 *   most any provider bills for input audio (OpenAI's about 10, Qwen2-Audio 25) —, the seconds
 *   at MP3's lowest bitrate (8 kbit/s, 1,000 bytes a second) or, for a WAV whose header states
 *   a lower rate, at that rate (`audio-rate.ts`); settled to usage. Audio that is neither a WAV nor an MP3 by
 *   its content (FLAC, Ogg: lossless silence and Opus DTX hold minutes in a few bytes) has no
 *   such floor: unbounded, as below.
 * - **What the body does not hold** — file parts (`file` / `input_file`, by id, URL or
 *   inline: a PDF's pages become images and text upstream; Anthropic's `document` blocks but
 *   plain text without citations), vLLM's `video_url` and `audio_url` parts (frames and
 *   seconds of a remote file), an earlier audio answer named by
 *   id (`messages[].audio.id`), a stored conversation (`conversation`) or prompt template
 *   (Responses `prompt` object), a stored output item named by id (Responses
 *   `item_reference`), hosted tools that add what they find to the input (`web_search`,
 *   `file_search`, …: any tool not `function`/`custom` or one of Anthropic's client tools — those
 *   reserve `CLIENT_TOOL_TOKENS` each; chat's `web_search_options`; Messages' `mcp_servers`; Azure's `data_sources`; OpenRouter's
 *   `plugins`), a Gemini context cache (`extra_body.google.cached_content`), a chat
 *   template the caller sends (vLLM's `chat_template`: Jinja loops), vLLM's `prompt_embeds`
 *   (a tensor, a prompt token a row) and `mm_processor_kwargs` (media resized past any image
 *   rule): no bound is knowable,
 *   so the estimate says `unbounded` and the reservation holds the model's whole context
 *   window instead (`reservation.ts`).
 * - **Tools and schemas**: `tools`, `functions`, `response_format`, Responses' `text`
 *   (its `format` schema) and Messages' JSON output format (`output_config.format`, the
 *   beta's `output_format`) count as the text of their JSON; so do what a self-hosted node's
 *   chat template renders beside the messages, vLLM's `documents` (RAG) and `chat_template_kwargs`.
 * - **Tool calls** in the history: an Anthropic `tool_use` block's `input` is an object the
 *   provider renders as JSON text — keys and numbers included —, so it counts as its JSON; so
 *   do Responses items that give the model tools (`additional_tools`, `tool_search_output`) or
 *   a JSON output format (`configuration_update`), whose schemas' property names are prompt text.
 * - **Embeddings, legacy prompts**: text by the text rule; token-id arrays by their length (exact);
 *   every prompt of an array (each is billed), and a `suffix` once per prompt. Under `bound`,
 *   each separate input — a string, each string of an array, a token-id array, each token-id
 *   array of an array — reserves `SPECIAL_TOKENS_PER_INPUT` more: the tokens a node's
 *   tokenizer adds around every input it encodes and bills (see that constant). `estimate`
 *   adds none: OpenAI's own embeddings and completions bill none, and that rule is a guess
 *   at OpenAI's figure, not a bound.
 * - **Responses** (`responsesPrompt`): read as chat — `instructions` a system message, a
 *   string `input` a user message (a chat template frames both upstream, as OpenAI bills
 *   them), `input` items each framed like a message, and the reply primed.
 *
 * Special tokens in chat and Responses: a tokenizer that adds BOS/EOS once per sequence is
 * covered by the reply priming (3) and the framing of each message (4, which also covers a
 * template's per-message specials — Llama 3's header and `<|eot_id|>` tokens — beside the
 * role's bytes).
 */

import { audioBytesPerSecond, audioOfKnownRate } from './audio-rate';
import { anthropicImageUrl, plainDocument } from './estimate-messages';
import { DEFAULT_IMAGE_RULE, ruleImageTokens, type ImageRule, type ImageSize } from './image-rules';
import { textTokens, type PromptRule } from './text-tokens';
import { CLIENT_TOOL, CLIENT_TOOL_TOKENS, outputFormat, toolType, unboundedContext } from './body-input';

export { textTokens, utf8Bytes, type PromptRule } from './text-tokens';
export { CLIENT_TOOL_TOKENS, outputFormat } from './body-input';

export const IMAGE_LOW_TOKENS = 85;
export const IMAGE_TILE_TOKENS = 170;
/** The tile rule's worst case: 768×2048 after scaling → 2×4 tiles. */
export const IMAGE_MAX_TOKENS = IMAGE_LOW_TOKENS + IMAGE_TILE_TOKENS * 8;
const MESSAGE_FRAMING = 4;
const REPLY_PRIMING = 3;
/** Gemini's input audio rate (Google's token docs), the most any provider bills; before, 31.25 (1 token per 32 bytes at 8 kbit/s). */
const AUDIO_TOKENS_PER_SECOND = 32;
/**
 * Tokens a tokenizer may add to each separate embeddings/legacy-completions input and bill
 * (`bound` only): two, a start and an end marker — Llama-family BOS/EOS (`<s>`…`</s>`,
 * `<|begin_of_text|>`), BERT-family `[CLS]`…`[SEP]` (BGE, E5 on TEI or vLLM). No widely
 * served tokenizer adds more than a pair per encoded sequence; without this allowance
 * `input: ["a", "a", …]` reserves 1 token an input and bills 3.
 */
export const SPECIAL_TOKENS_PER_INPUT = 2;

/** OpenAI's tile rule for one image of known size (high/auto detail), at gpt-4o's rate. */
export function imageTileTokens(width: number, height: number): number {
  return ruleImageTokens(DEFAULT_IMAGE_RULE, { width, height }, false);
}

export type ImageSizer = (url: string) => ImageSize | undefined;

/** How the estimate reads media: image sizes, and the image rates of the models the request may reach. */
interface Walk {
  sizeOf: ImageSizer;
  rules: ImageRule[];
  /** Set when a part's cost cannot be bounded from the body (files). */
  unbounded: boolean;
  text: PromptRule;
}

/**
 * A data URL that is not an image (`data:application/pdf;…`, `video/…`, `audio/…`): Gemini's
 * OpenAI-compatible endpoints read an `image_url` by its MIME type — a PDF's pages, a video's
 * frames and seconds — and an Anthropic image block translated for such a node arrives the same way.
 */
const NOT_AN_IMAGE = /^data:(?!image\/)/i;

function imageTokens(image: unknown, walk: Walk): number {
  const spec = typeof image === 'string' ? { url: image } : ((image ?? {}) as { url?: unknown; detail?: unknown });
  // No image rule bounds such media: the context window (below).
  if (typeof spec.url === 'string' && NOT_AN_IMAGE.test(spec.url)) walk.unbounded = true;
  const size = typeof spec.url === 'string' ? walk.sizeOf(spec.url) : undefined;
  return Math.max(...walk.rules.map((rule) => ruleImageTokens(rule, size, spec.detail === 'low')));
}

/** Decoded bytes of a base64 payload (data URL or bare), by its length alone. */
function base64Bytes(value: unknown): number {
  if (typeof value !== 'string') return 0;
  const comma = value.startsWith('data:') ? value.indexOf(',') + 1 : 0;
  return Math.floor(((value.length - comma) * 3) / 4);
}

function audioTokens(part: Record<string, unknown>, walk: Walk): number {
  const audio = part.input_audio as { data?: unknown } | undefined;
  const bytes = base64Bytes(audio?.data);
  if (bytes === 0) return 0;
  // Not a WAV or an MP3 (FLAC, Ogg): its seconds per byte have no floor (module header).
  if (!audioOfKnownRate(audio!.data as string)) walk.unbounded = true;
  // Seconds are what a node bills: a WAV slower than the floor holds more of them per byte.
  const seconds = bytes / audioBytesPerSecond(audio!.data as string);
  return Math.ceil(seconds * AUDIO_TOKENS_PER_SECOND);
}

/**
 * Every string in a value, by the text rule; media parts by their own rules. Recursive: the
 * body's nesting is bounded before it gets here (`MAX_JSON_DEPTH` in `openai/requests.ts`).
 */
function valueTokens(value: unknown, walk: Walk): number {
  if (typeof value === 'string') return textTokens(value, walk.text);
  if (Array.isArray(value)) return value.reduce<number>((sum, v) => sum + valueTokens(v, walk), 0);
  if (value === null || typeof value !== 'object') return 0;
  const part = value as Record<string, unknown>;
  switch (part.type) {
    case 'image_url':
      return imageTokens(part.image_url, walk);
    case 'input_image':
      return imageTokens(part.image_url ?? { url: part.url, detail: part.detail }, walk);
    case 'computer_screenshot': // a computer-use call's output (Responses): an image by URL or file id, billed as one
      return imageTokens({ url: part.image_url }, walk);
    case 'input_audio':
      return audioTokens(part, walk);
    case 'tool_use': // Anthropic's tool calls carry their input as an object: its keys and numbers are read (and billed) too
    case 'server_tool_use':
    case 'mcp_tool_use':
    // Responses items that give the model tools or a JSON output format: their schemas are rendered whole, property names too
    case 'additional_tools':
    case 'tool_search_output':
    case 'configuration_update':
      return jsonTokens(part, walk.text);
    case 'image': {
      // Anthropic's image block: by its source's size (base64) or the most (url, file id); the
      // base64 never as text. Any other member's text still counts: a node that reads the part
      // another way (an OpenAI-compatible server) would bill it.
      let sum = imageTokens({ url: anthropicImageUrl(part.source) }, walk);
      for (const [name, v] of Object.entries(part)) if (name !== 'source') sum += valueTokens(v, walk);
      return sum;
    }
    case 'video_url': // vLLM's media by URL: a video's frames, an audio file's seconds — nothing in the body says how many
    case 'audio_url':
      walk.unbounded = true;
      return 0;
    case 'item_reference': // a stored output item by id (Responses): its text is upstream, not in the body
      walk.unbounded = true;
      return 0;
    case 'file':
    case 'input_file':
      walk.unbounded = true;
      return typeof part.filename === 'string' ? textTokens(part.filename, walk.text) : 0;
    case 'document': // Anthropic's document block: only plain text without citations is all in the body
      if (!plainDocument(part)) {
        walk.unbounded = true;
        return 0;
      }
      break;
    case 'search_result': // Anthropic's search result (in a message or a tool's result): with citations, chunked as such a document is
      if ((part.citations as { enabled?: unknown } | null | undefined)?.enabled === true) {
        walk.unbounded = true;
        return 0;
      }
      break;
  }
  let sum = 0;
  for (const v of Object.values(part)) sum += valueTokens(v, walk);
  return sum;
}

function jsonTokens(value: unknown, rule: PromptRule): number {
  return value === undefined || value === null ? 0 : textTokens(JSON.stringify(value), rule);
}

const isTokenIds = (value: unknown): value is number[] => Array.isArray(value) && value.length > 0 && value.every((t) => typeof t === 'number');

/**
 * An `input`/`prompt` value: text, token ids, token-id arrays, or (Responses) input items;
 * each separate input (a string, a token-id array) with its special tokens (module header).
 */
function inputTokens(input: unknown, walk: Walk): number {
  const special = walk.text === 'bound' ? SPECIAL_TOKENS_PER_INPUT : 0;
  if (typeof input === 'string') return special + textTokens(input, walk.text);
  if (isTokenIds(input)) return special + input.length; // one prompt of token ids
  if (!Array.isArray(input)) return 0;
  return input.reduce<number>((sum, item) => {
    if (typeof item === 'number') return sum + 1; // a stray token id (a mixed array no API takes)
    if (typeof item === 'string') return sum + special + textTokens(item, walk.text);
    if (isTokenIds(item)) return sum + special + item.length;
    if (Array.isArray(item) && item.length === 0) return sum + special; // an empty token-id array: its markers alone
    return sum + MESSAGE_FRAMING + valueTokens(item, walk); // a Responses input item, framed like a message
  }, 0);
}

/** Legacy completions: how many separate prompts `prompt` holds (a string or one token array is one). */
export function promptCount(prompt: unknown): number {
  if (!Array.isArray(prompt) || prompt.length === 0) return 1;
  return typeof prompt[0] === 'number' ? 1 : prompt.length;
}

export interface PromptEstimate {
  tokens: number;
  /** A part whose cost no body can bound (a file): reserve the model's context window. */
  unbounded: boolean;
}

/**
 * Prompt tokens of a request body, whatever the endpoint: chat `messages`, Responses
 * `input` items (a whole Responses body goes through `responsesPrompt` first), legacy
 * `prompt` (every prompt of an array: each is billed), embeddings/moderations `input`, plus
 * tools. Images at the dearest of `rules` (the image
 * rates of the models the request may reach; default gpt-4o's tile rule); text by `text`
 * (default `bound`, its UTF-8 bytes).
 */
export function estimatePrompt(body: Record<string, unknown>, sizeOf: ImageSizer, rules: ImageRule[] = [DEFAULT_IMAGE_RULE], text: PromptRule = 'bound'): PromptEstimate {
  const walk: Walk = { sizeOf, rules: rules.length > 0 ? rules : [DEFAULT_IMAGE_RULE], unbounded: false, text };
  let sum = jsonTokens(body.tools, text) + jsonTokens(body.functions, text) + jsonTokens(body.response_format, text);
  if (Array.isArray(body.tools)) for (const t of body.tools) if (CLIENT_TOOL.test(toolType(t))) sum += CLIENT_TOOL_TOKENS;
  if (body.text !== null && typeof body.text === 'object') sum += jsonTokens(body.text, text);
  // Claude's JSON outputs: the schema is rendered into the prompt (GA `output_config.format`, beta `output_format`).
  sum += jsonTokens(outputFormat(body), text);
  // What a self-hosted node's chat template renders beside the messages (vLLM): RAG documents, the caller's template variables.
  sum += jsonTokens(body.documents, text) + jsonTokens(body.chat_template_kwargs, text);
  if (typeof body.suffix === 'string') sum += textTokens(body.suffix, text) * promptCount(body.prompt);
  walk.unbounded = unboundedContext(body);
  if (Array.isArray(body.messages)) {
    sum += body.messages.reduce<number>((s, m) => s + MESSAGE_FRAMING + valueTokens(m, walk), 0) + REPLY_PRIMING;
  }
  sum += inputTokens(body.input, walk) + inputTokens(body.prompt, walk);
  return { tokens: sum, unbounded: walk.unbounded };
}

/**
 * A Responses body as its model reads it, for `estimatePrompt`: `instructions` a system
 * message and a string `input` a user message, framed and primed like chat (module header);
 * `input` items stay items.
 */
export function responsesPrompt(body: Record<string, unknown>): Record<string, unknown> {
  const { instructions, input, ...rest } = body;
  const messages = [
    ...(typeof instructions === 'string' ? [{ role: 'system', content: instructions }] : []),
    ...(typeof input === 'string' ? [{ role: 'user', content: input }] : []),
  ];
  return { ...rest, messages, ...(typeof input === 'string' ? {} : { input }) };
}

/** The estimate's token figure alone (see `estimatePrompt`). */
export function estimatePromptTokens(body: Record<string, unknown>, sizeOf: ImageSizer, rules?: ImageRule[], text?: PromptRule): number {
  return estimatePrompt(body, sizeOf, rules, text).tokens;
}
