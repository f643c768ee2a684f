/**
 * The router's configuration, as data: the single source of its type.
 *
 * Validated once per isolate (see `load.ts`). Objects are strict so a misspelt field is an
 * error naming its path rather than a silently ignored setting. Every field is documented
 * in the README's "Configuration" section; defaults are given here with `.default()`.
 * Nodes, models and prices are in `schema-upstreams.ts`.
 */
import * as z from 'zod';
import { KeyLimitSchema, LimitsSchema, ModelSchema, NodeSchema, positiveInt, TimeoutsSchema } from './schema-upstreams';

export { KeyLimitSchema, LimitsSchema, ModelSchema, NodeSchema, PriceSchema, TimeoutsSchema } from './schema-upstreams';

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

const CodeList = z.array(z.string().regex(/^[A-Z]{2}$/, 'two upper-case letters'));

export const RoutingSchema = z.strictObject({
  /** Geo prior: expected first-byte ms = priorBaseMs + priorMsPerKm × great-circle km. */
  priorBaseMs: z.number().nonnegative().default(50),
  priorMsPerKm: z.number().nonnegative().default(0.02),
  /** How many samples the prior is worth when blended with observed latency. */
  priorWeight: z.number().positive().default(3),
  /** Samples lose half their weight every this many ms (old data fades). */
  halfLifeMs: positiveInt.default(300_000),
  /** Nodes within this fraction of the best expected latency share traffic by weight. */
  tieMargin: z.number().min(0).max(1).default(0.1),
  /** Degraded nodes: expected latency × factor + ms (penalised, not excluded). */
  degradedFactor: z.number().min(1).default(2),
  degradedPenaltyMs: z.number().nonnegative().default(250),
  /** The isolate's live view (`routing/live.ts`): its own first-byte samples over the table. */
  live: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Peak-EWMA time constant: how fast the estimate forgets older samples. */
      ewmaMs: positiveInt.default(5_000),
      /** Live evidence loses half its weight against the table every this many ms without a sample. */
      halfLifeMs: positiveInt.default(30_000),
      /** A node traffic moved away from is re-tried with one request after this long… */
      exploreMs: positiveInt.default(60_000),
      /** …doubling while it stays slower than the leader, up to this. */
      maxExploreMs: positiveInt.default(120_000),
    })
    .prefault({}),
  /** Hard filters (data residency): callers matching a pin may use only its nodes. */
  pins: z
    .array(
      z.strictObject({
        countries: CodeList.optional(),
        continents: CodeList.optional(),
        nodes: z.array(z.string().min(1)).min(1),
      }),
    )
    .default([]),
});

export const HealthSchema = z.strictObject({
  /** Probe: unbilled GET {baseUrl}{probePath} with the node's credential. */
  probePath: z.string().startsWith('/').default('/models'),
  probeTimeoutMs: positiveInt.default(5_000),
  /** Sub-minute probing by the HealthMonitor's alarm (the cron keeps it armed). */
  probeIntervalMs: z.number().int().min(1_000).default(10_000),
  /** Consecutive failures to mark a node down; consecutive successes to bring it back. */
  downAfter: positiveInt.default(3),
  upAfter: positiveInt.default(2),
  /** A probe slower than this marks the node degraded. */
  degradedLatencyMs: positiveInt.default(3_000),
  /** Live-traffic failure ratio (over ≥ minLiveSamples decayed samples) that marks a node degraded. */
  degradedFailureRate: z.number().min(0).max(1).default(0.25),
  minLiveSamples: z.number().positive().default(10),
  /** Slack-compatible webhook (Discord: its URL + `/slack`): POST {"text": …} on node state changes (coalesced: `alertCoalesceMs`). */
  alertWebhook: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * Per node, at most one alert in this window: the first change is sent at once (and any
   * change to a worse state than the last alert said), later ones are held and sent as one
   * summary (count, state now, latest reason) when the window ends,
   * so a flapping node cannot flood the channel and a recovery is still reported. 0: every change.
   */
  alertCoalesceMs: z.number().int().min(0).max(86_400_000).default(300_000),
});

export const KeyLimitsSchema = z.strictObject({
  /** Limits for keys that set none of their own. */
  defaults: KeyLimitSchema.default({}),
  /** Request bodies larger than this are refused with 413. */
  maxBodyBytes: positiveInt.default(16 * 1_048_576),
  /**
   * Completion tokens reserved when a request sets no cap; the same figure is sent upstream
   * as the cap, so the reservation bounds what the upstream may write. Per model:
   * `models.<id>.defaultMaxTokens`.
   */
  defaultMaxTokens: positiveInt.default(1_024),
  /**
   * Prompt tokens a request with a file part reserves (no body bounds what a file costs
   * upstream; the context window does). Per model: `models.<id>.contextTokens`.
   */
  defaultContextTokens: positiveInt.default(128_000),
  /**
   * How reservations count prompt text (`limits/estimate.ts`): `bound` (default) — its UTF-8
   * bytes, which no tokenizer can exceed (a token is at least a byte), so `tpm` holds against
   * any caller; `estimate` — 4 ASCII characters a token, closer for prose (more concurrency
   * under a tight `tpm`) but not a bound: dense text (`1,1,1,…`) bills up to ~4× it. Either
   * way reservations settle to the upstream's real usage when the answer ends.
   */
  promptTokens: z.enum(['bound', 'estimate']).default('bound'),
  /** Multipart uploads (audio transcriptions/translations) may be this large; other bodies `maxBodyBytes`. */
  maxUploadBytes: positiveInt.default(25 * 1_048_576),
  /**
   * Bytes of large request bodies (1 MiB and over) one isolate holds at once
   * (`http/body-budget.ts`): a body is held two or three times while its request runs, and an
   * isolate has 128 MB. One that does not fit waits for others to end, then is a 503.
   */
  isolateBodyBytes: positiveInt.default(48 * 1_048_576),
  /** How long a large body waits for room in `isolateBodyBytes` before its 503 (`retry-after: 1`). */
  bodyWaitMs: positiveInt.default(10_000),
  /**
   * How long a caller may take to send its whole request body (`http/body.ts`); past it the
   * request is a 408 `request_timeout` and holds nothing (Node's `requestTimeout`, nginx's
   * `client_body_timeout`). Bounds how long a stalled or trickling body holds its room in
   * `isolateBodyBytes`. At 30 s a 25 MiB upload needs ~7 Mbit/s: raise it for slow uplinks.
   */
  bodyReadMs: positiveInt.default(30_000),
  /** Largest upstream JSON answer the router will hold; a larger one is a 502, never an out-of-memory isolate. */
  maxResponseBytes: positiveInt.default(16 * 1_048_576),
  /**
   * Longest single SSE event the stream relay holds while waiting for its end; a longer one
   * ends the stream with `upstream_event_too_large`. Real events can be large: Responses'
   * `response.completed` repeats the whole output, image events carry base64 images (several
   * MB); so the default is the JSON answer cap, 16 MiB.
   */
  maxEventBytes: positiveInt.default(16 * 1_048_576),
  /**
   * Leased admission (`limits/ledger.ts`): isolates admit from slices of a key's (or a
   * capped node's) remaining capacity with no round trip, and give back what they did not
   * use after `ttlMs`. Off: every request asks the subject's Durable Object.
   */
  leases: z
    .strictObject({
      enabled: z.boolean().default(true),
      /**
       * How long a lease may admit in; its unused part returns then. At most 20 s: the
       * isolate comes back to report it from the request that got it (`waitUntil` lives
       * up to 30 s past the response).
       */
      ttlMs: positiveInt.max(20_000).default(10_000),
    })
    .prefault({}),
});

/**
 * The request log line (Workers Logs). Errors and slow requests are always written; a
 * share of the rest, so operators can dial what logging costs. The Analytics Engine point
 * and the usage rollups count every request whatever this says. Wrangler's own
 * `[observability] head_sampling_rate` samples whole invocations on top of this.
 */
export const LoggingSchema = z.strictObject({
  /** Share of successful (status < 400), not slow requests that get a log line, 0..1. */
  successSampleRate: z.number().min(0).max(1).default(1),
  /** A request whose first byte took this long (ms) or more is always logged. */
  slowMs: z.number().nonnegative().default(5_000),
});

/** Usage rollups (`usage/rollups-do.ts`). */
export const UsageSchema = z.strictObject({
  /**
   * UsageRollups objects the rows are spread over (each isolate writes to one, picked at
   * random), so no single object takes every isolate's batches (a Durable Object's soft
   * limit is ~1,000 calls/s). Queries read every shard below this count and sum them, so
   * raising it loses nothing; lowering it hides the rows in the shards above it until
   * raised again (README).
   */
  shards: positiveInt.max(256).default(16),
});

/**
 * Wrong admin tokens (`auth/admin-throttle.ts`): counted per client address and in all, so
 * the token cannot be guessed online at the Worker's speed. An address past `maxFailures`
 * in the window is answered 429 with `Retry-After`, right token or wrong, until its oldest
 * counted failure leaves the window; the right token keeps working from other addresses.
 */
export const AdminSchema = z.strictObject({
  /** Wrong tokens one address (IPv4, or IPv6 /64) may send in the window. */
  maxFailures: positiveInt.max(1_000).default(10),
  /** The sliding window the failures are counted over, seconds. */
  failureWindowSeconds: positiveInt.max(86_400).default(900),
  /** Wrong tokens from all addresses in the window past which each address may send only `pressuredFailures`. */
  globalFailures: positiveInt.max(100_000).default(100),
  pressuredFailures: positiveInt.max(1_000).default(2),
});

/** Indexes of the entries that repeat an earlier one. */
function repeated(list: readonly string[]): number[] {
  return list.flatMap((v, i) => (list.indexOf(v) < i ? [i] : []));
}

export const RouterConfigSchema = z
  .strictObject({
    nodes: z.array(NodeSchema).min(1, 'at least one node is required'),
    models: z.record(z.string().min(1), ModelSchema).default({}),
    limits: KeyLimitsSchema.prefault({}),
    retry: RetrySchema.prefault({}),
    timeouts: TimeoutsSchema.prefault({}),
    routing: RoutingSchema.prefault({}),
    health: HealthSchema.prefault({}),
    usage: UsageSchema.prefault({}),
    logging: LoggingSchema.prefault({}),
    admin: AdminSchema.prefault({}),
  })
  .superRefine((cfg, ctx) => {
    const served = new Set(cfg.nodes.flatMap((n) => n.models));
    const ids = new Set<string>();
    cfg.nodes.forEach((node, i) => {
      if (ids.has(node.id)) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'id'], message: `duplicate node id "${node.id}"` });
      ids.add(node.id);
      // Listed twice, a node would be planned twice for the model: two of its attempts, twice its share of near-ties.
      repeated(node.models).forEach((j) => ctx.addIssue({ code: 'custom', path: ['nodes', i, 'models', j], message: `"${node.models[j]}" is listed twice` }));
      for (const m of Object.keys(node.modelMap)) {
        if (!node.models.includes(m))
          ctx.addIssue({ code: 'custom', path: ['nodes', i, 'modelMap', m], message: `"${m}" is not in this node's models` });
      }
      if (node.provider === 'azure' && !node.azure)
        ctx.addIssue({ code: 'custom', path: ['nodes', i, 'azure'], message: 'an azure node needs azure: { style: "deployments", apiVersion } or { style: "v1" }' });
      if (node.provider !== 'azure' && node.azure)
        ctx.addIssue({ code: 'custom', path: ['nodes', i, 'azure'], message: 'only for provider "azure"' });
      if (node.provider === 'anthropic' && (node.endpoints ?? []).some((e) => e !== 'chat'))
        ctx.addIssue({ code: 'custom', path: ['nodes', i, 'endpoints'], message: 'an anthropic node serves chat only' });
      for (const cloud of ['bedrock', 'vertex'] as const) {
        if (node.provider === cloud && !node[cloud]) ctx.addIssue({ code: 'custom', path: ['nodes', i, cloud], message: `a ${cloud} node needs ${cloud}: { region, … }` });
        if (node.provider !== cloud && node[cloud]) ctx.addIssue({ code: 'custom', path: ['nodes', i, cloud], message: `only for provider "${cloud}"` });
        if (node.provider === cloud && (node.endpoints ?? []).some((e) => e !== 'chat'))
          ctx.addIssue({ code: 'custom', path: ['nodes', i, 'endpoints'], message: `a ${cloud} node serves chat only` });
      }
      for (const m of Object.keys(node.prices)) {
        if (!node.models.includes(m))
          ctx.addIssue({ code: 'custom', path: ['nodes', i, 'prices', m], message: `"${m}" is not in this node's models` });
      }
    });
    cfg.routing.pins.forEach((pin, i) => {
      pin.nodes.forEach((id, j) => {
        if (!ids.has(id)) ctx.addIssue({ code: 'custom', path: ['routing', 'pins', i, 'nodes', j], message: `unknown node "${id}"` });
      });
      if (!pin.countries && !pin.continents)
        ctx.addIssue({ code: 'custom', path: ['routing', 'pins', i], message: 'a pin needs countries or continents' });
    });
    const aliases = new Map<string, string>();
    for (const [id, model] of Object.entries(cfg.models)) {
      if (!served.has(id)) ctx.addIssue({ code: 'custom', path: ['models', id], message: `no node serves "${id}"` });
      model.fallbacks.forEach((f, j) => {
        if (f === id || !served.has(f))
          ctx.addIssue({ code: 'custom', path: ['models', id, 'fallbacks', j], message: `"${f}" is not another served model` });
      });
      // A fallback listed twice would walk its nodes twice after they all failed once.
      repeated(model.fallbacks).forEach((j) => ctx.addIssue({ code: 'custom', path: ['models', id, 'fallbacks', j], message: `"${model.fallbacks[j]}" is listed twice` }));
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
export type KeyLimits = z.infer<typeof KeyLimitSchema>;
export type Timeouts = z.infer<typeof TimeoutsSchema>;
export type RoutingConfig = z.infer<typeof RoutingSchema>;
export type LiveConfig = RoutingConfig['live'];
export type HealthConfig = z.infer<typeof HealthSchema>;
export type LoggingConfig = z.infer<typeof LoggingSchema>;
export type AdminConfig = z.infer<typeof AdminSchema>;
