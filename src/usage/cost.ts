/**
 * What a settled request cost, in USD, from the answering node's price for the answering
 * model (`nodes[].prices`, else `models.<id>.price`), pure:
 *
 * - endpoints charged per request (images, speech, transcriptions) at their unit price when
 *   the price names one — `perImage` × images, `perMillionChars` × characters of speech,
 *   `perMinute` × minutes of audio (the seconds the answer says it billed, whisper's
 *   `usage: {type: "duration", seconds}`; else the bound the upload's size gives: the router
 *   does not decode audio) — whatever token usage the upstream reports;
 * - otherwise from the reported usage at the token rates (audio tokens — `prompt_tokens_details`
 *   and `completion_tokens_details.audio_tokens` — at `audioInput`/`audioOutput`, cache writes at
 *   `cacheWrite` — Anthropic's one-hour ones at `cacheWrite1h`, OpenAI's 12-hour ones at `cacheWrite12h` —, image prompt tokens —
 *   `input_tokens_details.image_tokens`, gpt-image — at `imageInput`, default the text rates);
 * - plus `perRequest`, if set, on every request the model answers.
 *
 * Nothing priced, or (token pricing) no usage reported: `null` — a cost is never guessed.
 */
import type { RouterConfig } from '../config/schema';
import type { Usage } from '../forward/usage';

export type Price = NonNullable<RouterConfig['models'][string]['price']>;

/** What a request asks for that is priced per unit (`requestUnits` in `limits/reservation.ts`). */
export interface RequestUnits {
  /** Image generations: how many images, and the size and quality asked for (absent: any). */
  images?: { n: number; size?: string | undefined; quality?: string | undefined };
  /** Speech: characters of input. */
  characters?: number;
  /** Transcriptions/translations: minutes of audio the upload can hold at most. */
  audioMinutes?: number;
}

export function priceFor(config: RouterConfig, model: string, nodeId: string): Price | undefined {
  const node = config.nodes.find((n) => n.id === nodeId);
  return node?.prices[model] ?? config.models[model]?.price;
}

const SIZE = /^(\d+x\d+|auto)$/;

/**
 * USD for one image: the dearest entry consistent with the request — an entry's parts
 * (`quality/size`, `size`, `quality`) must each equal what the request asked, or name what
 * the request left to the upstream — absent, or `auto`, which leaves the choice to the node
 * as much as leaving it out does. No consistent entry: the dearest of all.
 */
export function perImageUsd(perImage: NonNullable<Price['perImage']>, asked?: string, askedQuality?: string): number {
  if (typeof perImage === 'number') return perImage;
  const entries = Object.entries(perImage);
  const matching = entries.filter(([key]) => entryFits(key, asked, askedQuality));
  return Math.max(...(matching.length > 0 ? matching : entries).map(([, usd]) => usd));
}

function entryFits(key: string, asked: unknown, askedQuality: unknown): boolean {
  const size = asked === 'auto' || asked === null ? undefined : asked;
  const quality = askedQuality === 'auto' || askedQuality === null ? undefined : askedQuality;
  return key.split('/').every((part) => (SIZE.test(part) ? size === undefined || size === part : quality === undefined || quality === part));
}

/** Whether a `perImage` price has an entry consistent with the size and quality asked (a flat price fits all). */
export function perImageFits(perImage: NonNullable<Price['perImage']>, asked: unknown, askedQuality: unknown): boolean {
  return typeof perImage === 'number' || Object.keys(perImage).some((key) => entryFits(key, asked, askedQuality));
}

/** The per-unit part of a request's cost; undefined when the price names no unit rate for it. */
export function unitCostUsd(price: Price, units: RequestUnits | undefined): number | undefined {
  if (units?.images && price.perImage !== undefined) return units.images.n * perImageUsd(price.perImage, units.images.size, units.images.quality);
  if (units?.characters !== undefined && price.perMillionChars !== undefined) return (units.characters * price.perMillionChars) / 1e6;
  if (units?.audioMinutes !== undefined && price.perMinute !== undefined) return units.audioMinutes * price.perMinute;
  return undefined;
}

/**
 * USD per 1M prompt tokens written to the cache with a one-hour TTL: `cacheWrite1h`, else
 * Anthropic's rate for them, 2× `input` (never below `cacheWrite`). Only Anthropic's usage
 * (Anthropic, Bedrock InvokeModel, Vertex) reports such writes.
 */
export function cacheWrite1hRate(price: Price): number {
  return price.cacheWrite1h ?? Math.max(2 * (price.input ?? 0), price.cacheWrite ?? 0);
}

/**
 * The token rates for a prompt of `promptTokens` (every input token, cache reads and writes
 * included): past `longContext.above`, the long-context rates (each it leaves out, the base one).
 */
export function ratesFor(price: Price, promptTokens: number): Price {
  const long = price.longContext;
  if (!long || promptTokens <= long.above) return price;
  // A cache rate the long-context rates leave out moves with the input rate (Anthropic and Google double them all).
  const scale = price.input ? long.input / price.input : 1;
  const scaled = (own: number | undefined, base: number | undefined) => own ?? (base === undefined ? undefined : base * scale);
  return {
    ...price,
    input: long.input,
    output: long.output,
    cachedInput: scaled(long.cachedInput, price.cachedInput),
    cacheWrite: scaled(long.cacheWrite, price.cacheWrite),
    cacheWrite1h: scaled(long.cacheWrite1h, price.cacheWrite1h),
    cacheWrite12h: scaled(long.cacheWrite12h, price.cacheWrite12h),
  };
}

/** Reported usage at the token rates; undefined without usage or token rates. */
function tokenCostUsd(base: Price, usage: Usage | undefined): number | undefined {
  if (!usage || base.input === undefined || base.output === undefined) return undefined;
  const price = ratesFor(base, usage.prompt_tokens);
  const input = price.input ?? base.input;
  const cached = Math.min(usage.cached_tokens ?? 0, usage.prompt_tokens);
  const written = Math.min(usage.cache_write_tokens ?? 0, usage.prompt_tokens - cached);
  const writtenHour = Math.min(usage.cache_write_1h_tokens ?? 0, written);
  const writtenHalfDay = Math.min(usage.cache_write_12h_tokens ?? 0, written - writtenHour);
  // Audio tokens at the audio rates (of the uncached prompt; the completion's share as reported), image prompt tokens at `imageInput`.
  const audioIn = Math.min(usage.audio_prompt_tokens ?? 0, usage.prompt_tokens - cached - written);
  const imageIn = Math.min(usage.image_prompt_tokens ?? 0, usage.prompt_tokens - cached - written - audioIn);
  const audioOut = Math.min(usage.audio_completion_tokens ?? 0, usage.completion_tokens);
  return (
    ((usage.prompt_tokens - cached - written - audioIn - imageIn) * input +
      audioIn * (price.audioInput ?? input) +
      imageIn * (price.imageInput ?? input) +
      cached * (price.cachedInput ?? input) +
      (written - writtenHour - writtenHalfDay) * (price.cacheWrite ?? input) +
      writtenHour * cacheWrite1hRate(price) +
      writtenHalfDay * (price.cacheWrite12h ?? price.cacheWrite ?? input) +
      (usage.completion_tokens - audioOut) * (price.output ?? base.output) +
      audioOut * (price.audioOutput ?? price.output ?? base.output)) /
    1e6
  );
}

export function costOf(config: RouterConfig, model: string, nodeId: string, usage: Usage | undefined, units?: RequestUnits): number | null {
  const price = priceFor(config, model, nodeId);
  if (!price) return null;
  // A transcription billed for the seconds it reports: those, not the minutes its upload's size allows.
  const seconds = usage?.audio_seconds;
  const counted = seconds !== undefined && units?.audioMinutes !== undefined ? { ...units, audioMinutes: seconds / 60 } : units;
  let variable = unitCostUsd(price, counted) ?? tokenCostUsd(price, seconds === undefined ? usage : undefined);
  if (variable === undefined) {
    // Token-priced without usage: unknown (the budget holds it at its worst case). Only a flat price: that.
    if (price.input !== undefined || price.perRequest === undefined) return null;
    variable = 0;
  }
  const usd = variable + (price.perRequest ?? 0);
  return Math.round(usd * 1e9) / 1e9; // to the nano-dollar: sums stay exact enough, float noise goes
}
