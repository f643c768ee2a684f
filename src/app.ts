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
import { routingRoutes } from './admin/routing-routes';
import { loadConfig, modelChain } from './config/load';
import { errorResponse, RouterError } from './errors/router-error';
import { forward } from './forward/engine';
import { admitKey, nodeReserver } from './limits/admission';
import { reservedTokens } from './limits/reservation';
import { readBodyCapped } from './http/body';
import { requestId } from './http/request-id';
import { modelAllowed, modelList, resolveModel } from './openai/models';
import { parseRequest, type Endpoint } from './openai/requests';
import { callerFromCf, type CallerLocation } from './routing/geo';
import { flushSamples, recordSample } from './routing/samples';
import { loadRouteTable } from './routing/table';

const UPSTREAM_PATH: Record<Endpoint, string> = { chat: '/chat/completions', embeddings: '/embeddings' };

/** POST /v1/chat/completions and /v1/embeddings. */
async function proxy(c: Context<AppEnv>, endpoint: Endpoint): Promise<Response> {
  const config = loadConfig(c.env);
  const key = await authenticate(c.req.raw, c.env.ROUTER_KV);
  const raw = await readBodyCapped(c.req.raw, config.limits.maxBodyBytes);
  const request = parseRequest(endpoint, raw);
  const model = resolveModel(config, request.body.model, key.models);
  const allowed = (m: string) => modelAllowed(config, key.models, m);
  const caller = callerFromCf(c.req.raw.cf as Record<string, unknown> | undefined);
  const reservation = { model, tokens: reservedTokens(config, request, modelChain(config, model).filter(allowed)) };
  const defer = (work: Promise<unknown>) => c.executionCtx.waitUntil(work.catch(logBackgroundFailure));

  // Admission and the routing table load run side by side, never one after the other.
  const [admission, table] = await Promise.all([
    admitKey(c.env, config, key, reservation),
    loadRouteTable(c.env.ROUTER_KV, caller.colo),
  ]);
  c.set('rateLimitHeaders', admission.headers);

  // From here on the admission is settled on every path, thrown errors included.
  let result: Awaited<ReturnType<typeof forward>>;
  try {
    result = await forward({
      config,
      env: c.env,
      path: UPSTREAM_PATH[endpoint],
      request,
      model,
      allowed,
      caller,
      table,
      observe: sampler(caller),
      incomingHeaders: c.req.raw.headers,
      requestId: c.get('requestId'),
      reserveNode: nodeReserver(c.env, config, reservation),
      extend: () => admission.extend(),
      defer,
    });
  } catch (err) {
    defer(admission.settle({ unserved: true }));
    throw err;
  } finally {
    defer(flushSamples(c.env, Date.now()));
  }
  if (!result.ok) {
    defer(admission.settle({ unserved: true, abandoned: result.abandoned }));
    throw result.error;
  }

  // After the last byte (or the client leaving): free the slots, settle tokens at real usage.
  const { abandoned, nodeReservation } = result;
  const served = result.response.ok;
  defer(
    result.usage.then((usage) =>
      Promise.all([admission.settle({ usage, unserved: !served, abandoned }), nodeReservation?.settle({ usage, unserved: !served })]),
    ),
  );
  const headers = result.response.headers;
  for (const [name, value] of Object.entries(admission.headers)) headers.set(name, value);
  headers.set('x-router-node', result.node);
  headers.set('x-router-model', result.model);
  headers.set('x-router-attempts', String(result.attempts));
  headers.set('x-router-route', result.route);
  return result.response;
}

/** Passive samples for the caller's colo (none when the colo is unknown). */
function sampler(caller: CallerLocation) {
  const { colo, lat, lon } = caller;
  if (!colo) return undefined;
  const coords = lat !== undefined && lon !== undefined ? { lat, lon } : undefined;
  return (node: string, ttfbMs: number, ok: boolean, error?: string) =>
    recordSample({ colo, node, ttfbMs, ok, at: Date.now(), ...(error ? { error } : {}) }, coords);
}

/** Background work (settling limits, flushing samples) must not fail the request; it is logged. */
function logBackgroundFailure(err: unknown): void {
  console.error(JSON.stringify({ background: 'failed', error: String(err) }));
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
app.route('/admin', routingRoutes);

app.notFound((c) =>
  errorResponse(new RouterError(404, `Invalid URL (${c.req.method} ${c.req.path})`, { code: 'unknown_url' })),
);

app.onError((err, c) => {
  if (!(err instanceof RouterError)) {
    console.error(JSON.stringify({ requestId: c.get('requestId'), error: String(err), stack: (err as Error)?.stack }));
  }
  // Rate-limit headers ride on every response after admission, errors included; operator
  // detail (a broken config's field paths) only on requests that proved the admin token.
  return errorResponse(err, { ...c.get('rateLimitHeaders'), 'x-request-id': c.get('requestId') ?? '' }, c.get('admin') === true);
});
