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

/** The canonical model id for a requested name; 400 listing what is served otherwise. */
export function resolveModel(config: LoadedConfig, requested: string, allowed?: string[]): string {
  const model = config.modelNames.get(requested);
  if (!model) {
    const served = [...config.modelNames.keys()].sort().join(', ');
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

/**
 * OpenAI's list shape: the served models and aliases the key may use (a restricted key is
 * not shown the rest, as OpenAI lists a project only what it can call).
 */
export function modelList(config: LoadedConfig, allowed?: string[]) {
  const names = [...config.modelNames].filter(([, model]) => modelAllowed(config, allowed, model)).map(([name]) => name);
  return { object: 'list' as const, data: names.sort().map(modelObject) };
}

/** `GET /v1/models/{id}` (the SDKs' `models.retrieve`): the model, or OpenAI's 404 `model_not_found` for one not served or not the key's. */
export function modelInfo(config: LoadedConfig, id: string, allowed?: string[]) {
  const model = config.modelNames.get(id);
  if (!model || !modelAllowed(config, allowed, model)) {
    throw new RouterError(404, `The model '${id.slice(0, 300)}' does not exist or you do not have access to it.`, { code: 'model_not_found', param: 'model' });
  }
  return modelObject(id);
}
