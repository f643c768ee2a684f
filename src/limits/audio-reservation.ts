/**
 * The audio side of a reservation — pure: what a transcription, translation or speech request
 * holds against `tpm` and a budget on a model that bills it in tokens (gpt-4o-transcribe: the
 * upload's audio tokens and the prompt's text in, the transcript out; gpt-4o-mini-tts: text in,
 * audio tokens out). The bound comes from what the router knows before the call:
 * - the audio an upload can hold: the seconds its size allows at its format's lowest rate (a
 *   WAV's header rate, MP3's 8 kbit/s: `audio-rate.ts`) × `models.<id>.audio.inputTokensPerSecond`;
 *   a format no rate bounds (FLAC, Ogg, WebM, M4A) none;
 * - the form's text (`prompt`, `keywords[]`, every text field), counted by `limits.promptTokens`;
 * - the output: `audio.maxOutputTokens`;
 * - for an upload sent as one block (no `chunking_strategy`), the model's context window
 *   (`contextTokens`, configured), which input and output share: it bounds all of them together.
 * Chunked (`chunking_strategy`), each chunk is a pass of its own — the prompt read and the
 * output written again, as many times as the node cuts the audio — so nothing bounds it.
 * Whisper (seconds) and tts-1 (characters) bill no tokens: nothing held. `reservation.ts` adds this to the rest.
 */
import type { LoadedConfig } from '../config/load';
import type { Endpoint } from '../openai/endpoints';
import type { ParsedRequest } from '../openai/requests';
import { ratesFor, type Price } from '../usage/cost';
import { textTokens } from './text-tokens';
import { audioUnbounded, type AudioParam } from './unbounded';

/** Names of models that bill no tokens: whisper (the seconds heard), tts-1 and tts-1-hd (the characters spoken). */
const NO_TOKENS = /whisper|^tts-1(-|$)/i;

/** Endpoints whose requests are audio: speech, transcriptions, translations. */
export const isAudio = (endpoint: Endpoint): endpoint is 'speech' | 'transcriptions' | 'translations' =>
  endpoint === 'speech' || endpoint === 'transcriptions' || endpoint === 'translations';

/** Whether `model` bills audio requests in tokens: `audio.tokens`, else unless every name it reaches nodes under is whisper's or tts-1's. */
export function billsAudioTokens(config: LoadedConfig, model: string): boolean {
  const set = config.models[model]?.audio?.tokens;
  if (set !== undefined) return set;
  const names = config.nodes.flatMap((n) => (n.models.includes(model) ? [n.modelMap[model] ?? model] : []));
  return !names.every((name) => NO_TOKENS.test(name));
}

/** What one audio request may bill on a model: input and output tokens, each at most, and both together at most `total`. */
export interface AudioBound {
  input: number;
  output: number;
  total: number;
}

/** Form fields that carry no text the model reads. */
const NOT_PROMPT = new Set(['model', 'stream', 'response_format', 'temperature', 'chunking_strategy', 'include[]', 'timestamp_granularities[]']);

/** The text a transcription's form sends: `prompt` and any other text field (`keywords[]`, `known_speaker_names[]`, …), counted by `rule`. */
function formText(form: FormData, rule: LoadedConfig['limits']['promptTokens']): number {
  let tokens = 0;
  for (const [name, value] of form) if (typeof value === 'string' && !NOT_PROMPT.has(name)) tokens += textTokens(value, rule);
  return tokens;
}

/** The bound of one audio request on `model` (billing tokens), or the parameter that leaves it without one. */
export function audioBound(config: LoadedConfig, request: ParsedRequest, model: string): AudioBound | AudioParam {
  const figures = config.models[model]?.audio ?? {};
  const output = figures.maxOutputTokens ?? Infinity;
  const rule = config.limits.promptTokens;
  if (request.endpoint === 'speech') {
    // `instructions` is read as input too; one that is not a string (a lax node may read it as its JSON) counts as its JSON.
    const { instructions } = request.body;
    const text = textTokens(String(request.body.input ?? ''), rule) + (instructions == null ? 0 : textTokens(typeof instructions === 'string' ? instructions : JSON.stringify(instructions), rule));
    return Number.isFinite(output) ? { input: text, output, total: text + output } : 'model';
  }
  if (request.kind !== 'multipart') return 'model';
  const { form } = request;
  if (form.has('chunking_strategy')) return 'chunking_strategy';
  // Reference clips of the speakers (data URLs) are audio too, of a length their size does not bound.
  const references = form.has('known_speaker_references[]') || form.has('known_speaker_references');
  const file = form.get('file');
  const bytes = typeof file === 'object' && file !== null ? file.size : request.raw.byteLength;
  const perSecond = figures.inputTokensPerSecond;
  const audio = perSecond !== undefined && request.uploadRate !== undefined && !references ? Math.ceil(Math.ceil(bytes / request.uploadRate) * perSecond) : Infinity;
  const text = formText(form, rule);
  const context = config.models[model]?.contextTokens ?? Infinity;
  const total = Math.min(text + audio + output, context);
  if (Number.isFinite(total)) return { input: Math.min(text + audio, total), output: Math.min(output, total), total };
  if (!Number.isFinite(output) || perSecond === undefined) return 'model';
  return references ? 'known_speaker_references' : 'file';
}

/** Tokens an audio request may bill over `chain` (`tpm`): the most of its models; refused (`tokens_unbounded`) where one has no bound. */
export function audioReservedTokens(config: LoadedConfig, request: ParsedRequest, chain: string[]): number {
  let most = 0;
  for (const model of chain) {
    if (!billsAudioTokens(config, model)) continue;
    const bound = audioBound(config, request, model);
    if (typeof bound === 'string') throw audioUnbounded(model, bound, 'tpm', request.endpoint);
    most = Math.max(most, bound.total);
  }
  return most;
}

/**
 * The most an audio request on `model` may cost at token rates, USD: of its bound, as much as
 * may be billed at the dearer side (output or input, the audio rate among the input rates)
 * first, the rest at the other. Undefined when the model bills no tokens; refused
 * (`cost_unbounded`) without a bound.
 */
export function audioWorstUsd(config: LoadedConfig, request: ParsedRequest, model: string, price: Price): number | undefined {
  if (!billsAudioTokens(config, model)) return undefined;
  const bound = audioBound(config, request, model);
  if (typeof bound === 'string') throw audioUnbounded(model, bound, 'budget', request.endpoint);
  const at = (rates: Price) => {
    const input = Math.max(rates.input ?? 0, rates.cachedInput ?? 0, rates.audioInput ?? 0);
    const output = Math.max(rates.output ?? 0, rates.audioOutput ?? 0);
    const usd = output >= input ? bound.output * output + (bound.total - bound.output) * input : bound.input * input + (bound.total - bound.input) * output;
    return usd / 1e6;
  };
  return Math.max(at(price), at(ratesFor(price, bound.input)));
}
