/**
 * Route wiring: the whole request path, readable top to bottom. Each step is a named
 * function from its own module; errors thrown anywhere leave through `onError` as
 * OpenAI-shaped JSON.
 */
import { type Context } from 'hono';
import { Hono } from 'hono/tiny';
import type { AppEnv } from './bindings';
import { authenticate, type KeyRecord } from './auth/keys';
import { mountAdmin } from './admin/mount';
import { loadConfig, modelChain, type LoadedConfig } from './config/load';
import { errorResponse, RouterError } from './errors/router-error';
import { forward, type ForwardInput } from './forward/engine';
import { admitKey, nodeReserver } from './limits/admission';
import { compactionPasses, promptTokens, requestUnits, reservedTokens, serialClass, worstCostUsd } from './limits/reservation';
import { logBackgroundFailure } from './http/background';
import { readBodyCapped } from './http/body';
import { withBodyBudget, type EndsWith } from './http/body-budget';
import { checkFormParts } from './http/form-parts';
import { checkJsonShape } from './http/json-shape';
import { requestId } from './http/request-id';
import { modelAllowed, modelInfo, modelList, resolveModel } from './openai/models';
import { ENDPOINTS, readsResponses, type Endpoint } from './openai/endpoints';
import { isFormEndpoint, MAX_JSON_DEPTH, parseJsonRequest, parseRequest } from './openai/requests';
import { responseState } from './openai/response-state';
import { inputTokens } from './openai/input-tokens';
import { responseRoutes } from './openai/response-routes';
import { conversationRoutes } from './openai/conversation-routes';
import { anthropicErrorResponse, anthropicFace, countTokens } from './providers/anthropic-inbound/route';
import { baseUrlHint } from './http/url-hint';
import { callerFromCf, type CallerLocation } from './routing/geo';
import { flushSamples, recordSample, samplesDue } from './routing/samples';
import { loadRouteTable } from './routing/table';
import { flushRollupsWhenDue } from './usage/rollup-batch';
import { recordRequest, type RequestRecord } from './usage/request-log';
import type { RequestUnits } from './usage/cost';

/** Every generating endpoint, by path (README "API"). */
const PROXIED: [string, Endpoint][] = [
  ['/v1/chat/completions', 'chat'],
  ['/v1/completions', 'completions'],
  ['/v1/embeddings', 'embeddings'],
  ['/v1/responses', 'responses'],
  ['/v1/responses/compact', 'responsesCompact'],
  ['/v1/moderations', 'moderations'],
  ['/v1/images/generations', 'images'],
  ['/v1/images/edits', 'imageEdits'],
  ['/v1/audio/speech', 'speech'],
  ['/v1/audio/transcriptions', 'transcriptions'],
  ['/v1/audio/translations', 'translations'],
];

/** POST to every generating endpoint: one pipeline. */
async function proxy(c: Context<AppEnv>, endpoint: Endpoint): Promise<Response> {
  const config = loadConfig(c.env);
  const key = await authenticate(c.req.raw, c.env.ROUTER_KV, { xApiKey: endpoint === 'messages' });
  const caller = callerFromCf(c.req.raw.cf as Record<string, unknown> | undefined);
  const defer = (work: Promise<unknown>) => c.executionCtx.waitUntil(work.catch(logBackgroundFailure));
  // Every authenticated request leaves one record (log line, analytics point, rollup row).
  const started = Date.now();
  const base = { requestId: c.get('requestId'), keyId: key.id, endpoint, colo: caller.colo ?? null, model: '-', units: undefined as RequestUnits | undefined };
  const record = (r: Pick<RequestRecord, 'answeredModel' | 'node' | 'attempts' | 'status' | 'ttfbMs' | 'usage'>) => {
    const cost = recordRequest(c.env, config, { ...base, ...r, durationMs: Date.now() - started }, Date.now());
    const flush = flushRollupsWhenDue(c.env.USAGE_ROLLUPS, config.usage.shards);
    if (flush) defer(flush);
    return cost;
  };
  const run = pipeline(c, endpoint, { config, key, caller, defer, base, record, started }).catch((err: unknown) => {
    const status = err instanceof RouterError ? err.status : 500;
    record({ answeredModel: null, node: null, attempts: Number(err instanceof RouterError ? (err.headers?.['x-router-attempts'] ?? 0) : 0), status, ttfbMs: Date.now() - started, usage: undefined });
    throw err;
  });
  // A client that leaves before the response cancels this handler's awaits: the request would
  // never settle, its slot and reservation held until the object's alarm (the longest deadline
  // + 30 s). Work kept by waitUntil outlives the client: the walk sees it leave
  // (`request.signal`, `ForwardInput.gone`), stops, and settles at once.
  c.executionCtx.waitUntil(run.then(ignore, ignore));
  return run;
}

const ignore = () => undefined;

/** What `proxy` settles before the pipeline runs: who asks, from where, and how the request is recorded. */
interface RequestScope {
  config: LoadedConfig;
  key: KeyRecord & { id: string };
  caller: CallerLocation;
  defer: (work: Promise<unknown>) => void;
  /** The record's fields known so far; `model` once resolved, `units` (what per-request prices count) once parsed. */
  base: { model: string; units: RequestUnits | undefined };
  record: (r: Pick<RequestRecord, 'answeredModel' | 'node' | 'attempts' | 'status' | 'ttfbMs' | 'usage'>) => number | null;
  started: number;
}

/**
 * A request whose body is large holds its size of the isolate's body budget
 * (`http/body-budget.ts`) until it ends — its last byte delivered, or its error — or waits for
 * room, or is a 503 the SDKs retry.
 */
function pipeline(c: Context<AppEnv>, endpoint: Endpoint, scope: RequestScope): Promise<Response> {
  const { limits } = scope.config;
  const cap = ENDPOINTS[endpoint].body === 'multipart' ? limits.maxUploadBytes : limits.maxBodyBytes;
  // Small bodies (nearly all) are not counted: no await, no bookkeeping on the hot path.
  return withBodyBudget(c.req.header('content-length'), cap, limits, (endsWith) => forwardRequest(c, endpoint, scope, cap, endsWith));
}

async function forwardRequest(c: Context<AppEnv>, endpoint: Endpoint, scope: RequestScope, cap: number, endsWith: EndsWith): Promise<Response> {
  const { config, key, caller, defer, base, record, started } = scope;
  const raw = await readBodyCapped(c.req.raw, cap, config.limits.bodyReadMs);
  // A JSON body is parsed without a promise hop, a form by the runtime; either once its shape
  // is known not to cost more than its size justifies (`json-shape.ts`, `form-parts.ts`).
  // A form is parsed with the boundary its parts were counted by (`form-parts.ts`).
  let request;
  if (isFormEndpoint(endpoint)) request = await parseRequest(endpoint, raw, checkFormParts(raw, c.req.header('content-type')));
  else {
    checkJsonShape(raw, MAX_JSON_DEPTH);
    request = parseJsonRequest(endpoint, raw);
  }
  const model = resolveModel(config, request.body.model, key.models);
  base.model = model;
  base.units = requestUnits(request);
  const allowed = (m: string) => modelAllowed(config, key.models, m);
  // Estimated only if something reads it (a key or node with limits): the estimate walks the
  // whole body, images' data-URL headers included, and unlimited traffic never needs it.
  let prompt: number | undefined;
  let chain: string[] | undefined;
  let tokens: number | undefined;
  let worst: number | undefined;
  // Shared by both figures: the prompt is estimated and the chain filtered once.
  const chainOf = () => (chain ??= modelChain(config, model).filter(allowed));
  // Responses: a verified previous_response_id (or conversation) pins the node; the former carries its stored context,
  // which the upstream bills as input, so it is reserved as prompt (`response-state.ts`) — twice
  // over when the request compacts it (`compactionPasses`), as the body's own prompt is.
  const state = readsResponses(endpoint) ? await responseState(c.env, config, request, key, chainOf) : undefined;
  const pinned = state?.pinned;
  const promptOf = () => (prompt ??= promptTokens(request, config, chainOf()) + (state?.contextTokens ?? 0) * compactionPasses(request));
  const reservation = {
    model,
    get tokens() {
      return (tokens ??= reservedTokens(config, request, chainOf(), promptOf()));
    },
    get worstCostUsd() {
      return (worst ??= worstCostUsd(config, request, chainOf(), promptOf()));
    },
    get serial() {
      return serialClass(config, request, chainOf());
    },
  };
  // Admission and the routing table load run side by side, never one after the other.
  const [admission, table] = await Promise.all([
    admitKey(c.env, config, key, reservation, defer),
    loadRouteTable(c.env.ROUTER_KV, caller.colo),
  ]);
  c.set('rateLimitHeaders', admission.headers);

  // From here on the admission is settled on every path, thrown errors included.
  let result: Awaited<ReturnType<typeof forward>>;
  try {
    result = await forward({
      config,
      env: c.env,
      request,
      keyId: key.id,
      ...(pinned ? { pinned } : {}),
      // The ids this response hands out bound its stored context by everything it reserved.
      ...(state?.signer
        ? { responseIds: { keyId: key.id, signer: state.signer, contextTokens: reservation.tokens, ...(state.previous ? { previous: state.previous } : {}), ...(state.conversation ? { conversation: state.conversation } : {}) } }
        : {}),
      model,
      allowed,
      caller,
      table,
      observe: sampler(caller),
      incomingHeaders: c.req.raw.headers,
      requestId: c.get('requestId'),
      upstreamRequestId: c.get('upstreamRequestId'),
      answerHeaders: { ...admission.headers, 'x-request-id': c.get('requestId') },
      reserveNode: nodeReserver(c.env, config, reservation, defer),
      extend: () => admission.extend(),
      defer,
      gone: c.req.raw.signal,
    });
  } catch (err) {
    defer(admission.settle({ unserved: true }));
    throw err;
  } finally {
    const now = Date.now();
    if (samplesDue(now)) defer(flushSamples(c.env, now));
  }
  if (!result.ok) {
    defer(admission.settle({ unserved: true, abandoned: result.abandoned }));
    // A refusal after admission (reserving another attempt) carries the window it saw; every
    // error face lets the error's own headers win over the admission's.
    throw result.error;
  }

  // After the last byte (or the client leaving): free the slots, settle tokens at real usage.
  const { abandoned, nodeReservation } = result;
  const served = result.response.ok;
  const answered = { answeredModel: result.model, node: result.node, attempts: result.attempts, status: result.response.status, ttfbMs: Date.now() - started };
  defer(
    result.usage.then((usage) => {
      const cost = record({ ...answered, usage });
      // Budgets: an answer with usage but no price costs nothing known; one whose cost is unknown (token
      // prices, no usage) is held at its worst case; one priced per request costs that, usage or not.
      const costUsd = usage || cost !== null ? (cost ?? 0) : undefined;
      return Promise.all([admission.settle({ usage, unserved: !served, abandoned, costUsd }), nodeReservation?.settle({ usage, unserved: !served })]);
    }),
  );
  endsWith(result.usage);
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

for (const [path, endpoint] of PROXIED) app.all(path, only('POST', (c) => proxy(c, endpoint)));
// Counted by the router, as Anthropic's count_tokens (`openai/input-tokens.ts`); before the `/:id` follow-ups.
app.all('/v1/responses/input_tokens', only('POST', inputTokens));
app.route('/v1/responses', responseRoutes);
// Conversations: node state bound to the key, as stored responses (`openai/conversation-routes.ts`).
app.route('/v1/conversations', conversationRoutes);
// Anthropic Messages callers: the same pipeline, Anthropic's errors and headers (`providers/anthropic-inbound/route.ts`).
app.all('/v1/messages', anthropicFace(only('POST', (c) => proxy(c, 'messages'))));
app.all('/v1/messages/count_tokens', anthropicFace(only('POST', countTokens)));
// Other Messages paths (batches, …) are not served: their 404 in Anthropic's shape too.
app.all(
  '/v1/messages/*',
  anthropicFace((c) => {
    throw new RouterError(404, `Invalid URL (${c.req.method} ${c.req.path})`, { code: 'unknown_url' });
  }),
);
/**
 * The model list and one model, in the caller's API shape: Anthropic's SDK (it always sends
 * `anthropic-version`, and its key as `x-api-key`) gets Anthropic's list, model and errors.
 */
function models(read: (c: Context<AppEnv>, config: LoadedConfig, allowed: string[] | undefined, shape: 'openai' | 'anthropic') => unknown) {
  const serve = (shape: 'openai' | 'anthropic') =>
    only('GET', async (c) => {
      const config = loadConfig(c.env);
      const key = await authenticate(c.req.raw, c.env.ROUTER_KV, { xApiKey: shape === 'anthropic' });
      return c.json(read(c, config, key.models, shape));
    });
  const openai = serve('openai');
  const anthropic = anthropicFace(serve('anthropic'));
  return (c: Context<AppEnv>) => (c.req.header('anthropic-version') ? anthropic(c) : openai(c));
}
app.all('/v1/models', models((_c, config, allowed, shape) => modelList(config, allowed, shape)));
// Model ids may hold '/' (`meta-llama/…`): the rest of the path is the id, as the SDKs encode it.
app.all('/v1/models/:id{.+}', models((c, config, allowed, shape) => modelInfo(config, c.req.param('id') ?? '', allowed, shape)));

mountAdmin(app);

app.notFound((c) => {
  const hint = baseUrlHint(c.req.path);
  const error = new RouterError(404, `Invalid URL (${c.req.method} ${c.req.path})${hint ? `: ${hint}` : ''}`, { code: 'unknown_url' });
  // An Anthropic SDK (it sends anthropic-version) reads its own error shape.
  return c.req.header('anthropic-version') ? anthropicErrorResponse(error, c) : errorResponse(error, { 'x-request-id': c.get('requestId') ?? '' });
});

app.onError((err, c) => {
  if (!(err instanceof RouterError)) {
    console.error(JSON.stringify({ requestId: c.get('requestId'), error: String(err), stack: (err as Error)?.stack }));
  }
  // Rate-limit headers ride on every response after admission, errors included; operator
  // detail (a broken config's field paths) only on requests that proved the admin token.
  return errorResponse(err, { ...c.get('rateLimitHeaders'), 'x-request-id': c.get('requestId') ?? '' }, c.get('admin') === true);
});
