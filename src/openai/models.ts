/**
 * Model names: resolving what a caller asked for, and the `/v1/models` list.
 */
import type { LoadedConfig } from '../config/load';
import { RouterError } from '../errors/router-error';

/**
 * May a key restricted to `allowed` (model ids or aliases) use the canonical model `model`?
 * An alias stands for its model, both ways: a key listing `mini` may use `gpt-4o-mini`.
 */
export function modelAllowed(config: LoadedConfig, allowed: string[] | undefined, model: string): boolean {
  return !allowed || allowed.some((name) => config.modelNames.get(name) === model);
}

/**
 * The canonical model id for a requested name; 400 listing what is served otherwise — to a
 * restricted key only what it may use, as `GET /v1/models` shows it (`namesFor`).
 */
export function resolveModel(config: LoadedConfig, requested: string, allowed?: string[]): string {
  const model = config.modelNames.get(requested);
  if (!model) {
    const served = namesFor(config, allowed).join(', ');
    throw new RouterError(400, `The model '${requested}' is not served by this router. Served models: ${served}.`, {
      code: 'model_not_found',
      param: 'model',
    });
  }
  if (!modelAllowed(config, allowed, model)) {
    throw new RouterError(403, `This API key may not use the model '${requested}'.`, {
      type: 'permission_error',
      code: 'model_not_allowed',
      param: 'model',
    });
  }
  return model;
}

/** One model in OpenAI's shape, owned by the router. */
const modelObject = (id: string) => ({ id, object: 'model' as const, created: 0, owned_by: 'llm-edge-router' });
/** One model in Anthropic's shape (`GET /v1/models` from the Anthropic SDK). */
const anthropicModelObject = (id: string) => ({ type: 'model' as const, id, display_name: id, created_at: '1970-01-01T00:00:00Z' });

/** The served models and aliases the key may use, sorted (a restricted key is not shown the rest, as OpenAI and Anthropic list only what a key can call). */
function namesFor(config: LoadedConfig, allowed?: string[]): string[] {
  return [...config.modelNames].filter(([, model]) => modelAllowed(config, allowed, model)).map(([name]) => name).sort();
}

/** OpenAI's list shape, or Anthropic's (`data`, `has_more`, `first_id`, `last_id`: one page holds all). */
export function modelList(config: LoadedConfig, allowed?: string[], shape: 'openai' | 'anthropic' = 'openai') {
  const names = namesFor(config, allowed);
  if (shape === 'openai') return { object: 'list' as const, data: names.map(modelObject) };
  return { data: names.map(anthropicModelObject), has_more: false, first_id: names[0] ?? null, last_id: names.at(-1) ?? null };
}

/** `GET /v1/models/{id}` (the SDKs' `models.retrieve`): the model, or a 404 `model_not_found` for one not served or not the key's. */
export function modelInfo(config: LoadedConfig, id: string, allowed?: string[], shape: 'openai' | 'anthropic' = 'openai') {
  const model = config.modelNames.get(id);
  if (!model || !modelAllowed(config, allowed, model)) {
    throw new RouterError(404, `The model '${id.slice(0, 300)}' does not exist or you do not have access to it.`, { code: 'model_not_found', param: 'model' });
  }
  return shape === 'openai' ? modelObject(id) : anthropicModelObject(id);
}
