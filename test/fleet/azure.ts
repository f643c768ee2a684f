/**
 * A simulated Azure OpenAI resource in front of the OpenAI-compatible node logic: checks what
 * Azure checks before a model runs, then hands the request on as an OpenAI path.
 * - `api-key` header (when the node demands a key; `Authorization` is not read);
 * - deployments style `/openai/deployments/{deployment}/{path}?api-version=…` (api-version
 *   required; an unknown `api-version` format is a 404 like Azure's) and the v1 style
 *   `/openai/v1/{path}`; the models list at `/openai/models?api-version=…` or `/openai/v1/models`;
 *   Responses at `/openai/responses[/{id}…]?api-version=…`;
 * - the `contentFilter` knob answers Azure's content-filter 400; a `status` 429 carries
 *   `retry-after-ms` (with the `retryAfterMs` knob) in Azure's error shape.
 */
import type http from 'node:http';
import { sendJson, type SimNode } from './shared.ts';

/**
 * Azure OpenAI "On Your Data": a chat request with `data_sources` (Azure AI Search, Cosmos DB,
 * …) has Azure retrieve `top_n_documents` chunks (default 5, of up to 1,024 tokens each) and
 * put them into the prompt, billed as prompt tokens the body never held.
 */
export function onYourDataTokens(body: Record<string, unknown>): number {
  const sources = body.data_sources;
  if (!Array.isArray(sources) || sources.length === 0) return 0;
  return sources.reduce<number>((sum, s) => {
    const top = (s as { parameters?: { top_n_documents?: unknown } } | null)?.parameters?.top_n_documents;
    return sum + (typeof top === 'number' ? top : 5) * 1_024;
  }, 0);
}

function azureError(res: http.ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) {
  return sendJson(res, status, { error: { code, message } }, headers);
}

/** The OpenAI path to serve, or null when this answered already (an Azure-level refusal). */
export function azureGate(node: SimNode, req: http.IncomingMessage, res: http.ServerResponse): string | null {
  const k = node.knobs;
  const url = new URL(req.url ?? '/', 'http://sim');
  if (k.requireKey && req.headers['api-key'] !== k.requireKey) {
    azureError(res, 401, '401', 'Access denied due to invalid subscription key or wrong API endpoint.');
    return null;
  }
  let path: string;
  const deployment = /^\/openai\/deployments\/([^/]+)(\/.*)$/.exec(url.pathname);
  if (deployment) {
    if (!url.searchParams.get('api-version')) {
      azureError(res, 404, '404', 'Resource not found (api-version missing).');
      return null;
    }
    if (k.knownDeployments && !k.knownDeployments.includes(decodeURIComponent(deployment[1]!))) {
      azureError(res, 404, 'DeploymentNotFound', 'The API deployment for this resource does not exist.');
      return null;
    }
    path = `/v1${deployment[2]}`;
  } else if (url.pathname.startsWith('/openai/v1/')) {
    path = url.pathname.slice('/openai'.length);
  } else if (url.pathname === '/openai/models' && url.searchParams.get('api-version')) {
    path = '/v1/models';
  } else if (/^\/openai\/responses(\/|$)/.test(url.pathname) && url.searchParams.get('api-version')) {
    // Responses live outside the deployments (the model is the deployment named in the body).
    path = `/v1${url.pathname.slice('/openai'.length)}`;
  } else {
    azureError(res, 404, '404', 'Resource not found');
    return null;
  }
  const failing = k.status > 0 && (k.failFirst === 0 || node.served <= k.failFirst);
  if (failing || (k.failFirst > 0 && node.served <= k.failFirst)) {
    const status = k.status || 500;
    const headers: Record<string, string> = {};
    if (k.retryAfter !== undefined) headers['retry-after'] = String(k.retryAfter);
    if (k.retryAfterMs !== undefined) headers['retry-after-ms'] = String(k.retryAfterMs);
    azureError(res, status, String(status), k.errorMessage ?? `simulated ${status} from ${node.id}`, headers);
    return null;
  }
  if (k.contentFilter && req.method === 'POST') {
    sendJson(res, 400, {
      error: {
        message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
        type: null,
        param: 'prompt',
        code: 'content_filter',
        status: 400,
        innererror: { code: 'ResponsibleAIPolicyViolation', content_filter_result: { hate: { filtered: true, severity: 'high' } } },
      },
    });
    return null;
  }
  return path;
}
