/**
 * Tokens an image generation may bill, pure. Endpoints charged per request reserve no tokens
 * for the text they write, but gpt-image models bill (and report) tokens for the images
 * themselves: without a reservation a key's `tpm` would hold none of them (a burst of
 * `quality: "high"` images wrote 4,160 tokens each past a window the key had not got).
 *
 * The bound per image is the model's output figure for the size and quality asked
 * (OpenAI's gpt-image-1 table below; the dearest entry consistent with the request, `auto`
 * or absent meaning any), or `models.<id>.imageOutputTokens` when the operator sets one.
 * Streaming's partial images (`partial_images`, up to 3) add 100 output tokens each, per
 * image. A model with neither (dall-e: no token usage) reserves nothing.
 */
import { textTokens, type PromptRule } from './estimate';

/** gpt-image-1's output tokens per image, by `quality/size` (OpenAI's image generation guide). */
export const GPT_IMAGE_OUTPUT_TOKENS: Record<string, number> = {
  'low/1024x1024': 272,
  'low/1024x1536': 408,
  'low/1536x1024': 400,
  'medium/1024x1024': 1_056,
  'medium/1024x1536': 1_584,
  'medium/1536x1024': 1_568,
  'high/1024x1024': 4_160,
  'high/1024x1536': 6_240,
  'high/1536x1024': 6_208,
};
/** Output tokens of one partial image in a stream. */
export const PARTIAL_IMAGE_TOKENS = 100;

const GPT_IMAGE = /^gpt-image/;
const anyValue = (v: unknown) => v === undefined || v === null || v === 'auto';

/** The dearest table entry consistent with `size` and `quality` (none consistent: the dearest of all). */
export function gptImageTokens(size: unknown, quality: unknown): number {
  const entries = Object.entries(GPT_IMAGE_OUTPUT_TOKENS);
  const fits = entries.filter(([key]) => {
    const [q, s] = key.split('/');
    return (anyValue(quality) || quality === q) && (anyValue(size) || size === s);
  });
  return Math.max(...(fits.length > 0 ? fits : entries).map(([, tokens]) => tokens));
}

export interface ImageModel {
  /** Every name the request's model may reach a node under (router ids and nodes' own names). */
  names: string[];
  /** `models.<id>.imageOutputTokens`, if configured. */
  configured?: number | undefined;
}

/**
 * Tokens one image-generation request may bill on the dearest of `models`: its prompt plus,
 * per image (`n`), the output bound and its partial images. 0 when no model bills tokens.
 * The prompt's text by `rule` (`limits.promptTokens`; default its UTF-8 bytes).
 */
export function imageRequestTokens(body: Record<string, unknown>, models: ImageModel[], rule: PromptRule = 'bound'): number {
  const output = imageOutputTokens(body, models);
  return output === 0 ? 0 : textTokens(String(body.prompt ?? ''), rule) + output;
}

/** The output tokens alone: per image (`n`), the bound and its partial images; 0 when no model bills tokens. */
export function imageOutputTokens(body: Record<string, unknown>, models: ImageModel[]): number {
  const partials = typeof body.partial_images === 'number' && body.partial_images > 0 ? Math.min(body.partial_images, 3) : 0;
  const perImage = Math.max(
    0,
    ...models.map((m) => m.configured ?? (m.names.some((name) => GPT_IMAGE.test(name)) ? gptImageTokens(body.size, body.quality) : 0)),
  );
  const n = typeof body.n === 'number' && body.n > 0 ? body.n : 1;
  return perImage === 0 ? 0 : n * (perImage + partials * PARTIAL_IMAGE_TOKENS);
}

/**
 * How much work an image generation asked for, in the units its usage would report, for an
 * answer that reports none (dall-e): `n` × megapixels (at most 2) × 2 for `hd`/`high` quality × 1,000.
 * Not a bound and not billed — the live view only weighs a JSON image answer's time by it,
 * as it weighs a chat answer's by its completion tokens (`forward/observe.ts`).
 */
export function imageWork(body: Record<string, unknown>): number {
  const n = typeof body.n === 'number' && body.n > 0 ? body.n : 1;
  const size = typeof body.size === 'string' ? /^(\d{2,5})x(\d{2,5})$/.exec(body.size) : null;
  // Held to the largest size any image model draws (dall-e-3's 1792×1024, ~1.75 MP): a node that ignores an odd size draws no larger.
  const megapixels = size ? Math.min(2, (Number(size[1]) * Number(size[2])) / 1_048_576) : 1;
  const quality = body.quality === 'hd' || body.quality === 'high' ? 2 : 1;
  return Math.max(1, Math.round(n * megapixels * quality * 1_000));
}
