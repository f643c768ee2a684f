/**
 * Tokens an image generation may bill, pure. Endpoints charged per request reserve no tokens
 * for the text they write, but gpt-image models bill (and report) tokens for the images
 * themselves: without a reservation a key's `tpm` would hold none of them (a burst of
 * `quality: "high"` images wrote 4,160 tokens each past a window the key had not got).
 *
 * The bound per image is the model's output figure for the size and quality asked
 * (OpenAI's gpt-image-1 table below; the dearest entry consistent with the request, `auto`
 * or absent meaning any; other sizes at its dearest rate per pixel), or
 * `models.<id>.imageOutputTokens` when the operator sets one; a GIF bills each frame.
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

/** A name of a gpt-image model: one that bills the images it reads and writes as tokens. */
export const isGptImage = (names: string[]) => names.some((name) => /^gpt-image/.test(name));
const anyValue = (v: unknown) => v === undefined || v === null || v === 'auto';

const QUALITIES = new Set(['low', 'medium', 'high']);
const dims = (size: string) => size.split('x').map(Number) as [number, number];

/**
 * The most one image of gpt-image may bill for `size` and `quality`: the dearest table entry
 * consistent with them (`auto` or absent meaning any). A size outside the table (gpt-image-2
 * draws any `WIDTHxHEIGHT` up to 3840×2160) at the table's dearest rate per pixel for that
 * quality — the table's own sizes bill in proportion to their pixels. A quality outside it
 * (`xhigh`, `max` of the gpt-image-2.5 models; anything else) has no figure: undefined, and
 * `models.<id>.imageOutputTokens` is the operator's bound for such a model.
 */
export function gptImageTokens(size: unknown, quality: unknown): number | undefined {
  if (!anyValue(quality) && !QUALITIES.has(String(quality))) return undefined;
  const entries = Object.entries(GPT_IMAGE_OUTPUT_TOKENS).filter(([key]) => anyValue(quality) || key.startsWith(`${String(quality)}/`));
  if (anyValue(size)) return Math.max(...entries.map(([, tokens]) => tokens));
  const exact = entries.filter(([key]) => key.endsWith(`/${String(size)}`));
  if (exact.length > 0) return Math.max(...exact.map(([, tokens]) => tokens));
  const asked = /^(\d{1,5})x(\d{1,5})$/.exec(String(size));
  if (!asked) return undefined;
  const pixels = Number(asked[1]) * Number(asked[2]);
  const perPixel = Math.max(...entries.map(([key, tokens]) => {
    const [w, h] = dims(key.split('/')[1]!);
    return tokens / (w * h);
  }));
  return Math.ceil(perPixel * pixels);
}

/**
 * Images a request bills per `n`: a GIF (`output_format: "gif"`) is `frame_count` frames (2–16,
 * 9 when omitted), each bounded as one image; anything else one.
 */
export function framesPerImage(body: Record<string, unknown>): number {
  if (body.output_format !== 'gif') return 1;
  return typeof body.frame_count === 'number' && body.frame_count > 0 ? body.frame_count : 9;
}

/**
 * SVG output (`output_format: "svg"`, or an `svg` author): a second model, any the caller
 * names (`svg.model`), reasons and writes the SVG, billed in tokens of its own (`svg_usage`)
 * that no parameter caps and no price the router holds covers.
 */
export function asksSvg(body: Record<string, unknown>): boolean {
  return body.output_format === 'svg' || (body.svg !== undefined && body.svg !== null);
}

export interface ImageModel {
  /** Every name the request's model may reach a node under (router ids and nodes' own names). */
  names: string[];
  /** `models.<id>.imageOutputTokens`, if configured. */
  configured?: number | undefined;
}

/**
 * Tokens one image-generation request may bill on the dearest of `models`: its prompt plus,
 * per image (`n`, × GIF frames), the output bound and its partial images. 0 when no model
 * bills tokens; undefined when one does and its output has no bound (`gptImageTokens`).
 * The prompt's text by `rule` (`limits.promptTokens`; default its UTF-8 bytes).
 */
export function imageRequestTokens(body: Record<string, unknown>, models: ImageModel[], rule: PromptRule = 'bound'): number | undefined {
  const output = imageOutputTokens(body, models);
  return output === undefined || output === 0 ? output : textTokens(String(body.prompt ?? ''), rule) + output;
}

/** The output tokens alone: per image (`n`, × GIF frames), the bound and its partial images; 0 when no model bills tokens, undefined when one has no bound. */
export function imageOutputTokens(body: Record<string, unknown>, models: ImageModel[]): number | undefined {
  const partials = typeof body.partial_images === 'number' && body.partial_images > 0 ? Math.min(body.partial_images, 3) : 0;
  let perImage = 0;
  for (const m of models) {
    const tokens = m.configured ?? (isGptImage(m.names) ? gptImageTokens(body.size, body.quality) : 0);
    if (tokens === undefined) return undefined;
    perImage = Math.max(perImage, tokens);
  }
  const n = typeof body.n === 'number' && body.n > 0 ? body.n : 1;
  return perImage === 0 ? 0 : n * (framesPerImage(body) * perImage + partials * PARTIAL_IMAGE_TOKENS);
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
