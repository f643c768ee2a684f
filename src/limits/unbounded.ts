/**
 * Requests whose cost the router cannot bound before they run — pure. A key with a spend
 * budget is refused them (403 `cost_unbounded`, naming the parameter): per-request endpoints
 * on a model with no unit price for them, and hosted tools or rate modes billed beyond the
 * configured token rates (`perUseTool`). `reservation.ts` asks these while it sums the worst case.
 */
import { RouterError } from '../errors/router-error';
import { ENDPOINTS } from '../openai/endpoints';
import type { ParsedRequest } from '../openai/requests';
import { requestTools, toolType } from './body-input';

export function unbounded(model: string, request: ParsedRequest): RouterError {
  const need = { images: 'perImage', imageEdits: 'perImage', speech: 'perMillionChars', transcriptions: 'perMinute', translations: 'perMinute' }[request.endpoint as string] ?? 'perRequest';
  return new RouterError(
    403,
    `The cost of ${ENDPOINTS[request.endpoint].path.slice(1)} on model '${model}' cannot be bounded before it runs, and this key has a spend budget. ` +
      `An operator can price it per request (price.${need}).`,
    { type: 'permission_error', code: 'cost_unbounded' },
  );
}

/**
 * Hosted tools billed per use beside the tokens: Anthropic's server tools (web search $10 per
 * 1,000 searches; code execution per container-hour; the advisor tool, a stronger model's
 * rates on the whole transcript at each call) on `/v1/messages`, OpenAI's on
 * `/v1/responses` (web search per 1,000 calls, file search per 1,000 calls, code interpreter
 * per container, image generation per image; the shell tool in a hosted container, per
 * container by its memory — only `environment: {type: "local"}` runs on the caller's side;
 * programmatic tool calling, the model's JavaScript run in OpenAI's hosted runtime, for which
 * the router knows no price) and chat's `web_search_options` (search models,
 * per 1,000 calls). The router neither prices nor counts uses, so nothing bounds them. Web
 * fetch, MCP, computer use, tool search (OpenAI's `tool_search`, Anthropic's
 * `tool_search_tool_*`: they load tools the request defers, billed as input) and client tools
 * bill tokens only. Anthropic's programmatic tool calling runs in the code execution tool's
 * container: refused with it. Also OpenAI's `service_tier:
 * "priority"` (and `fast`, `ultrafast`, `scale`: any tier but `STANDARD_TIERS`), billed above the standard rates the configuration holds (flex bills below),
 * Claude's fast mode (`speed: "fast"`: 6× the standard rates, 12× past 200k input), Responses'
 * `reasoning.mode: "pro"` (pro execution, priced about 10× the standard rates) and
 * US-only inference (`inference_geo: "us"`: 1.1×), and
 * OpenRouter's `plugins` (web search per result, PDF parsing per page).
 */
const PER_USE_TOOL: Partial<Record<ParsedRequest['endpoint'], RegExp>> = {
  // The advisor tool runs a stronger model on the whole transcript at that model's rates, each call.
  messages: /^(web_search|code_execution|advisor)_/,
  responses: /^(web_search|file_search|code_interpreter|image_generation|programmatic_tool_calling)/,
};

/**
 * Service tiers billed at or below the standard rates the configuration holds: OpenAI's `auto`
 * (the project's default tier: its operator prices it), `default` and `flex` (below); Anthropic's
 * `auto` and `standard_only` — `auto` (Anthropic's default, sent or not) may be served at
 * Priority Tier, a capacity commitment billed by its contract and drawn down at the standard
 * relative rates, never a per-request surcharge: the operator prices such a node. OpenAI's `priority` and `fast` (the same tier: the answer says
 * `priority`) bill about 2×, `ultrafast` more, `scale` from Scale Tier units; an unknown tier is
 * no bound either.
 */
const STANDARD_TIERS: ReadonlySet<string> = new Set(['auto', 'default', 'flex', 'standard_only']);

/**
 * A Responses `reasoning.mode` other than `standard` (openai 7.x `Shared.Reasoning.mode`:
 * `"pro"`, or any mode a later model adds), read in any letter case (a Go node folds `MODE`).
 * OpenAI prices its pro models at about 10× the rates of the models they run on, and the mode
 * asks for that execution on whatever model is named: the configured rates bound nothing.
 */
function reasoningMode(body: Record<string, unknown>): string | undefined {
  const reasoning = body.reasoning;
  if (reasoning === null || typeof reasoning !== 'object') return undefined;
  for (const [name, value] of Object.entries(reasoning)) {
    if (name.toLowerCase() === 'mode' && value != null && value !== 'standard') return String(value);
  }
  return undefined;
}

export function perUseTool(request: ParsedRequest): string | undefined {
  if (request.endpoint === 'chat' && request.body.web_search_options != null) return 'web_search_options';
  // OpenRouter's plugins: web search ($4 per 1,000 results), PDF parsing by OCR (per page).
  if (Array.isArray(request.body.plugins) && request.body.plugins.length > 0) return 'plugins';
  // OpenAI's priority processing bills above the standard rates (about 2×) the configuration prices at; so do `fast` (priority
  // under another name), `ultrafast` and any tier but those that bill at or below them (`STANDARD_TIERS`).
  if (request.body.service_tier != null && !STANDARD_TIERS.has(String(request.body.service_tier))) return 'service_tier';
  // Claude's fast mode (`speed: "fast"`) bills 6× the standard rates (12× past 200k input): any speed but the standard one.
  if (request.endpoint === 'messages' && request.body.speed != null && request.body.speed !== 'standard') return 'speed';
  // Claude's US-only inference (`inference_geo: "us"`) bills 1.1× the standard rates (Opus 4.6, Sonnet 4.6 and later).
  if (request.endpoint === 'messages' && request.body.inference_geo != null && request.body.inference_geo !== 'global') return 'inference_geo';
  // Responses' reasoning execution mode (`reasoning.mode: "pro"`): more compute than the standard mode the configured rates price.
  if (request.endpoint === 'responses' && reasoningMode(request.body) !== undefined) return 'reasoning';
  // A stored prompt template (`prompt: {id}`) may carry hosted tools of its own, out of sight.
  if (request.endpoint === 'responses' && request.body.prompt != null) return 'prompt';
  // The body's tools, and on Responses those its input items give (`additional_tools`, `tool_search_output`).
  const tools = requestTools(request.body);
  if (request.endpoint === 'responses') {
    // The shell tool runs in a hosted container (billed per container, by its memory) unless its environment is the caller's own.
    const hosted = tools.find((t) => toolType(t) === 'shell' && toolType((t as { environment?: unknown }).environment) !== 'local');
    if (hosted !== undefined) return 'shell';
  }
  const pattern = PER_USE_TOOL[request.endpoint];
  if (!pattern) return undefined;
  const tool = tools.find((t) => pattern.test(toolType(t)));
  return tool === undefined ? undefined : String((tool as { type: unknown }).type);
}

/** Endpoints that take OpenAI's prompt-cache options (gpt-5.6 on). */
const CACHE_OPTION_ENDPOINTS: ReadonlySet<ParsedRequest['endpoint']> = new Set(['chat', 'responses', 'responsesCompact']);

/**
 * The prompt-cache lifetime a request asks beyond OpenAI's default (`30m`): the request's
 * `prompt_cache_options.ttl`, or a content block's `prompt_cache_breakpoint.ttl`, wherever in
 * the body (an input item's part, a stored item sent back) — `"12h"` on Responses, whose
 * writes usage reports apart (`cache_write_tokens_details.ttl_12h_tokens`) and OpenAI prices
 * apart. Names read in any letter case; every value visited once, without recursion (a deeply
 * nested body cannot exhaust the stack). Undefined when nothing asks for more than 30 minutes.
 */
export function cacheRetention(request: ParsedRequest): string | undefined {
  if (!CACHE_OPTION_ENDPOINTS.has(request.endpoint)) return undefined;
  const stack: unknown[] = [request.body];
  while (stack.length > 0) {
    const value = stack.pop();
    if (value === null || typeof value !== 'object') continue;
    if (Array.isArray(value)) {
      for (const item of value) if (item !== null && typeof item === 'object') stack.push(item);
      continue;
    }
    for (const [name, inner] of Object.entries(value)) {
      const key = name.toLowerCase();
      if ((key === 'prompt_cache_options' || key === 'prompt_cache_breakpoint') && inner !== null && typeof inner === 'object' && !Array.isArray(inner)) {
        for (const [field, ttl] of Object.entries(inner)) {
          if (field.toLowerCase() === 'ttl' && ttl != null && String(ttl).toLowerCase() !== '30m') return String(ttl);
        }
      }
      if (inner !== null && typeof inner === 'object') stack.push(inner);
    }
  }
  return undefined;
}

/** A longer prompt-cache lifetime than the model's price covers: `price.cacheWrite12h` prices `12h`, nothing prices another. */
export function cacheRetentionUnbounded(model: string, ttl: string): RouterError {
  const asked = ttl.length > 16 ? `${ttl.slice(0, 16)}…` : ttl;
  const fix = ttl.toLowerCase() === '12h' ? ', or ask an operator to set price.cacheWrite12h' : '';
  return new RouterError(
    403,
    `A prompt cache lifetime of '${asked}' writes the cache at a rate the router does not price on model '${model}', and this key has a spend budget. ` +
      `Use a key without one, the default lifetime (30m)${fix}.`,
    { type: 'permission_error', code: 'cost_unbounded', param: 'prompt_cache_options' },
  );
}

/** Parameters (not tools) `perUseTool` names: the error's `param` is the parameter itself. */
const RATE_PARAMS = ['web_search_options', 'prompt', 'service_tier', 'speed', 'inference_geo', 'plugins', 'reasoning'];

export function billedPerUse(model: string, tool: string, request: ParsedRequest): RouterError {
  return new RouterError(403, perUseMessage(model, tool, request), { type: 'permission_error', code: 'cost_unbounded', param: RATE_PARAMS.includes(tool) ? tool : 'tools' });
}

function perUseMessage(model: string, tool: string, request: ParsedRequest): string {
  const budget = 'and this key has a spend budget. Use a key without one';
  switch (tool) {
    case 'prompt':
      return `A stored prompt template may carry hosted tools billed per use on model '${model}', a cost the router cannot bound before the request runs, ${budget}, or send the prompt inline.`;
    case 'service_tier':
      return `service_tier '${String(request.body.service_tier)}' is billed above the rates the router prices model '${model}' at, ${budget}, or service_tier 'auto', 'default' or 'flex'.`;
    case 'speed':
      return `speed '${String(request.body.speed)}' (Claude's fast mode) is billed at several times the rates the router prices model '${model}' at, ${budget}, or the standard speed.`;
    case 'reasoning':
      return `reasoning mode '${reasoningMode(request.body)}' runs more compute than the rates the router prices model '${model}' at (OpenAI prices pro execution at about 10× the standard rates), ${budget}, or the standard mode.`;
    case 'inference_geo':
      return `inference_geo '${String(request.body.inference_geo)}' is billed above the rates the router prices model '${model}' at (US-only inference: 1.1×), ${budget}, or the global inference geo.`;
    default:
      return `The hosted tool '${tool}' is billed per use on model '${model}', a cost the router cannot bound before the request runs, ${budget}.`;
  }
}

/**
 * An image request whose output has no bound for a key (or node) with limits: SVG output
 * (`svg`: a second model's tokens, `svg_usage`), or a gpt-image quality or size the token
 * table has no figure for (`quality`). `limit` names what could not hold it.
 */
export function imageUnbounded(model: string, param: 'svg' | 'quality' | 'size' | 'image', limit: 'tpm' | 'budget'): RouterError {
  const what =
    param === 'svg'
      ? `SVG output is written by a second model, whose tokens (svg_usage) no parameter caps`
      : param === 'image'
        ? `Model '${model}' bills the images an edit sends as input tokens, by their size and input_fidelity, and the router has no figure for them`
        : `Model '${model}' has no output figure the router knows for this ${param}, so the image tokens it writes have no bound`;
  const held = limit === 'tpm' ? 'a token limit (tpm)' : 'a spend budget';
  const fix =
    param === 'svg'
      ? 'Use a key without one, or another output_format.'
      : param === 'image'
        ? 'Use a key without one, or ask an operator to set models.<id>.imageInputTokens.'
        : `Use a key without one, another ${param}, or ask an operator to set models.<id>.imageOutputTokens${limit === 'budget' ? ' or a perImage price for it' : ''}.`;
  return new RouterError(403, `${what}, and this key has ${held}. ${fix}`, { type: 'permission_error', code: limit === 'tpm' ? 'tokens_unbounded' : 'cost_unbounded', param });
}

/** What leaves an audio request billed in tokens without a bound (`audio-reservation.ts`). */
export type AudioParam = 'model' | 'file' | 'chunking_strategy' | 'known_speaker_references';

/**
 * An audio request on a model that bills it in tokens, with no bound for a key (or node)
 * with limits: the model has no figures (`models.<id>.audio`), the upload's format bounds no
 * length and the model no context window, or the audio is cut into chunks each read as a pass
 * of its own. `limit` names what could not hold it.
 */
export function audioUnbounded(model: string, param: AudioParam, limit: 'tpm' | 'budget', endpoint: ParsedRequest['endpoint']): RouterError {
  const what = {
    model:
      endpoint === 'speech'
        ? `Model '${model}' bills speech in tokens (its text in, the audio it speaks out), and the router has no figure for the audio tokens it may write`
        : `Model '${model}' bills audio in tokens (the audio heard and the text written), and the router has no figure to bound them`,
    file: `The file's format (neither a WAV nor an MP3 by its content) bounds no length by its size — lossless silence or Opus packs minutes into a few bytes — so the audio tokens model '${model}' bills have no bound without its context window`,
    chunking_strategy: `With chunking_strategy each chunk of the audio is a pass of its own on model '${model}', reading the prompt and writing up to its output again, as many times as the audio is cut`,
    known_speaker_references: `Speaker reference clips are audio model '${model}' bills in tokens, of a length their size does not bound, and the model has no context window the router knows`,
  }[param];
  const held = limit === 'tpm' ? 'a token limit (tpm)' : 'a spend budget';
  const fix = {
    model: `Use a key without one, or ask an operator to set models.<id>.audio (${endpoint === 'speech' ? 'maxOutputTokens' : 'inputTokensPerSecond and maxOutputTokens, or contextTokens'})${limit === 'budget' ? ` or a ${endpoint === 'speech' ? 'perMillionChars' : 'perMinute'} price` : ''}.`,
    file: 'Use a key without one, send a WAV or an MP3, or ask an operator to set models.<id>.contextTokens.',
    chunking_strategy: 'Use a key without one, or leave chunking_strategy out (the audio is then read as one block).',
    known_speaker_references: 'Use a key without one, or ask an operator to set models.<id>.contextTokens.',
  }[param];
  return new RouterError(403, `${what}, and this key has ${held}. ${fix}`, { type: 'permission_error', code: limit === 'tpm' ? 'tokens_unbounded' : 'cost_unbounded', param });
}
