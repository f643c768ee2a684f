/**
 * The router's configuration, as data: the single source of its type.
 *
 * Validated once per isolate (see `load.ts`). Objects are strict so a misspelt field is an
 * error naming its path rather than a silently ignored setting. Every field is documented
 * in the README's "Configuration" section; defaults are given here with `.default()`.
 */
import { z } from 'zod';

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const positiveInt = z.number().int().positive();

/** Per-key or per-node limits. A limit left out is unlimited. */
export const LimitsSchema = z.strictObject({
  rpm: positiveInt.optional(),
  tpm: positiveInt.optional(),
  concurrency: positiveInt.optional(),
});

/** Timeouts in ms; per-model overrides use the same fields. */
export const TimeoutsSchema = z.strictObject({
  /** Per attempt: until the response headers (JSON: the whole body; stream: the first chunk). */
  firstByteMs: positiveInt.default(30_000),
  /** Stream: longest silence between two chunks before the stream is ended with an error event. */
  idleMs: positiveInt.default(30_000),
  /** Whole request, across every attempt and backoff sleep. */
  totalMs: positiveInt.default(120_000),
});

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
  apiKeyEnv: z.string().regex(ENV_NAME, 'must be an environment variable name').optional(),
  /** Share of traffic among near-equal nodes. */
  weight: z.number().positive().default(1),
  /** Router model id → the name this node knows it by. */
  modelMap: z.record(z.string(), z.string().min(1)).default({}),
  /** Quota the provider granted this node (enforced like key limits). */
  limits: LimitsSchema.optional(),
});

export const ModelSchema = z.strictObject({
  /** Other model ids to try, in order, when every node of this model failed. */
  fallbacks: z.array(z.string().min(1)).default([]),
  /** Other names callers may use for this model. */
  aliases: z.array(z.string().min(1)).default([]),
  timeouts: TimeoutsSchema.partial().optional(),
  /** USD per 1M tokens, for usage cost. */
  pricing: z.strictObject({ input: z.number().nonnegative(), output: z.number().nonnegative() }).optional(),
});

export const RetrySchema = z.strictObject({
  /** Upstream attempts per request, first attempt included. */
  maxAttempts: positiveInt.max(10).default(4),
  /** Exponential backoff with full jitter: sleep = random(0, min(maxDelayMs, baseDelayMs·2^n)). */
  baseDelayMs: z.number().int().nonnegative().default(50),
  maxDelayMs: z.number().int().nonnegative().default(2_000),
  /** How long a node that answered 429 without Retry-After is left alone. */
  rateLimitCooldownMs: positiveInt.default(1_000),
  /** Retry budget (Envoy-style): retries ≤ max(minRetries, ratio × first attempts) per window. */
  budget: z
    .strictObject({
      ratio: z.number().min(0).max(10).default(0.2),
      minRetries: z.number().int().nonnegative().default(10),
      windowMs: positiveInt.default(10_000),
    })
    .prefault({}),
  /** Passive circuit breaker per node, per isolate. */
  breaker: z
    .strictObject({
      failureThreshold: positiveInt.default(3),
      cooldownMs: positiveInt.default(5_000),
      maxCooldownMs: positiveInt.default(60_000),
    })
    .prefault({}),
});

export const KeyLimitsSchema = z.strictObject({
  /** Limits for keys that set none of their own. */
  defaults: LimitsSchema.default({}),
  /** Request bodies larger than this are refused with 413. */
  maxBodyBytes: positiveInt.default(1_048_576),
  /** Completion tokens assumed when a request sets no `max_tokens` (token reservation). */
  defaultMaxTokens: positiveInt.default(1_024),
});

export const RouterConfigSchema = z
  .strictObject({
    nodes: z.array(NodeSchema).min(1, 'at least one node is required'),
    models: z.record(z.string().min(1), ModelSchema).default({}),
    limits: KeyLimitsSchema.prefault({}),
    retry: RetrySchema.prefault({}),
    timeouts: TimeoutsSchema.prefault({}),
  })
  .superRefine((cfg, ctx) => {
    const served = new Set(cfg.nodes.flatMap((n) => n.models));
    const ids = new Set<string>();
    cfg.nodes.forEach((node, i) => {
      if (ids.has(node.id)) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'id'], message: `duplicate node id "${node.id}"` });
      ids.add(node.id);
      for (const m of Object.keys(node.modelMap)) {
        if (!node.models.includes(m))
          ctx.addIssue({ code: 'custom', path: ['nodes', i, 'modelMap', m], message: `"${m}" is not in this node's models` });
      }
    });
    const aliases = new Map<string, string>();
    for (const [id, model] of Object.entries(cfg.models)) {
      if (!served.has(id)) ctx.addIssue({ code: 'custom', path: ['models', id], message: `no node serves "${id}"` });
      model.fallbacks.forEach((f, j) => {
        if (f === id || !served.has(f))
          ctx.addIssue({ code: 'custom', path: ['models', id, 'fallbacks', j], message: `"${f}" is not another served model` });
      });
      model.aliases.forEach((a, j) => {
        if (served.has(a) || aliases.has(a))
          ctx.addIssue({ code: 'custom', path: ['models', id, 'aliases', j], message: `alias "${a}" is already a model or alias` });
        aliases.set(a, id);
      });
    }
  });

export type RouterConfig = z.infer<typeof RouterConfigSchema>;
export type NodeConfig = RouterConfig['nodes'][number];
export type Limits = z.infer<typeof LimitsSchema>;
export type Timeouts = z.infer<typeof TimeoutsSchema>;
