/**
 * Token usage as upstreams report it, read structurally: a JSON answer's top-level `usage`
 * member, a stream's terminal usage (`relay.ts`). Never by searching text, which a caller
 * can put anywhere in an answer (DESIGN "Settlement reads usage structurally"). No usage
 * found: the request settles at its reservation, which bounds what the upstream could write.
 */
import { spanValue, topLevelValue } from '../http/json-top';
import { lastTopLevelMember } from '../http/json-top-back';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** Prompt tokens the provider served from its cache (priced at `cachedInput`). */
  cached_tokens?: number;
  /** Prompt tokens the provider wrote to its cache (Anthropic; priced at `cacheWrite`). */
  cache_write_tokens?: number;
  /** Of those, the writes with a one-hour TTL (Anthropic; priced at `cacheWrite1h`). */
  cache_write_1h_tokens?: number;
  /** Of those, the writes with 12-hour retention (OpenAI's `cache_write_tokens_details.ttl_12h_tokens`; priced at `cacheWrite12h`). */
  cache_write_12h_tokens?: number;
  /** Prompt tokens that were audio (chat `input_audio`, gpt-4o-transcribe's upload; priced at `audioInput`). */
  audio_prompt_tokens?: number;
  /** Completion tokens that were audio (chat `modalities: ["audio"]`; priced at `audioOutput`). */
  audio_completion_tokens?: number;
  /** Prompt tokens that were images (gpt-image's `input_tokens_details.image_tokens`: an edit's images; priced at `imageInput`). */
  image_prompt_tokens?: number;
  /** Seconds of audio a transcription was billed for (whisper's `usage: {type: "duration", seconds}`; priced at `perMinute`). */
  audio_seconds?: number;
}

/** The `…_details` objects usage carries; `audio_tokens` in them is the audio share. */
type Details = { cached_tokens?: unknown; cache_write_tokens?: unknown; cache_write_tokens_details?: { ttl_12h_tokens?: unknown } | null; audio_tokens?: unknown; image_tokens?: unknown } | null;

interface ReportedUsage {
  prompt_tokens?: unknown;
  completion_tokens?: unknown;
  prompt_tokens_details?: Details;
  completion_tokens_details?: Details;
  total_tokens?: unknown;
  /** Responses API (and gpt-image-1) names. */
  input_tokens?: unknown;
  output_tokens?: unknown;
  input_tokens_details?: Details;
  output_tokens_details?: Details;
  /** gpt-4o-transcribe's spelling. */
  input_token_details?: Details;
  /** whisper-1: `{type: "duration", seconds}`, no tokens. */
  type?: unknown;
  seconds?: unknown;
}

/**
 * A figure usage may settle at: a finite number, not negative. A node's `-1000000` would hand
 * the key's window and budget back what no request freed (the lease's slice grows by it), and
 * `1e400` (JSON's Infinity) would hold them for the whole period: either is no usage at all,
 * and the request stays at its reservation.
 */
const count = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;

/** A share of `total` a details object reports (`cached_tokens`, `audio_tokens`), when positive; at most `total`. */
function share(value: unknown, total: number): number | undefined {
  return count(value) && value > 0 ? Math.min(value, total) : undefined;
}

/**
 * Reads usage from a parsed body or event, if it has a well-formed one: `usage` at the top
 * (chat, completions, embeddings, Responses JSON) or inside `response` (Responses stream
 * events such as `response.completed`). Both naming styles map to prompt/completion.
 *
 * Output is what `total_tokens` says beyond the prompt when that is more than the completion
 * reported: xAI leaves reasoning tokens out of `completion_tokens` and Google's
 * OpenAI-compatible Gemini its thinking tokens, while both count them in the total and bill
 * them as output; settling at the smaller figure would charge budgets and tpm less than the
 * upstream bills.
 */
export function usageOf(value: unknown): Usage | undefined {
  const holder = value as { usage?: ReportedUsage; response?: { usage?: ReportedUsage } } | null;
  const u = holder?.usage ?? holder?.response?.usage;
  if (!u) return undefined;
  // A transcription billed by duration: no tokens, its seconds (what `perMinute` prices).
  if (u.type === 'duration') return count(u.seconds) ? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, audio_seconds: u.seconds } : undefined;
  const prompt = u.prompt_tokens ?? u.input_tokens;
  const reported = u.completion_tokens ?? u.output_tokens ?? 0;
  if (!count(prompt) || !count(reported)) return undefined;
  const completion = count(u.total_tokens) && u.total_tokens - prompt > reported ? u.total_tokens - prompt : reported;
  const inputDetails = u.prompt_tokens_details ?? u.input_tokens_details ?? u.input_token_details;
  const cached = inputDetails?.cached_tokens;
  // Prompt tokens written to the cache (OpenAI's explicit cache breakpoints, gpt-5.6 on): priced at `cacheWrite`.
  const written = share(inputDetails?.cache_write_tokens, prompt);
  // Of those, the writes with 12-hour retention (`prompt_cache_options.ttl: "12h"`): priced at `cacheWrite12h`.
  const halfDay = written === undefined ? undefined : share(inputDetails?.cache_write_tokens_details?.ttl_12h_tokens, written);
  // Audio is billed at its own rates (gpt-4o-audio: 8× text output, 16× text input): its share is kept apart.
  const audioIn = share(inputDetails?.audio_tokens, prompt);
  const audioOut = share((u.completion_tokens_details ?? u.output_tokens_details)?.audio_tokens, completion);
  // Image input too (gpt-image: $10 per 1M against $5 for text on gpt-image-1): its share is kept apart.
  const imageIn = share(inputDetails?.image_tokens, prompt);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    ...(count(cached) && cached > 0 ? { cached_tokens: cached } : {}),
    ...(written !== undefined ? { cache_write_tokens: written } : {}),
    ...(halfDay !== undefined ? { cache_write_12h_tokens: halfDay } : {}),
    ...(audioIn !== undefined ? { audio_prompt_tokens: audioIn } : {}),
    ...(audioOut !== undefined ? { audio_completion_tokens: audioOut } : {}),
    ...(imageIn !== undefined ? { image_prompt_tokens: imageIn } : {}),
  };
}

/**
 * Usage of a JSON answer: its own top-level `usage` member, found by a structural scan that
 * skips every other value unparsed — backward from the answer's end, where usage sits
 * (`http/json-top-back.ts`), or forward from its start when the text is not shaped as that
 * walk expects (`http/json-top.ts`). Text elsewhere — caller `metadata` echoed after `usage`
 * as OpenAI's Responses object does, model output quoting usage — is never read as usage.
 */
export function usageFromJson(bytes: Uint8Array): Usage | undefined {
  const span = lastTopLevelMember(bytes, 'usage');
  return usageOfReported(span === null ? topLevelValue(bytes, 'usage') : spanValue(bytes, span));
}

/** A reported usage object (either naming style) as `Usage`; undefined unless well-formed. */
export function usageOfReported(reported: unknown): Usage | undefined {
  if (reported === null || typeof reported !== 'object' || Array.isArray(reported)) return undefined;
  return usageOf({ usage: reported });
}

/** Two reported usages as one (each figure summed; an optional one kept when either has it). */
export function addUsage(a: Usage, b: Usage): Usage {
  const sum: Usage = { prompt_tokens: a.prompt_tokens + b.prompt_tokens, completion_tokens: a.completion_tokens + b.completion_tokens, total_tokens: a.total_tokens + b.total_tokens };
  for (const k of ['cached_tokens', 'cache_write_tokens', 'cache_write_1h_tokens', 'cache_write_12h_tokens', 'audio_prompt_tokens', 'audio_completion_tokens', 'image_prompt_tokens', 'audio_seconds'] as const) {
    if (a[k] !== undefined || b[k] !== undefined) sum[k] = (a[k] ?? 0) + (b[k] ?? 0);
  }
  return sum;
}
