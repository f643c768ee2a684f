/**
 * Loads `ROUTER_CONFIG` once per isolate and derives the lookups the request path needs.
 *
 * The binding is either an object (a TOML table under `[vars]` in wrangler.toml) or the
 * same document as a JSON string (`.dev.vars`, `wrangler secret put`). A broken config is
 * a RouterError (500, `config_invalid`) whose message names the bad field's path; it is
 * never half-applied.
 */
import { z } from 'zod';
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

let cachedRaw: unknown;
let cachedResult: LoadResult | undefined;

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

/** The validated config for this isolate, or a RouterError naming what is wrong. */
export function loadConfig(env: { ROUTER_CONFIG?: unknown }): LoadedConfig {
  const raw = env.ROUTER_CONFIG;
  if (cachedResult === undefined || raw !== cachedRaw) {
    cachedRaw = raw;
    cachedResult = parseConfig(raw);
    if (!cachedResult.ok) console.error(cachedResult.message);
  }
  if (!cachedResult.ok) throw new RouterError(500, cachedResult.message, { code: 'config_invalid' });
  return cachedResult.config;
}

/** Timeouts for a model: its own overrides over the global ones. */
export function timeoutsFor(config: RouterConfig, model: string): Timeouts {
  return { ...config.timeouts, ...config.models[model]?.timeouts };
}
