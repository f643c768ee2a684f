/**
 * Azure OpenAI: where a node's requests go and how they are authenticated.
 *
 * Two URL styles (Azure OpenAI docs, "REST API reference" and "API version lifecycle"):
 * - `deployments`: `{resource}/openai/deployments/{deployment}/{path}?api-version={apiVersion}`;
 *   the deployment is the node's `modelMap` name for the model. Responses live outside the
 *   deployment (`/openai/responses?api-version=…`, model = deployment in the body).
 * - `v1`: `{resource}/openai/v1/{path}` (the model travels in the body, as on OpenAI);
 *   `api-version` only when set (e.g. `preview`).
 * The node's `baseUrl` is the resource endpoint (`https://res.openai.azure.com`); a trailing
 * `/openai` or `/openai/v1` is tolerated. The credential goes in `api-key`, never `Authorization`.
 */
import * as z from 'zod';
import { fail, ok, type ProviderNode, type Result } from '../types';

/** Per-node Azure settings (to be added to `nodes[]` when issue 20 wires providers in). */
/**
 * The oldest dated api-version that takes `stream_options`, which the router sends with every
 * chat stream to read its usage: an older one answers each stream 400 "Unrecognized request
 * argument", which would reach the caller as its own error. Dates compare as text.
 */
const STREAM_USAGE_SINCE = '2024-09-01';

export const AzureOptionsSchema = z.discriminatedUnion('style', [
  z.strictObject({
    style: z.literal('deployments'),
    apiVersion: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/, 'an Azure api-version such as 2024-10-21')
      .refine((v) => v.slice(0, 10) >= STREAM_USAGE_SINCE, `an api-version from ${STREAM_USAGE_SINCE}-preview on (2024-10-21 or later GA): older ones refuse the stream_options the router sends to read a stream's usage`),
  }),
  z.strictObject({ style: z.literal('v1'), apiVersion: z.string().regex(/^[a-z0-9-]+$/).optional() }),
]);
export type AzureOptions = z.infer<typeof AzureOptionsSchema>;

/** Azure OpenAI has no moderations endpoint. */
const UNSUPPORTED = new Set(['/moderations']);

function resourceOf(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '').replace(/\/openai(\/v1)?$/, '');
}

/** Upstream URL for a router endpoint path (`/chat/completions`, `/responses/{id}`, …). */
export function azureTarget(node: ProviderNode, azure: AzureOptions, model: string, routerPath: string): Result<string> {
  const q = routerPath.indexOf('?');
  const path = q < 0 ? routerPath : routerPath.slice(0, q);
  const query = q < 0 ? '' : routerPath.slice(q + 1);
  if (!path.startsWith('/') || path.split('/').some((s, i) => i > 0 && (s === '' || s === '.' || s === '..')))
    return fail('invalid_shape', 'Invalid endpoint path.', null);
  const group = path.split('/')[1] ?? '';
  if (UNSUPPORTED.has(`/${group}`)) return fail('unsupported_endpoint', `Azure OpenAI has no /${group} endpoint.`);
  const resource = resourceOf(node.baseUrl);
  let url: URL;
  if (azure.style === 'v1') {
    url = new URL(`${resource}/openai/v1${path}`);
  } else if (group === 'responses' || group === 'models') {
    url = new URL(`${resource}/openai${path}`);
  } else {
    const deployment = node.modelMap[model] ?? model;
    url = new URL(`${resource}/openai/deployments/${encodeURIComponent(deployment)}${path}`);
  }
  if (query) url.search = query;
  if (azure.apiVersion !== undefined) url.searchParams.set('api-version', azure.apiVersion);
  return ok(url.toString());
}

/** Azure's key header (Entra ID tokens would go in `Authorization: Bearer`; not supported yet). */
export function azureAuthHeaders(credential: string): Record<string, string> {
  return { 'api-key': credential };
}
