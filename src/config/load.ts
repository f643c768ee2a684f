/**
 * Loads `ROUTER_CONFIG` once per isolate and derives the lookups the request path needs.
 *
 * The binding is either an object (a TOML table under `[vars]` in wrangler.toml) or the
 * same document as a JSON string (`.dev.vars`, `wrangler secret put`). A broken config is
 * a RouterError (500, `config_invalid`) whose message names the bad field's path; it is
 * never half-applied.
 */
import * as z from 'zod';
import { RouterError } from '../errors/router-error';
import { RouterConfigSchema, type NodeConfig, type RouterConfig, type Timeouts } from './schema';

export interface LoadedConfig extends RouterConfig {
  /** Model id or alias → canonical model id. */
  modelNames: Map<string, string>;
  /** Canonical model id → nodes serving it, in config order. */
  nodesByModel: Map<string, NodeConfig[]>;
  nodesById: Map<string, NodeConfig>;
}

type LoadResult = { ok: true; config: LoadedConfig } | { ok: false; message: string };

/**
 * Parsed configs by their raw binding, the most recent few. In production an isolate sees one
 * value; an isolate that also hosts Durable Objects bound to another value (tests) must not
 * re-parse on every switch, or each request gets a fresh config object — and with it a fresh
 * breaker and cooldowns (`forward/isolate-state.ts` keys them by that object).
 */
const cache = new Map<unknown, LoadResult>();
const CACHE_SIZE = 4;

/** `nodes[1].baseUrl: must be an http(s) URL` — one line per problem. */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path
        .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
        .join('');
      return `${path || '(root)'}: ${issue.message}`;
    })
    .join('; ');
}

function derive(config: RouterConfig): LoadedConfig {
  const nodesByModel = new Map<string, NodeConfig[]>();
  for (const node of config.nodes) {
    for (const model of node.models) nodesByModel.set(model, [...(nodesByModel.get(model) ?? []), node]);
  }
  const modelNames = new Map<string, string>();
  for (const model of nodesByModel.keys()) modelNames.set(model, model);
  for (const [id, model] of Object.entries(config.models)) for (const alias of model.aliases) modelNames.set(alias, id);
  return { ...config, modelNames, nodesByModel, nodesById: new Map(config.nodes.map((n) => [n.id, n])) };
}

/** Parse without caching: used by start-up checks and tests of bad configs. */
export function parseConfig(raw: unknown): LoadResult {
  if (raw === undefined || raw === null || raw === '') {
    return { ok: false, message: 'ROUTER_CONFIG is not set: define it under [vars] in wrangler.toml or as a JSON secret' };
  }
  let doc = raw;
  if (typeof raw === 'string') {
    try {
      doc = JSON.parse(raw);
    } catch (err) {
      return { ok: false, message: `ROUTER_CONFIG is not valid JSON: ${(err as Error).message}` };
    }
  }
  const parsed = RouterConfigSchema.safeParse(doc);
  if (!parsed.success) return { ok: false, message: `ROUTER_CONFIG is invalid: ${formatIssues(parsed.error)}` };
  return { ok: true, config: derive(parsed.data) };
}

/**
 * The validated config for this isolate, or a RouterError. What is wrong is an operator's
 * business: callers get `config_invalid` alone; the field paths ride in `adminDetail`,
 * shown only on admin requests (and logged once per broken config).
 */
export function loadConfig(env: { ROUTER_CONFIG?: unknown }): LoadedConfig {
  const raw = env.ROUTER_CONFIG;
  let cachedResult = cache.get(raw);
  if (cachedResult === undefined) {
    cachedResult = parseConfig(raw);
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value);
    cache.set(raw, cachedResult);
    if (!cachedResult.ok) console.error(JSON.stringify({ event: 'config_invalid', message: cachedResult.message }));
  }
  if (!cachedResult.ok) {
    throw new RouterError(500, 'The router is misconfigured and cannot serve requests. Its operator has the details.', {
      code: 'config_invalid',
      adminDetail: cachedResult.message,
    });
  }
  return cachedResult.config;
}

export type ResolvedTimeouts = Required<Timeouts>;

/** Timeouts for a model: its own overrides over the global ones; `responseMs` defaults to `totalMs`. */
export function timeoutsFor(config: RouterConfig, model: string): ResolvedTimeouts {
  const t = { ...config.timeouts, ...config.models[model]?.timeouts };
  return { ...t, responseMs: t.responseMs ?? t.totalMs };
}

/** A model and its fallbacks, in the order they are tried. */
export function modelChain(config: RouterConfig, model: string): string[] {
  return [model, ...(config.models[model]?.fallbacks ?? [])];
}

/** The longest deadline of a model and its fallback chain: how long a request for it can live. */
export function longestDeadlineMs(config: RouterConfig, model: string): number {
  return Math.max(...modelChain(config, model).map((m) => timeoutsFor(config, m).totalMs));
}

/** Completion cap to reserve and send when the caller set none. */
export function defaultMaxTokensFor(config: RouterConfig, model: string): number {
  return config.models[model]?.defaultMaxTokens ?? config.limits.defaultMaxTokens;
}

/** o-series (o1, o3, o4-mini…) and gpt-5 models take only `max_completion_tokens`. */
const COMPLETION_TOKENS_ONLY = /^(?:[\w.-]+\/)?(?:o\d|gpt-5)/;

/** The parameter that carries the completion cap to a node, for a router model and its upstream name. */
export function maxTokensParamFor(config: RouterConfig, model: string, upstreamModel: string) {
  const configured = config.models[model]?.maxTokensParam;
  if (configured) return configured;
  return COMPLETION_TOKENS_ONLY.test(model) || COMPLETION_TOKENS_ONLY.test(upstreamModel) ? 'max_completion_tokens' : 'max_tokens';
}
