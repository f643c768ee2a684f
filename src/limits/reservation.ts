/**
 * What a request reserves before it is sent — pure. The invariant (DESIGN.md): tokens
 * reserved ≥ the most any upstream can bill for the request, and spend reserved ≥ its
 * worst-case cost, for every endpoint.
 *
 * Tokens: the prompt estimate (`estimate.ts`, text by `limits.promptTokens` — its UTF-8 bytes
 * by default, a bound no tokenizer exceeds —, images at the dearest rate of the models the
 * request may reach; input the body names but does not hold — files, stored conversations,
 * hosted tools — the largest context window of those models; on chat-style endpoints what a
 * node that may serve it renders around the body: its chat template's `promptOverheadTokens`,
 * with tools its `toolOverheadTokens` and Claude's tool-use system prompt,
 * `TOOL_USE_SYSTEM_TOKENS`; with a Messages JSON output format, Claude's prompt explaining it,
 * `OUTPUT_FORMAT_SYSTEM_TOKENS`; twice over with server-side compaction (Messages, Responses:
 * `compactionPasses`), whose first pass reads the whole conversation before the answer reads what is left) plus the output the upstream may bill:
 * - chat: (cap + `prediction`) × max(`n`, `best_of`) — rejected predicted tokens are billed
 *   as output; `best_of` is no OpenAI chat parameter, but vLLM-style nodes honour it;
 * - legacy completions: every prompt of a `prompt` array is its own completion, each
 *   generating `best_of` (≥ `n`) choices of up to cap tokens, and `echo` bills the prompt
 *   again in each: prompt + prompts × max(n, best_of) × cap (+ prompt × max(n, best_of));
 * - Responses: cap (× `n`, which OpenAI does not take but an upstream might honour);
 * - embeddings: nothing but the prompt.
 * Endpoints charged by request alone (`ENDPOINTS[…].charge`) reserve no tokens, except image
 * generations on models that bill the images as tokens (gpt-image: `image-output.ts`) and audio
 * on models that bill it in tokens (gpt-4o-transcribe, gpt-4o-mini-tts: `audio-reservation.ts`). The cap is the
 * caller's or, when the caller set none, the largest `defaultMaxTokens` of the chain, which
 * every attempt also sends upstream (`forward/attempt-body.ts`).
 *
 * Spend (keys with budgets): per model of the allowed chain and node serving it, the prompt
 * at the dearest input rate and that output at the output rate; per-request-priced endpoints
 * at their unit price (`usage/cost.ts`). A priced model whose cost for the endpoint has no
 * unit price cannot be bounded: budgeted keys are refused it (403 `cost_unbounded`).
 */
import type { LoadedConfig } from '../config/load';
import { callerCap, defaultCap } from '../forward/attempt-body';
import { drawsImages, ENDPOINTS, readsResponses } from '../openai/endpoints';
import type { ParsedRequest } from '../openai/requests';
import { cacheWrite1hRate, priceFor, ratesFor, unitCostUsd, type Price, type RequestUnits } from '../usage/cost';
import { estimatePrompt, outputFormat, promptCount, responsesPrompt, textTokens } from './estimate';
import { framesPerImage, imageOutputTokens } from './image-output';
import { checkImagePrice, editInputTokens, imageParam, imageReservedTokens, modelNames } from './image-reservation';
import { imageRuleFor, type ImageRule } from './image-rules';
import { imageSize } from './image-size';
import { requestTools } from './body-input';
import { audioReservedTokens, audioWorstUsd, isAudio } from './audio-reservation';
import { billedPerUse, cacheRetention, cacheRetentionUnbounded, imageUnbounded, perUseTool, unbounded } from './unbounded';

/**
 * Anthropic's tool-use system prompt: with `tools` non-empty, Claude bills this prompt as
 * input beside the tools' own text, whatever the caller's format (Messages, or chat
 * translated to Messages or Converse). The most of Anthropic's table ("Tool use system
 * prompt token count": 346 for Claude 4 and 3.7 with `auto`/`none`, 530 for Claude 3 Opus):
 * not in the body, so the text bound alone misses it (a tiny tool reserves ~45 and bills ~390).
 */
export const TOOL_USE_SYSTEM_TOKENS = 530;

/**
 * The system prompt Claude adds around a JSON output format (`output_config.format`, the
 * beta's `output_format`) to explain it, beside the schema's own text. Anthropic publishes no
 * figure for it: reserved at the tool-use prompt's, whose constrained sampling it shares
 * (strict tools). Not in the body, so the text bound alone misses it.
 */
export const OUTPUT_FORMAT_SYSTEM_TOKENS = TOOL_USE_SYSTEM_TOKENS;

/** Providers whose nodes serve Claude behind Anthropic's prompt rendering (Vertex also serves Gemini: reserved the same). */
const CLAUDE_PROVIDERS: ReadonlySet<string> = new Set(['anthropic', 'bedrock', 'vertex']);

/** Endpoints whose prompt a node renders through its chat template. */
const CHAT_STYLE: ReadonlySet<ParsedRequest['endpoint']> = new Set(['chat', 'responses', 'responsesCompact', 'messages']);

/** What the reservation needs to know of a chain's models and the nodes that serve them. */
interface ChainFacts {
  /** Image rates, by router id and by every node's name for each model. */
  imageRules: ImageRule[];
  /** Prompt tokens a node of the chain may add beside the body: the most over those nodes, without and with `tools`. */
  overhead: number;
  toolOverhead: number;
  /** A node of the chain serves Claude behind Anthropic's prompt rendering. */
  claude: boolean;
}

const factsOf = new WeakMap<LoadedConfig, Map<string, ChainFacts>>();

/**
 * Worked out once per configuration and chain: matching the names against every image rule
 * was ~1.6% of a limited key's CPU per request when done each time, and the nodes are walked here too.
 */
function chainFacts(config: LoadedConfig, chain: string[]): ChainFacts {
  let byChain = factsOf.get(config);
  if (!byChain) factsOf.set(config, (byChain = new Map()));
  const id = chain.join('\u0000');
  let facts = byChain.get(id);
  if (!facts) {
    const imageRules = chain.flatMap((model) => {
      const configured = config.models[model]?.imageTokens;
      return modelNames(config, model).map((name) => imageRuleFor(name, configured));
    });
    // Per node, then the most: a node's template (`promptOverheadTokens`, `toolOverheadTokens`) and Claude's tool-use prompt.
    let overhead = 0;
    let toolOverhead = 0;
    let claudeNode = false;
    for (const node of config.nodes) {
      if (!chain.some((m) => node.models.includes(m))) continue;
      overhead = Math.max(overhead, node.promptOverheadTokens);
      const claude = CLAUDE_PROVIDERS.has(node.provider);
      claudeNode ||= claude;
      toolOverhead = Math.max(toolOverhead, node.promptOverheadTokens + node.toolOverheadTokens + (claude ? TOOL_USE_SYSTEM_TOKENS : 0));
    }
    facts = { imageRules, overhead, toolOverhead, claude: claudeNode };
    // Chains are few (the models and their fallbacks, filtered by what keys may use): bounded all the same.
    if (byChain.size >= 256) byChain.clear();
    byChain.set(id, facts);
  }
  return facts;
}

/** The prompt estimate both figures below start from (0 for endpoints charged by request alone). */
export function promptTokens(request: ParsedRequest, config: LoadedConfig, chain: string[]): number {
  if (ENDPOINTS[request.endpoint].charge === 'requests') return 0;
  const facts = chainFacts(config, chain);
  const rules = facts.imageRules;
  const text = config.limits.promptTokens;
  const body = readsResponses(request.endpoint) ? responsesPrompt(request.body) : request.body;
  const estimate = estimatePrompt(body, imageSize, rules, text);
  // Messages carry the system prompt beside `messages`: estimated as one more message.
  const system = request.endpoint === 'messages' ? request.body.system : undefined;
  if (system !== undefined) estimate.tokens += estimatePrompt({ messages: [{ role: 'system', content: system }] }, imageSize, rules, text).tokens;
  // What the node renders around the body (chat template, Claude's tool-use prompt): chat-style endpoints only.
  if (CHAT_STYLE.has(request.endpoint)) estimate.tokens += requestTools(request.body).length > 0 ? facts.toolOverhead : facts.overhead;
  // Claude explains a JSON output format in a system prompt of its own (only Messages carries one to Claude as it is).
  if (request.endpoint === 'messages' && facts.claude && outputFormat(request.body) !== undefined) estimate.tokens += OUTPUT_FORMAT_SYSTEM_TOKENS;
  // Server-side compaction: a first pass reads the whole conversation (and writes a summary), then the answer reads what is left.
  estimate.tokens *= compactionPasses(request);
  if (!estimate.unbounded) return estimate.tokens;
  const context = Math.max(0, ...chain.map((m) => config.models[m]?.contextTokens ?? config.limits.defaultContextTokens));
  return Math.max(estimate.tokens, context);
}

/**
 * How many times the upstream reads the prompt: twice with server-side compaction, whose first
 * pass reads the whole conversation and writes a summary before the answer reads what is left —
 * on Messages a `compact_…` edit in `context_management`; on Responses a `compaction` entry in
 * `context_management` (run once the context passes its `compact_threshold`, which the router
 * does not compare: held whenever asked) or a `compaction_trigger` input item. Responses' stored
 * context (`previous_response_id`) is read twice as well (`app.ts`).
 */
export function compactionPasses(request: ParsedRequest): 1 | 2 {
  const { body } = request;
  const type = (e: unknown) => String((e as { type?: unknown } | null)?.type);
  if (request.endpoint === 'messages') {
    const edits = (body.context_management as { edits?: unknown } | null | undefined)?.edits;
    return Array.isArray(edits) && edits.some((e) => /^compact_/.test(type(e))) ? 2 : 1;
  }
  if (request.endpoint !== 'responses') return 1;
  const entries = Array.isArray(body.context_management) ? body.context_management : [];
  const trigger = Array.isArray(body.input) && body.input.some((item) => type(item) === 'compaction_trigger');
  return trigger || entries.some((e) => type(e) === 'compaction') ? 2 : 1;
}

const count = (value: unknown) => (typeof value === 'number' && value > 0 ? value : 1);

/** Output tokens one attempt on `model` may bill (see the module header), the prompt's echo included. */
function outputTokens(config: LoadedConfig, request: ParsedRequest, model: string | undefined, chain: string[], prompt: number): number {
  const cap = callerCap(request) ?? (model !== undefined ? (defaultCap(config, request, model) ?? 0) : Math.max(0, ...chain.map((m) => defaultCap(config, request, m) ?? 0)));
  const { body } = request;
  if (request.endpoint === 'chat') {
    const prediction = body.prediction ? estimatePrompt({ input: [body.prediction] }, imageSize, undefined, config.limits.promptTokens).tokens : 0;
    return (cap + prediction) * Math.max(count(body.n), count(body.best_of));
  }
  if (request.endpoint === 'completions') {
    const choices = Math.max(count(body.n), count(body.best_of));
    return promptCount(body.prompt) * choices * cap + (body.echo === true ? prompt * choices : 0);
  }
  if (request.endpoint === 'responsesCompact') return compactionOutput(config, model === undefined ? chain : [model], prompt);
  return request.endpoint === 'responses' ? cap * count(body.n) : cap;
}

/**
 * A compaction pass (`/v1/responses/compact`) takes no output cap: its reasoning and summary are
 * bounded only by the context window, which holds the prompt and the output together — so the
 * output it may bill is the largest window of `models` less the prompt (at least 0).
 */
function compactionOutput(config: LoadedConfig, models: string[], prompt: number): number {
  const context = Math.max(0, ...models.map((m) => config.models[m]?.contextTokens ?? config.limits.defaultContextTokens));
  return Math.max(0, context - prompt);
}

export function reservedTokens(config: LoadedConfig, request: ParsedRequest, chain: string[], prompt: number): number {
  // Charged per request, but gpt-image models bill tokens for the images they write (and an edit's images they read).
  if (drawsImages(request.endpoint)) return imageReservedTokens(config, request, chain);
  // So do audio models that bill tokens (gpt-4o-transcribe, gpt-4o-mini-tts): `audio-reservation.ts`.
  if (isAudio(request.endpoint)) return audioReservedTokens(config, request, chain);
  if (ENDPOINTS[request.endpoint].charge === 'requests') return 0;
  return prompt + outputTokens(config, request, undefined, chain, prompt);
}

/** Seconds of audio per byte at the lowest bitrate OpenAI's audio formats carry speech in (6 kbit/s Opus). */
const AUDIO_BYTES_PER_SECOND = 750;

/** What a per-request-priced request asks for (images, speech characters, audio minutes). */
export function requestUnits(request: ParsedRequest): RequestUnits | undefined {
  const { body } = request;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  switch (request.endpoint) {
    case 'images':
    case 'imageEdits':
      // A GIF bills each of its frames as an image (`image-output.ts`).
      return { images: { n: count(body.n) * framesPerImage(body), size: str(body.size), quality: str(body.quality) } };
    case 'speech':
      // gpt-4o-mini-tts reads `instructions` as input too, billed beside the text it speaks.
      return { characters: [...String(body.input)].length + (typeof body.instructions === 'string' ? [...body.instructions].length : 0) };
    case 'transcriptions':
    case 'translations': {
      const file = request.kind === 'multipart' ? request.form.get('file') : null;
      const bytes = typeof file === 'object' && file !== null ? file.size : request.raw.byteLength;
      return { audioMinutes: Math.ceil(bytes / AUDIO_BYTES_PER_SECOND) / 60 };
    }
    default:
      return undefined;
  }
}

/**
 * Requests whose hold is not a true bound on what the upstream bills: audio uploads priced per
 * minute (`perMinute` on a model of the chain, on any node), held at the minutes their size
 * allows at 6 kbit/s but billed at their real length, which lossless silence (FLAC) or Opus
 * with DTX makes far longer. Under a spend budget a key runs one of them at a time
 * (`admission.ts`), so a burst cannot multiply the excess: what one of them overspends is
 * spent before the next is admitted. An upload held at token rates is held at a bound
 * (`audio-reservation.ts`), or refused: it runs beside others.
 */
export function serialClass(config: LoadedConfig, request: ParsedRequest, chain: string[]): string | undefined {
  if (request.endpoint !== 'transcriptions' && request.endpoint !== 'translations') return undefined;
  const perMinute = chain.some((m) => config.nodes.some((n) => n.models.includes(m) && priceFor(config, m, n.id)?.perMinute !== undefined));
  return perMinute ? 'audio-length' : undefined;
}

/**
 * An image generation on a model priced by tokens (gpt-image: text in, image tokens out) is
 * bounded where its output is — the per-image figure `image-output.ts` reserves for `tpm`,
 * × `n`, with partial images — at the dearest rates; any other request charged per
 * request, on a model priced only by tokens, has no bound: refused.
 */
function imageTokensWorstUsd(config: LoadedConfig, request: ParsedRequest, model: string, price: Price): number {
  const output = drawsImages(request.endpoint) ? imageOutputTokens(request.body, [{ names: modelNames(config, model), configured: config.models[model]?.imageOutputTokens }]) : 0;
  if (output === undefined) throw imageUnbounded(model, imageParam(request.body), 'budget');
  if (output === 0 || price.output === undefined) throw unbounded(model, request);
  const images = editInputTokens(config, request, [model]);
  if (images === undefined) throw imageUnbounded(model, 'image', 'budget');
  return tokenWorstUsd(price, textTokens(String(request.body.prompt ?? ''), config.limits.promptTokens) + images, output, false);
}

/**
 * `prompt` input tokens at the dearest prompt rate and `output` at the dearest output rate, in
 * USD. Image input (`imageInput`) counts among the prompt rates; audio rates count whether or not the body asks for audio: a model priced for audio may
 * hear or speak it (`modalities`, `input_audio`, a stored audio answer), and gpt-4o-audio's
 * spoken tokens bill 8× its text output.
 */
function tokenWorstUsd(price: Price, prompt: number, output: number, claude: boolean): number {
  // Claude's one-hour cache writes (`cache_control.ttl: "1h"`) are its dearest prompt tokens.
  const hour = claude ? cacheWrite1hRate(price) : 0;
  // OpenAI's 12-hour cache writes (`prompt_cache_options.ttl: "12h"`) at their own rate, where one is set.
  const input = Math.max(price.input ?? 0, price.cachedInput ?? 0, price.cacheWrite ?? 0, hour, price.cacheWrite12h ?? 0, price.audioInput ?? 0, price.imageInput ?? 0);
  return (prompt * input + output * Math.max(price.output ?? 0, price.audioOutput ?? 0)) / 1e6;
}

/**
 * The most one upstream attempt may cost, in USD, for spend budgets (see the module header).
 * Unpriced pairs add nothing: a cost that is never known is never charged. A priced model
 * asked for a server tool billed per use cannot be bounded: refused (`perUseTool`).
 */
export function worstCostUsd(config: LoadedConfig, request: ParsedRequest, chain: string[], prompt: number): number {
  const units = requestUnits(request);
  const perUse = perUseTool(request);
  const retention = cacheRetention(request);
  let worst = 0;
  for (const model of chain) {
    const output = ENDPOINTS[request.endpoint].charge === 'tokens' ? outputTokens(config, request, model, chain, prompt) : 0;
    for (const node of config.nodes) {
      if (!node.models.includes(model)) continue;
      const price = priceFor(config, model, node.id);
      if (!price) continue;
      if (drawsImages(request.endpoint)) checkImagePrice(request, model, price);
      let usd = unitCostUsd(price, units);
      // Charged per request without a unit price, on a token-priced model: bounded only for gpt-image, and audio where
      // `audio-reservation.ts` bounds it (moderations too bill by usage then).
      if (usd === undefined && ENDPOINTS[request.endpoint].charge === 'requests' && price.input !== undefined)
        usd = (isAudio(request.endpoint) ? audioWorstUsd(config, request, model, price) : undefined) ?? imageTokensWorstUsd(config, request, model, price);
      if (perUse !== undefined) throw billedPerUse(model, perUse, request);
      // A cache lifetime the price does not cover bills its writes above any rate the reservation holds.
      if (retention !== undefined && price.input !== undefined && !(retention.toLowerCase() === '12h' && price.cacheWrite12h !== undefined)) throw cacheRetentionUnbounded(model, retention);
      if (usd === undefined && price.input !== undefined && price.output !== undefined) {
        // A prompt bound past `longContext.above` may still be billed below it (the bound is not the count): the dearer of both.
        const claude = CLAUDE_PROVIDERS.has(node.provider);
        usd = Math.max(tokenWorstUsd(price, prompt, output, claude), tokenWorstUsd(ratesFor(price, prompt), prompt, output, claude));
      }
      worst = Math.max(worst, (usd ?? 0) + (price.perRequest ?? 0));
    }
  }
  return worst;
}
