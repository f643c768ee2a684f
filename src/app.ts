/**
 * Route wiring: the whole request path, readable top to bottom. Each step is a named
 * function from its own module; errors thrown anywhere leave through `onError` as
 * OpenAI-shaped JSON.
 */
import { Hono, type Context } from 'hono';
import type { AppEnv } from './bindings';
import { adminGuard } from './auth/admin-guard';
import { authenticate } from './auth/keys';
import { keysRoutes } from './admin/keys-routes';
import { loadConfig } from './config/load';
import { errorResponse, RouterError } from './errors/router-error';
import { forward } from './forward/engine';
import { readBodyCapped } from './http/body';
import { requestId } from './http/request-id';
import { modelList, resolveModel } from './openai/models';
import { parseRequest, type Endpoint } from './openai/requests';
import { callerFromCf } from './routing/geo';

const UPSTREAM_PATH: Record<Endpoint, string> = { chat: '/chat/completions', embeddings: '/embeddings' };

/** POST /v1/chat/completions and /v1/embeddings. */
async function proxy(c: Context<AppEnv>, endpoint: Endpoint): Promise<Response> {
  const config = loadConfig(c.env);
  const key = await authenticate(c.req.raw, c.env.ROUTER_KV);
  const raw = await readBodyCapped(c.req.raw, config.limits.maxBodyBytes);
  const request = parseRequest(endpoint, raw);
  const model = resolveModel(config, request.body.model, key.models);
  const caller = callerFromCf(c.req.raw.cf as Record<string, unknown> | undefined);

  const result = await forward({
    config,
    env: c.env,
    path: UPSTREAM_PATH[endpoint],
    body: request.body,
    raw,
    stream: request.stream,
    model,
    caller,
    incomingHeaders: c.req.raw.headers,
    requestId: c.get('requestId'),
  });

  c.executionCtx.waitUntil(result.usage.then(() => undefined));
  const headers = result.response.headers;
  headers.set('x-router-node', result.node);
  headers.set('x-router-model', result.model);
  headers.set('x-router-attempts', String(result.attempts));
  return result.response;
}

/** Only `method` is allowed on this path: anything else is a 405 with `Allow`. */
function only(method: string, handler: (c: Context<AppEnv>) => Promise<Response> | Response) {
  return function methodGuard(c: Context<AppEnv>) {
    if (c.req.method === method || (method === 'GET' && c.req.method === 'HEAD')) return handler(c);
    throw new RouterError(405, `Method ${c.req.method} is not allowed on ${c.req.path}; use ${method}.`, {
      code: 'method_not_allowed',
      headers: { allow: method },
    });
  };
}

export const app = new Hono<AppEnv>();

app.use(requestId());

app.get('/healthz', (c) => c.json({ status: 'ok' }));

app.all('/v1/chat/completions', only('POST', (c) => proxy(c, 'chat')));
app.all('/v1/embeddings', only('POST', (c) => proxy(c, 'embeddings')));
app.all(
  '/v1/models',
  only('GET', async (c) => {
    const config = loadConfig(c.env);
    await authenticate(c.req.raw, c.env.ROUTER_KV);
    return c.json(modelList(config));
  }),
);

app.use('/admin/*', adminGuard());
app.route('/admin/keys', keysRoutes);

app.notFound((c) =>
  errorResponse(new RouterError(404, `Invalid URL (${c.req.method} ${c.req.path})`, { code: 'unknown_url' })),
);

app.onError((err, c) => {
  if (!(err instanceof RouterError)) {
    console.error(JSON.stringify({ requestId: c.get('requestId'), error: String(err), stack: (err as Error)?.stack }));
  }
  return errorResponse(err, { 'x-request-id': c.get('requestId') ?? '' });
});
