/**
 * Prompt token estimates for reservations, pure. A reservation is settled to the real
 * usage when the answer ends, but until then it is what keeps TPM exact, so the estimate
 * leans high where it must guess and never counts bytes that are not text:
 *
 * - **Text**: ASCII at 4 characters a token; every other code point as a whole token
 *   (CJK runs about one token a character — the old `length ÷ 4` undercounted it 4×);
 *   characters outside the BMP (emoji) as two.
 * - **Messages**: 4 tokens of framing each, plus 3 to prime the reply (OpenAI's cookbook
 *   rule); every string in a message counts as text — content, names, tool-call ids and
 *   function arguments — except the media parts below.
 * - **Images** (`image_url` / `input_image` parts), OpenAI's tile rule: `detail: "low"` is
 *   85 tokens; otherwise the image is fitted into 2048×2048, its short side scaled down to
 *   768, and it costs 85 + 170 per 512-px tile. Sizes are read from a data URL's header
 *   (PNG, GIF, JPEG, WebP); an image whose size cannot be read (a remote URL) costs the
 *   rule's maximum, 1,445. The base64 itself is never counted.
 * - **Audio and files** (`input_audio`, `file` parts): 1 token per 100 bytes of decoded
 *   payload — a guess (their real cost depends on duration and pages), settled to usage.
 * - **Tools**: `tools`, `functions` and `response_format` count as the text of their JSON.
 * - **Embeddings, legacy prompts**: text by the text rule; token-id arrays by their length.
 * - **Responses**: `instructions` as text; `input` items like messages.
 */

export const IMAGE_LOW_TOKENS = 85;
export const IMAGE_TILE_TOKENS = 170;
/** The tile rule's worst case: 768×2048 after scaling → 2×4 tiles. */
export const IMAGE_MAX_TOKENS = IMAGE_LOW_TOKENS + IMAGE_TILE_TOKENS * 8;
const MESSAGE_FRAMING = 4;
const REPLY_PRIMING = 3;
const MEDIA_BYTES_PER_TOKEN = 100;

/** Tokens of a piece of text (see the module header). */
export function textTokens(text: string): number {
  let ascii = 0;
  let other = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) ascii++;
    else if (c >= 0xd800 && c <= 0xdbff) {
      other += 2; // a surrogate pair: one astral character
      i++;
    } else other++;
  }
  return Math.ceil(ascii / 4) + other;
}

/** OpenAI's tile rule for one image of known size (high/auto detail). */
export function imageTileTokens(width: number, height: number): number {
  if (!(width > 0 && height > 0)) return IMAGE_MAX_TOKENS;
  let w = width;
  let h = height;
  const fit = Math.min(1, 2048 / Math.max(w, h));
  w *= fit;
  h *= fit;
  const shrink = Math.min(1, 768 / Math.min(w, h));
  w *= shrink;
  h *= shrink;
  return IMAGE_LOW_TOKENS + IMAGE_TILE_TOKENS * Math.ceil(w / 512) * Math.ceil(h / 512);
}

export type ImageSizer = (url: string) => { width: number; height: number } | undefined;

function imageTokens(image: unknown, sizeOf: ImageSizer): number {
  const spec = typeof image === 'string' ? { url: image } : ((image ?? {}) as { url?: unknown; detail?: unknown });
  if (spec.detail === 'low') return IMAGE_LOW_TOKENS;
  const size = typeof spec.url === 'string' ? sizeOf(spec.url) : undefined;
  return size ? imageTileTokens(size.width, size.height) : IMAGE_MAX_TOKENS;
}

/** Decoded bytes of a base64 payload (data URL or bare), by its length alone. */
function base64Bytes(value: unknown): number {
  if (typeof value !== 'string') return 0;
  const comma = value.startsWith('data:') ? value.indexOf(',') + 1 : 0;
  return Math.floor(((value.length - comma) * 3) / 4);
}

function mediaTokens(part: Record<string, unknown>): number {
  const audio = part.input_audio as { data?: unknown } | undefined;
  const file = part.file as { file_data?: unknown } | undefined;
  const bytes = base64Bytes(audio?.data) + base64Bytes(file?.file_data) + base64Bytes(part.file_data);
  return Math.ceil(bytes / MEDIA_BYTES_PER_TOKEN);
}

/** Every string in a value, by the text rule; media parts by their own rules. */
function valueTokens(value: unknown, sizeOf: ImageSizer): number {
  if (typeof value === 'string') return textTokens(value);
  if (Array.isArray(value)) return value.reduce<number>((sum, v) => sum + valueTokens(v, sizeOf), 0);
  if (value === null || typeof value !== 'object') return 0;
  const part = value as Record<string, unknown>;
  switch (part.type) {
    case 'image_url':
      return imageTokens(part.image_url, sizeOf);
    case 'input_image':
      return imageTokens(part.image_url ?? { url: part.url, detail: part.detail }, sizeOf);
    case 'input_audio':
    case 'file':
    case 'input_file':
      return mediaTokens(part) + (typeof part.filename === 'string' ? textTokens(part.filename) : 0);
  }
  let sum = 0;
  for (const v of Object.values(part)) sum += valueTokens(v, sizeOf);
  return sum;
}

function jsonTokens(value: unknown): number {
  return value === undefined || value === null ? 0 : textTokens(JSON.stringify(value));
}

/** An `input`/`prompt` value: text, token ids, token-id arrays, or (Responses) input items. */
function inputTokens(input: unknown, sizeOf: ImageSizer): number {
  if (typeof input === 'string') return textTokens(input);
  if (!Array.isArray(input)) return 0;
  return input.reduce<number>((sum, item) => {
    if (typeof item === 'number') return sum + 1; // one token id
    if (typeof item === 'string') return sum + textTokens(item);
    if (Array.isArray(item) && item.every((t) => typeof t === 'number')) return sum + item.length; // a token-id array
    return sum + MESSAGE_FRAMING + valueTokens(item, sizeOf); // a Responses input item, framed like a message
  }, 0);
}

/**
 * Prompt tokens of a request body, whatever the endpoint: chat `messages`, Responses
 * `input` + `instructions`, legacy `prompt`, embeddings/moderations `input`, plus tools.
 */
export function estimatePromptTokens(body: Record<string, unknown>, sizeOf: ImageSizer): number {
  let sum = jsonTokens(body.tools) + jsonTokens(body.functions) + jsonTokens(body.response_format);
  if (Array.isArray(body.messages)) {
    sum += body.messages.reduce<number>((s, m) => s + MESSAGE_FRAMING + valueTokens(m, sizeOf), 0) + REPLY_PRIMING;
  }
  if (typeof body.instructions === 'string') sum += textTokens(body.instructions) + REPLY_PRIMING;
  return sum + inputTokens(body.input, sizeOf) + inputTokens(body.prompt, sizeOf);
}
