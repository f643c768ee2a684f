/**
 * The Worker's fetch. `POST` to a generating endpoint, its path spelt exactly, runs the
 * pipeline (`app.ts` `proxy`) straight away, with the same request id and error response
 * as through the app; every other request (a trailing slash or an escaped letter included,
 * which Hono's pattern router still matches to the same pipeline) goes to the Hono app.
 * Skipping Hono saves its per-request Context, request wrapper, the scan of every route
 * and the middleware chain on the path nearly all traffic takes (README "Benchmarks").
 */
import { app, failed, proxy, PROXIED } from './app';
import type { Bindings } from './bindings';
import { requestIdOf } from './http/request-id';
import type { Endpoint } from './openai/endpoints';

/** The hot routes by path: a `POST` whose path is one of these exactly (no `%`) runs the pipeline directly. */
const HOT = new Map(PROXIED);

/** The request's path as Hono reads it (`hono/utils/url` getPath) when it has no `%`; undefined otherwise. */
function plainPath(url: string): string | undefined {
  const start = url.indexOf('/', url.indexOf(':') + 4);
  const query = url.indexOf('?', start);
  const path = query < 0 ? url.slice(start) : url.slice(start, query);
  return path.includes('%') ? undefined : path;
}

/** The Worker's fetch (see the module header). */
export function fetchRouter(request: Request, env: Bindings, ctx: ExecutionContext): Response | Promise<Response> {
  const endpoint = request.method === 'POST' ? HOT.get(plainPath(request.url) ?? '') : undefined;
  if (endpoint === undefined) return app.fetch(request, env, ctx);
  return hot(request, env, ctx, endpoint);
}

async function hot(raw: Request, env: Bindings, ctx: ExecutionContext, endpoint: Endpoint): Promise<Response> {
  const requestId = requestIdOf(raw.headers.get('x-request-id'));
  let limits: Record<string, string> | undefined;
  let response: Response;
  try {
    response = await proxy({ raw, env, ctx, requestId, limitHeaders: (headers) => (limits = headers) }, endpoint);
  } catch (err) {
    return failed(err, requestId, limits, false);
  }
  // The pipeline's answers carry the request id already (`answerHeaders`); set again only if one did not.
  if (!response.headers.has('x-request-id')) response.headers.set('x-request-id', requestId);
  return response;
}
