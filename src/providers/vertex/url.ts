/**
 * Vertex AI endpoints (Google "Vertex AI REST reference", "Call Vertex AI models by using
 * the OpenAI library", "Use Claude on Vertex AI"):
 *
 * - host: `https://{region}-aiplatform.googleapis.com`, or `https://aiplatform.googleapis.com`
 *   for the `global` location (or the node's `baseUrl`, for tests);
 * - Gemini (and other Google / open models): the OpenAI-compatible
 *   `/v1/projects/{project}/locations/{region}/endpoints/openapi/chat/completions`, the body
 *   passed through with `model` = `google/{model}` (a name already holding a publisher,
 *   `meta/llama-…`, is kept);
 * - Claude: `/v1/projects/{project}/locations/{region}/publishers/anthropic/models/{model}:rawPredict`
 *   or `:streamRawPredict`, a Messages body with `anthropic_version: "vertex-2023-10-16"`.
 * A model is Claude when its node name starts with `claude` (or `anthropic/claude`).
 *
 * Probe: `GET /v1/projects/{project}/locations/{region}/endpoints?pageSize=1`
 * (`projects.locations.endpoints.list`): authenticated, unbilled, proves the token, the
 * project and the region.
 */
import { fail, ok, type Result } from '../types';

export interface VertexNode {
  project: string;
  region: string;
  /** Host override (tests); default the regional `aiplatform.googleapis.com` host. */
  baseUrl?: string;
}

const PROJECT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const REGION = /^([a-z]+-[a-z]+\d+|global)$/;

export type VertexRoute = { kind: 'openapi'; url: string; model: string } | { kind: 'anthropic'; url: string };

function base(node: VertexNode): Result<string> {
  if (!PROJECT.test(node.project)) return fail('unsupported_value', `"${node.project}" is not a Google Cloud project id.`, 'project');
  if (!REGION.test(node.region)) return fail('unsupported_value', `"${node.region}" is not a Vertex AI location.`, 'region');
  const host = node.baseUrl ? node.baseUrl.replace(/\/+$/, '') : node.region === 'global' ? 'https://aiplatform.googleapis.com' : `https://${node.region}-aiplatform.googleapis.com`;
  return ok(`${host}/v1/projects/${node.project}/locations/${node.region}`);
}

export function isClaude(upstreamModel: string): boolean {
  return /^(anthropic\/)?claude/.test(upstreamModel);
}

export function vertexRoute(node: VertexNode, upstreamModel: string, stream: boolean): Result<VertexRoute> {
  const b = base(node);
  if (!b.ok) return b;
  if (isClaude(upstreamModel)) {
    const name = upstreamModel.replace(/^anthropic\//, '');
    return ok({ kind: 'anthropic', url: `${b.value}/publishers/anthropic/models/${encodeURIComponent(name)}:${stream ? 'streamRawPredict' : 'rawPredict'}` });
  }
  return ok({ kind: 'openapi', url: `${b.value}/endpoints/openapi/chat/completions`, model: upstreamModel.includes('/') ? upstreamModel : `google/${upstreamModel}` });
}

export function vertexProbe(node: VertexNode): Result<{ url: string; method: 'GET' }> {
  const b = base(node);
  return b.ok ? ok({ url: `${b.value}/endpoints?pageSize=1`, method: 'GET' }) : b;
}
