/**
 * The configuration of what the router talks to: upstream nodes (provider, credentials,
 * endpoints, quotas), models (caps, fallbacks, images, context window) and their prices.
 * Part of `schema.ts`, which assembles the whole config and re-exports these.
 */
import * as z from 'zod';
import { ENDPOINT_GROUPS } from '../openai/endpoints';
import { AzureOptionsSchema } from '../providers/azure/url';
import { PROVIDER_NAMES } from '../providers/types';

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const positiveInt = z.number().int().positive();
/** Secrets of the router itself: a node's `apiKeyEnv` naming one would send it upstream. */
const RESERVED_SECRETS = ['ADMIN_TOKEN', 'ROUTER_CONFIG', 'RESPONSE_ID_SECRET'];

/** USD per image: one figure, or by `size`, `quality` or `quality/size` (`"hd/1024x1792"`). */
const PerImageSchema = z.union([z.number().nonnegative(), z.record(z.string().min(1), z.number().nonnegative()).refine((r) => Object.keys(r).length > 0, 'name at least one size or quality')]);

/**
 * What a model costs, in USD: per 1M tokens `input` (prompt), `cachedInput` (prompt tokens
 * the provider served from its cache; default `input`), `cacheWrite` (prompt tokens written
 * to the provider's cache — Anthropic's `cache_creation_input_tokens`; default `input`),
 * `cacheWrite1h` (the part of those written with a one-hour TTL; default 2× `input`,
 * Anthropic's rate), `cacheWrite12h` (OpenAI's writes with 12-hour retention; default
 * `cacheWrite`, and a budgeted key is refused the retention without it), `output`
 * (completion); and for
 * endpoints charged per request (`usage/cost.ts`): `perImage` (image generations),
 * `perMillionChars` (speech input), `perMinute` (transcriptions/translations), `perRequest`
 * (flat, any endpoint). Token rates come as a pair or not at all. `longContext`: the token
 * rates of a request whose prompt (every input token, cache reads and writes included) is
 * past `above` — Claude Sonnet's 1M context and Gemini 2.5 Pro bill the whole request at
 * higher rates past 200k; a rate it leaves out is the base one.
 */
const LongContextSchema = z.strictObject({
  above: z.number().int().positive(),
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  cachedInput: z.number().nonnegative().optional(),
  cacheWrite: z.number().nonnegative().optional(),
  cacheWrite1h: z.number().nonnegative().optional(),
  cacheWrite12h: z.number().nonnegative().optional(),
});

export const PriceSchema = z
  .strictObject({
    input: z.number().nonnegative().optional(),
    cachedInput: z.number().nonnegative().optional(),
    cacheWrite: z.number().nonnegative().optional(),
    cacheWrite1h: z.number().nonnegative().optional(),
    /** USD per 1M prompt tokens OpenAI writes with 12-hour retention (`prompt_cache_options.ttl: "12h"`); default `cacheWrite`. */
    cacheWrite12h: z.number().nonnegative().optional(),
    output: z.number().nonnegative().optional(),
    /** USD per 1M audio prompt / completion tokens (gpt-4o-audio, gpt-4o-transcribe); default `input` / `output`. */
    audioInput: z.number().nonnegative().optional(),
    audioOutput: z.number().nonnegative().optional(),
    /** USD per 1M image prompt tokens (gpt-image: an edit's images, billed above text input); default `input`. */
    imageInput: z.number().nonnegative().optional(),
    perImage: PerImageSchema.optional(),
    perMillionChars: z.number().nonnegative().optional(),
    perMinute: z.number().nonnegative().optional(),
    perRequest: z.number().nonnegative().optional(),
    longContext: LongContextSchema.optional(),
  })
  .superRefine((p, ctx) => {
    if (p.longContext && p.input === undefined) ctx.addIssue({ code: 'custom', path: ['longContext'], message: 'longContext rates need the base input and output rates' });
    if ((p.input === undefined) !== (p.output === undefined) || ((p.cachedInput !== undefined || p.cacheWrite !== undefined || p.cacheWrite1h !== undefined || p.cacheWrite12h !== undefined || p.audioInput !== undefined || p.audioOutput !== undefined || p.imageInput !== undefined) && p.input === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'token prices need both input and output' });
    }
    if (Object.values(p).every((v) => v === undefined)) ctx.addIssue({ code: 'custom', message: 'a price names at least one rate' });
  });

/** Per-key or per-node limits. A limit left out is unlimited. */
export const LimitsSchema = z.strictObject({
  rpm: positiveInt.optional(),
  tpm: positiveInt.optional(),
  concurrency: positiveInt.optional(),
});

/**
 * A key's limits: those above, plus spend caps in USD per UTC day and per UTC month,
 * enforced exactly (worst-case cost reserved at admission, settled to the real cost).
 */
export const KeyLimitSchema = LimitsSchema.extend({
  dailyUsd: z.number().positive().optional(),
  monthlyUsd: z.number().positive().optional(),
});

/** Timeouts in ms; per-model overrides use the same fields. */
export const TimeoutsSchema = z.strictObject({
  /**
   * Stream, per attempt: until the upstream's status and first chunk. A stream that has not
   * started by then is abandoned and the request fails over.
   */
  firstByteMs: positiveInt.default(30_000),
  /**
   * JSON, per attempt: until the whole answer has arrived. Providers send JSON headers only
   * when generation ends, so this must cover the longest generation; by default it is the
   * request's whole deadline (`totalMs`). An attempt past it is treated as hung.
   */
  responseMs: positiveInt.optional(),
  /** Stream: longest silence between two chunks before the stream is ended with an error event. */
  idleMs: positiveInt.default(30_000),
  /** Whole request, across every attempt and backoff sleep. */
  totalMs: positiveInt.default(120_000),
});

/** A Worker secret's name, never one of the router's own (a node would send it upstream). */
const EnvName = z
  .string()
  .regex(ENV_NAME, 'must be an environment variable name')
  .refine((name) => !RESERVED_SECRETS.includes(name), 'may not name the router\'s own secrets (ADMIN_TOKEN, ROUTER_CONFIG, RESPONSE_ID_SECRET)');

export const NodeSchema = z.strictObject({
  id: z.string().regex(ID, 'letters, digits and . _ : - only'),
  /** Up to and including `/v1`, e.g. `https://api.openai.com/v1`. */
  baseUrl: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .transform((u) => u.replace(/\/+$/, '')),
  region: z.string().min(1),
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
  /** Router model ids this node serves. */
  models: z.array(z.string().min(1)).min(1),
  /** Name of the Worker secret holding this node's credential (sent as `Authorization: Bearer`). */
  apiKeyEnv: z
    .string()
    .regex(ENV_NAME, 'must be an environment variable name')
    .refine((name) => !RESERVED_SECRETS.includes(name), 'may not name the router\'s own secrets (ADMIN_TOKEN, ROUTER_CONFIG, RESPONSE_ID_SECRET)')
    .optional(),
  /** Share of traffic among near-equal nodes. */
  weight: z.number().positive().default(1),
  /** Router model id → the name this node knows it by. */
  modelMap: z.record(z.string(), z.string().min(1)).default({}),
  /** Quota the provider granted this node (enforced like key limits). */
  limits: LimitsSchema.optional(),
  /**
   * Prompt tokens the node's chat template adds to every chat-style request (chat, Responses,
   * Messages) beside the body's text: a self-hosted model's default system prompt (Llama 3.1's
   * "Cutting Knowledge Date" block, ~25–30). Reserved (`limits/reservation.ts`); default 0.
   */
  promptOverheadTokens: z.number().int().nonnegative().default(0),
  /** More such tokens when the request carries `tools` (Llama 3.1's tool preamble, ~100–200); default 0. */
  toolOverheadTokens: z.number().int().nonnegative().default(0),
  /** Prices on this node by router model id, over the model's own `price` (providers charge differently). */
  prices: z.record(z.string(), PriceSchema).default({}),
  /** ISO country / continent code of the node: the geo fallback for callers without coordinates. */
  country: z.string().regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2, upper case').optional(),
  continent: z.enum(['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA']).optional(),
  /** Endpoint groups this node serves; requests of other groups never plan it. Default: all (`anthropic` nodes: chat). */
  endpoints: z.array(z.enum(ENDPOINT_GROUPS)).min(1).optional(),
  /** The API the node speaks (`src/providers/`): `openai` (default), `azure`, `anthropic`. */
  provider: z.enum(PROVIDER_NAMES).default('openai'),
  /** Azure nodes: URL style and `api-version` (`deployments` needs one; `v1` may set `preview`). */
  azure: AzureOptionsSchema.optional(),
  /**
   * Bedrock nodes (`provider: "bedrock"`, issue 21): the AWS region (SigV4 scope) and the
   * secrets holding an access key pair (+ session token for temporary credentials). Without
   * `accessKeyIdEnv`, `apiKeyEnv` names a Bedrock API key (sent as Bearer). `baseUrl` is the
   * runtime endpoint, `https://bedrock-runtime.{region}.amazonaws.com`.
   */
  bedrock: z
    .strictObject({
      region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as us-east-1'),
      accessKeyIdEnv: EnvName.optional(),
      secretAccessKeyEnv: EnvName.optional(),
      sessionTokenEnv: EnvName.optional(),
    })
    .refine((b) => (b.accessKeyIdEnv === undefined) === (b.secretAccessKeyEnv === undefined), 'accessKeyIdEnv and secretAccessKeyEnv go together')
    .optional(),
  /**
   * Vertex AI nodes (`provider: "vertex"`, issue 21): project, location, and the secret
   * holding the service-account key file (JSON). `baseUrl` is the regional host,
   * `https://{region}-aiplatform.googleapis.com`.
   */
  vertex: z
    .strictObject({
      project: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'a Google Cloud project id'),
      region: z.string().regex(/^([a-z]+-[a-z]+\d+|global)$/, 'a Vertex AI location such as us-central1'),
      serviceAccountEnv: EnvName,
    })
    .optional(),
  /** Anthropic nodes: the `anthropic-version` header sent. */
  anthropicVersion: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date such as 2023-06-01').default('2023-06-01'),
}).transform((node) => ({
  ...node,
  // Anthropic's API has Messages only: such a node serves chat (and /v1/messages), nothing else.
  endpoints: node.endpoints ?? (node.provider === 'anthropic' || node.provider === 'bedrock' || node.provider === 'vertex' ? ['chat' as const] : [...ENDPOINT_GROUPS]),
}));

export const ModelSchema = z.strictObject({
  /** Other model ids to try, in order, when every node of this model failed. */
  fallbacks: z.array(z.string().min(1)).default([]),
  /** Other names callers may use for this model. */
  aliases: z.array(z.string().min(1)).default([]),
  timeouts: TimeoutsSchema.partial().optional(),
  /** Completion tokens reserved — and sent upstream as the cap — when a request sets none. */
  defaultMaxTokens: positiveInt.optional(),
  /**
   * The parameter that carries the completion cap to this model's nodes. Default:
   * `max_completion_tokens` for o-series and gpt-5 models (they refuse `max_tokens`),
   * `max_tokens` for the rest (what most OpenAI-compatible servers read).
   */
  maxTokensParam: z.enum(['max_tokens', 'max_completion_tokens']).optional(),
  /** What it costs; a request answered by a model with no price has cost `null`, never a guess. */
  price: PriceSchema.optional(),
  /**
   * The model's context window, in tokens: what a prompt with a file part (whose size no
   * body tells) reserves. Default `limits.defaultContextTokens`.
   */
  contextTokens: positiveInt.optional(),
  /**
   * What an input image costs this model (`limits/image-rules.ts`): the tile rule
   * `{base, tile}` or the patch rule `{multiplier, maxPatches}`. Default: OpenAI's rate for
   * the model's name (gpt-4o-mini 2,833 + 5,667 per tile, gpt-4.1-mini 1.62 per patch …),
   * else gpt-4o's 85 + 170.
   */
  imageTokens: z
    .union([
      z.strictObject({ base: z.number().nonnegative(), tile: z.number().nonnegative() }),
      z.strictObject({ multiplier: z.number().positive(), maxPatches: positiveInt }),
    ])
    .optional(),
  /**
   * Output tokens one generated image may bill on this model (image generations reserve
   * `n` × this against `tpm`: `limits/image-output.ts`). Default: gpt-image models by
   * OpenAI's size/quality table (up to 6,240), other names (dall-e) none.
   */
  imageOutputTokens: positiveInt.optional(),
  /**
   * Input tokens one image sent to an edit (each `image`, the `mask`, a `markup`) may bill on this
   * model (edits reserve images × this against `tpm`, and budgets hold it at the input rate).
   * No default: gpt-image models bill input images by their size and `input_fidelity`, and
   * without this figure keys with `tpm` or a budget are refused their edits.
   */
  imageInputTokens: positiveInt.optional(),
  /**
   * What an audio request may bill on this model in tokens (`limits/audio-reservation.ts`):
   * transcriptions and translations reserve the upload's audio (the seconds its size holds at
   * its format's lowest rate × `inputTokensPerSecond`), the form's text and `maxOutputTokens`,
   * within `contextTokens` when the audio goes as one block; speech its text and
   * `maxOutputTokens`. `tokens: false` says the model bills none (seconds or characters).
   * Default: whisper and tts-1 models bill no tokens; any other model has no bound without
   * these figures (refused to keys and skipped by nodes with `tpm`).
   */
  audio: z
    .strictObject({
      tokens: z.boolean().optional(),
      /** Audio input tokens a second of an upload bills: an operator's figure, at least the node's (OpenAI publishes none; its Realtime audio bills about 10). */
      inputTokensPerSecond: z.number().positive().optional(),
      /** The most output tokens one request writes: a transcript's text (gpt-4o-transcribe: 2,000), speech's audio. */
      maxOutputTokens: positiveInt.optional(),
    })
    .optional(),
});
