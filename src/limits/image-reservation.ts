/**
 * The image side of a reservation — pure: what an image generation or edit holds against
 * `tpm` (the images written, bounded by `image-output.ts`; an edit's images read, by
 * `models.<id>.imageInputTokens`), and what a budget refuses of one (SVG output; a `perImage`
 * table with no entry for what is asked). `reservation.ts` adds them to the rest.
 */
import type { LoadedConfig } from '../config/load';
import type { ParsedRequest } from '../openai/requests';
import { perImageFits, type Price } from '../usage/cost';
import { EDIT_FILE_FIELDS } from '../openai/form-request';
import { asksSvg, gptImageTokens, imageRequestTokens, isGptImage } from './image-output';
import { imageUnbounded } from './unbounded';

/** The names each chain model reaches nodes under (its router id and every node's own name for it). */
export function modelNames(config: LoadedConfig, model: string): string[] {
  return [...new Set([model, ...config.nodes.flatMap((n) => (n.models.includes(model) && n.modelMap[model] ? [n.modelMap[model]!] : []))])];
}

/**
 * Tokens an image request may bill (`tpm`): the prompt and the images written
 * (`image-output.ts`), and an edit's images read; refused (`tokens_unbounded`) where either has no bound.
 */
export function imageReservedTokens(config: LoadedConfig, request: ParsedRequest, chain: string[]): number {
  if (asksSvg(request.body)) throw imageUnbounded(request.body.model as string, 'svg', 'tpm');
  const models = chain.map((m) => ({ names: modelNames(config, m), configured: config.models[m]?.imageOutputTokens }));
  const tokens = imageRequestTokens(request.body, models, config.limits.promptTokens);
  if (tokens === undefined) throw imageUnbounded(request.body.model as string, imageParam(request.body), 'tpm');
  const input = editInputTokens(config, request, chain);
  if (input === undefined) throw imageUnbounded(request.body.model as string, 'image', 'tpm');
  return tokens + input;
}

/**
 * The images an edit sends (each `image` and `image[]`, the `mask`, and GPT Image 2.5's
 * `markup`, a PNG overlaid on the first image to guide the edit): gpt-image models bill each
 * as image input tokens.
 */
function editImages(request: ParsedRequest): number {
  if (request.endpoint !== 'imageEdits' || request.kind !== 'multipart') return 0;
  const { form } = request;
  return EDIT_FILE_FIELDS.reduce((sum, name) => sum + form.getAll(name).length, 0);
}

/**
 * The input image tokens an edit may bill on the dearest of `models`: per image,
 * `models.<id>.imageInputTokens`; a gpt-image model without one has no bound the router
 * knows (the tokens grow with the image and `input_fidelity`): undefined. Other models (dall-e-2) bill none.
 */
export function editInputTokens(config: LoadedConfig, request: ParsedRequest, models: string[]): number | undefined {
  const images = editImages(request);
  if (images === 0) return 0;
  let perImage = 0;
  for (const m of models) {
    const tokens = config.models[m]?.imageInputTokens ?? (isGptImage(modelNames(config, m)) ? undefined : 0);
    if (tokens === undefined) return undefined;
    perImage = Math.max(perImage, tokens);
  }
  return images * perImage;
}

/** Which parameter leaves an image request's output without a bound (`gptImageTokens`). */
export function imageParam(body: Record<string, unknown>): 'quality' | 'size' {
  return gptImageTokens(undefined, body.quality) === undefined ? 'quality' : 'size';
}

/**
 * A budgeted image request: SVG output bills a second model's tokens (refused); a `perImage`
 * table with no entry for the size and quality asked (gpt-image-2's free sizes, the
 * gpt-image-2.5 qualities) bounds nothing — its dearest entry is not a bound on a dearer
 * image, so the request is refused rather than held at it.
 */
export function checkImagePrice(request: ParsedRequest, model: string, price: Price): void {
  if (asksSvg(request.body)) throw imageUnbounded(model, 'svg', 'budget');
  if (price.perImage === undefined || perImageFits(price.perImage, request.body.size, request.body.quality)) return;
  throw imageUnbounded(model, perImageFits(price.perImage, undefined, request.body.quality) ? 'size' : 'quality', 'budget');
}
