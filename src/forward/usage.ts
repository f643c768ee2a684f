/**
 * Token usage as upstreams report it: from a parsed object, and from a JSON answer's bytes
 * without parsing (or even decoding) all of them. OpenAI-style answers put `usage` at the
 * end, so the tail is searched first; a body whose usage is elsewhere is parsed whole only
 * while it is small (`FULL_PARSE_MAX`). No usage found: the request settles at its
 * reservation, which bounds what the upstream could write.
 */

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** Prompt tokens the provider served from its cache (priced at `cachedInput`). */
  cached_tokens?: number;
  /** Prompt tokens the provider wrote to its cache (Anthropic; priced at `cacheWrite`). */
  cache_write_tokens?: number;
}

const TAIL_BYTES = 8 * 1024;
const FULL_PARSE_MAX = 1024 * 1024;
const decoder = new TextDecoder();

interface ReportedUsage {
  prompt_tokens?: unknown;
  completion_tokens?: unknown;
  prompt_tokens_details?: { cached_tokens?: unknown } | null;
  /** Responses API (and gpt-image-1) names. */
  input_tokens?: unknown;
  output_tokens?: unknown;
  input_tokens_details?: { cached_tokens?: unknown } | null;
}

/**
 * Reads usage from a parsed body or event, if it has a well-formed one: `usage` at the top
 * (chat, completions, embeddings, Responses JSON) or inside `response` (Responses stream
 * events such as `response.completed`). Both naming styles map to prompt/completion.
 */
export function usageOf(value: unknown): Usage | undefined {
  const holder = value as { usage?: ReportedUsage; response?: { usage?: ReportedUsage } } | null;
  const u = holder?.usage ?? holder?.response?.usage;
  if (!u) return undefined;
  const prompt = u.prompt_tokens ?? u.input_tokens;
  const completion = u.completion_tokens ?? u.output_tokens ?? 0;
  if (typeof prompt !== 'number' || typeof completion !== 'number') return undefined;
  const cached = (u.prompt_tokens_details ?? u.input_tokens_details)?.cached_tokens;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, ...(typeof cached === 'number' && cached > 0 ? { cached_tokens: cached } : {}) };
}

/** The balanced `{…}` starting at `start`, strings respected; undefined if it does not close. */
function objectAt(text: string, start: number): string | undefined {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return text.slice(start, i + 1);
  }
  return undefined;
}

export function usageFromJson(bytes: Uint8Array): Usage | undefined {
  const tail = decoder.decode(bytes.subarray(Math.max(0, bytes.byteLength - TAIL_BYTES)));
  const at = tail.lastIndexOf('"usage"');
  if (at >= 0) {
    const open = tail.indexOf('{', at);
    const object = open >= 0 ? objectAt(tail, open) : undefined;
    if (object) {
      try {
        return usageOf({ usage: JSON.parse(object) });
      } catch {
        // fall through to the whole body
      }
    }
  }
  if (bytes.byteLength > FULL_PARSE_MAX) return undefined;
  try {
    return usageOf(JSON.parse(decoder.decode(bytes)));
  } catch {
    return undefined;
  }
}
