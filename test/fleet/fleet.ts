/**
 * Simulated fleet: OpenAI-compatible upstream nodes on loopback, each with fault knobs.
 *
 * Serves `npm run dev`, the workerd integration tests and the benchmarks. Runs in Node
 * (type-stripped TypeScript: erasable syntax only). Every node is a real HTTP server; a
 * control server changes knobs at run time so a test can make one node refuse, reset,
 * hang, answer 5xx/429 (to every request, or to those carrying a marker), cut or stall a
 * stream, or demand a credential.
 *
 * Control API (JSON):
 *   GET  /nodes                 → [{id, url, port, knobs, requests}]
 *   PUT  /nodes/:id             → merge knobs into that node (see `Knobs`)
 *   GET  /nodes/:id/requests    → the last requests that node received (headers, body)
 *   POST /reset                 → every node back to default knobs, logs cleared
 *   POST /webhook               → records an alert (a local Slack/Discord-style receiver)
 *   GET  /vertex-service-account → {json}: the key file the Vertex token node trusts (`vertex.ts`)
 *   GET  /webhook               → the alerts received, oldest first
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { handleAnthropic } from './anthropic.ts';
import { azureGate, onYourDataTokens } from './azure.ts';
import { chatAnswer, chatChoices, chunkChoices } from './chat-answer.ts';
import { handleBedrock } from './bedrock.ts';
import { handleMoreEndpoints } from './endpoints.ts';
import { SchemaRefusal, structuredAnswer } from './structured.ts';
import { writeEndlessEvent, writeErrorFirst } from './stream-faults.ts';
import { bpeTokens, chatPromptTokens, chatUsage } from './tokens.ts';
import { fleetServiceAccount, handleVertex, handleVertexToken } from './vertex.ts';
import { chatTemplateTokens, completionTokens, DEFAULT_KNOBS, embeddingInputs, errorBody, readBody, readBytes, refusedNotObject, sendJson, sleep, type Knobs, type SimNode, type Speaks } from './shared.ts';

type Body = Record<string, unknown>;

export interface FleetNodeSpec {
  id: string;
  port?: number;
  knobs?: Partial<Knobs>;
  /** The API it speaks (default `openai`; `bedrock`, `vertex`, `vertex-token`: `bedrock.ts`, `vertex.ts`). */
  speaks?: Speaks;
}

export interface Fleet {
  controlUrl: string;
  nodes: { id: string; port: number; url: string }[];
  /** With a `vertex-token` node: the service-account key file its token endpoint trusts. */
  vertexServiceAccount?: string;
  close(): Promise<void>;
}

async function handleNode(node: SimNode, req: http.IncomingMessage, res: http.ServerResponse) {
  const k = node.knobs;
  if (k.reset) {
    req.socket.destroy();
    return;
  }
  const bytes = await readBytes(req);
  const raw = bytes.toString('utf8');
  let body: Record<string, unknown> = {};
  try {
    body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
  } catch {
    // not JSON (multipart): recorded by size and hash below
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  node.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: raw ? body : null, raw, size: bytes.length, sha256 });
  if (node.requests.length > 100) node.requests.shift();
  node.served++;
  // The engine takes the request (and its id) as it arrives; `latencyMs` is its generation.
  if (k.engineRequestIds && node.speaks === 'openai' && engineRequestId(node, req, res)) return;
  if (k.hang || node.served <= k.hangFirst) return; // never answer; the router's timeout must fire
  // A Responses call on a stored conversation prefills its items too: the node reads them before it answers.
  const named = body.conversation;
  const conversationId = typeof named === 'string' ? named : (named as { id?: unknown } | null | undefined)?.id;
  const stored = typeof conversationId === 'string' ? node.conversations.get(conversationId) : undefined;
  const prefill = ((k.prefillMsPerKb ?? 0) * (bytes.length + (stored ? JSON.stringify(stored.items).length : 0))) / 1000;
  const model = typeof body.model === 'string' ? (k.modelLatencyMs?.[body.model] ?? 0) : 0;
  const format = (body.response_format as Body | undefined)?.type === 'json_schema' ? body.response_format : (body.text as Body | undefined)?.format;
  const schema = (format as Body | undefined)?.type === 'json_schema' ? JSON.stringify(format) : undefined;
  const processing = k.schemaMs && schema !== undefined && !node.schemas.has(schema) ? k.schemaMs : 0;
  if (schema !== undefined) node.schemas.add(schema);
  if (k.latencyMs + prefill + model + processing > 0) await sleep(k.latencyMs + prefill + model + processing);
  if (k.poisonText && raw.includes(k.poisonText)) return sendJson(res, 500, errorBody(500, `simulated 500 from ${node.id}: the request poisoned it`));
  if (k.tpmQuota && node.speaks === 'openai') {
    const requested = Math.ceil(bytes.length / 4) + Number(body.max_completion_tokens ?? body.max_tokens ?? body.max_output_tokens ?? 0);
    if (requested > k.tpmQuota) {
      const message = `Request too large for ${String(body.model)} in organization org-${node.id} on tokens per min (TPM): Limit ${k.tpmQuota}, Requested ${requested}. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.`;
      return sendJson(res, 429, { error: { message, type: 'tokens', param: null, code: 'rate_limit_exceeded' } });
    }
  }
  if (node.speaks === 'bedrock') return handleBedrock(node, req, res, bytes);
  if (node.speaks === 'vertex') return handleVertex(node, req, res, bytes);
  if (node.speaks === 'vertex-token') return handleVertexToken(node, req, res, bytes);
  if (node.speaks === 'anthropic') return handleAnthropic(node, req, res, (req.url ?? '').split('?')[0]!, body);
  const azurePath = node.speaks === 'azure' ? azureGate(node, req, res) : undefined;
  if (azurePath === null) return;

  if (!azurePath && k.requireKey && req.headers.authorization !== `Bearer ${k.requireKey}`) {
    return sendJson(res, 401, errorBody(401, 'Incorrect API key provided to simulated node.'));
  }
  const failing = k.status > 0 && (k.failFirst === 0 || node.served <= k.failFirst);
  const firstFailing = k.failFirst > 0 && node.served <= k.failFirst;
  if (failing || firstFailing) {
    const status = k.status || 500;
    const headers: Record<string, string> = {};
    if (k.retryAfter !== undefined) headers['retry-after'] = String(k.retryAfter);
    if (k.retryAfterMs !== undefined) headers['retry-after-ms'] = String(k.retryAfterMs);
    return sendJson(res, status, errorBody(status, k.errorMessage ?? `simulated ${status} from ${node.id}`), headers);
  }

  if (k.redirectTo) {
    res.writeHead(302, { location: k.redirectTo, 'content-length': 0 });
    return res.end();
  }
  const path = azurePath ?? (req.url ?? '').split('?')[0] ?? '';
  if (req.method === 'GET' && path === '/v1/models') {
    return sendJson(res, 200, { object: 'list', data: [{ id: 'sim-model', object: 'model', created: 0, owned_by: node.id }] });
  }
  if (req.method === 'POST' && path === '/v1/embeddings') {
    const inputs = embeddingInputs(body.input);
    const tokens = bpeTokens(body.input) + inputs.length * k.specialTokens;
    return sendJson(res, 200, {
      object: 'list',
      model: body.model,
      data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: [0.1, 0.2, 0.3, 0.4, index, 0.5, 0.6, 0.7] })),
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }
  if (req.method === 'POST' && path === '/v1/chat/completions') {
    // Like OpenAI: o-series and gpt-5 models refuse `max_tokens`.
    if (/^(o\d|gpt-5)/.test(String(body.model)) && body.max_tokens != null) {
      return sendJson(res, 400, {
        error: {
          message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
          type: 'invalid_request_error',
          param: 'max_tokens',
          code: 'unsupported_parameter',
        },
      });
    }
    // Like OpenAI: reasoning models take only the default sampling (temperature and top_p 1, or unset).
    if (/^(o\d|gpt-5)/.test(String(body.model))) {
      const sampling = (['temperature', 'top_p'] as const).find((p) => body[p] != null && body[p] !== 1);
      if (sampling) {
        return sendJson(res, 400, {
          error: {
            message: `Unsupported value: '${sampling}' does not support ${String(body[sampling])} with this model. Only the default (1) value is supported.`,
            type: 'invalid_request_error',
            param: sampling,
            code: 'unsupported_value',
          },
        });
      }
    }
    // Like OpenAI: only reasoning models (o-series, gpt-5) take `reasoning_effort`, and only its named levels.
    if (body.reasoning_effort != null) {
      const reasons = /^(o\d|gpt-5)/.test(String(body.model));
      const level = ['minimal', 'low', 'medium', 'high'].includes(String(body.reasoning_effort));
      if (!reasons || !level) {
        return sendJson(res, 400, {
          error: {
            message: reasons ? `Invalid value: '${String(body.reasoning_effort)}'. Supported values are: 'minimal', 'low', 'medium', and 'high'.` : "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
            type: 'invalid_request_error',
            param: 'reasoning_effort',
            code: reasons ? 'invalid_value' : 'unsupported_parameter',
          },
        });
      }
    }
    // Like OpenAI: a tool or message that is not an object is a 400 naming it, never a crash.
    if (refusedNotObject(res, body, ['messages', 'tools'])) return;
    const promptTokens = chatPromptTokens(body) + chatTemplateTokens(k, body) + (azurePath ? onYourDataTokens(body) : 0);
    const id = `chatcmpl-${node.id}-${node.served}`;
    const created = Math.floor(Date.now() / 1000);
    // A schema OpenAI refuses is its 400 before any byte of a stream (`SchemaRefusal`, below).
    structuredAnswer(body, node.id);
    if (body.stream === true) return streamChat(node, res, body, { id, created, promptTokens });
    const answer = chatAnswer(body, node.id, node.served, k.chunks);
    const completion = completionTokens(k, body);
    if (k.msPerToken > 0) await sleep(completion * k.msPerToken);
    if (k.cutBody) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 1000 });
      res.write(`{"id":"${id}","object":"chat.completion",`);
      return void setTimeout(() => res.socket?.destroy(), 20);
    }
    if (k.stallBody) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 1000 });
      return void res.write(`{"id":"${id}","object":"chat.completion",`); // the rest never comes
    }
    return sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model: body.model,
      choices: chatChoices(answer),
      ...(k.padBytes > 0 ? { padding: 'x'.repeat(k.padBytes) } : {}),
      usage: chatUsage(body, promptTokens, completion * answer.n, k.hiddenReasoningTokens, { read: k.cacheReadTokens, write: k.cacheWriteTokens }),
    }, {}, k.gzip);
  }
  if (await handleMoreEndpoints(node, req, res, path, body, bytes)) return;
  return sendJson(res, 404, { error: { message: `no route ${req.method} ${path}`, type: 'invalid_request_error', param: null, code: null } });
}

async function streamChat(
  node: SimNode,
  res: http.ServerResponse,
  body: Record<string, unknown>,
  meta: { id: string; created: number; promptTokens: number },
) {
  const k = node.knobs;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const base = { id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: body.model };
  const send = (obj: unknown) => res.write(`data: ${JSON.stringify(obj)}\n\n`);
  if (k.endlessEvent) return writeEndlessEvent(res);
  if (k.streamErrorCode) return writeErrorFirst(res, k.streamErrorCode, node.id);
  const answer = chatAnswer(body, node.id, node.served, k.chunks);
  const opts = body.stream_options as { include_usage?: boolean; continuous_usage_stats?: boolean } | undefined;
  // vLLM's `continuous_usage_stats`: every chunk carries the usage so far (one token a chunk here).
  const soFar = (i: number) =>
    opts?.continuous_usage_stats ? { usage: { prompt_tokens: meta.promptTokens, completion_tokens: i + 1, total_tokens: meta.promptTokens + i + 1 } } : k.usageNull && opts?.include_usage ? { usage: null } : {};
  for (let i = 0; i < k.chunks; i++) {
    if (i === k.cutAfterChunks) {
      res.socket?.destroy();
      return;
    }
    if (i === k.stallAfterChunks) return; // keep the socket open, send nothing more
    send({ ...base, choices: chunkChoices(answer, i), ...(k.padBytes > 0 ? { padding: 'x'.repeat(k.padBytes) } : {}), ...soFar(i) });
    if (k.chunkDelayMs > 0) await sleep(k.chunkDelayMs);
  }
  if (k.cutAfterChunks === k.chunks) {
    res.socket?.destroy();
    return;
  }
  send({ ...base, choices: chunkChoices(answer, 'end') });
  if (opts?.include_usage) {
    const completion = completionTokens(k, body);
    send({ ...base, choices: [], ...(k.padBytes > 0 ? { padding: 'x'.repeat(k.padBytes) } : {}), usage: chatUsage(body, meta.promptTokens, completion * answer.n, k.hiddenReasoningTokens, { read: k.cacheReadTokens, write: k.cacheWriteTokens }) });
  }
  res.end('data: [DONE]\n\n');
}

function listen(node: SimNode): Promise<void> {
  return new Promise((resolve, reject) => {
    node.server.once('error', reject);
    node.server.listen(node.port, '127.0.0.1', () => {
      node.server.off('error', reject);
      node.port = (node.server.address() as AddressInfo).port;
      node.listening = true;
      resolve();
    });
  });
}

function stopListening(node: SimNode): Promise<void> {
  node.listening = false;
  for (const s of node.sockets) s.destroy();
  return new Promise((resolve) => node.server.close(() => resolve()));
}

function makeServer(node: SimNode): http.Server {
  const server = http.createServer((req, res) => {
    handleNode(node, req, res).catch((err: unknown) => {
      // A schema OpenAI would refuse is its 400; anything else the node did not expect is a reset.
      if (err instanceof SchemaRefusal && !res.headersSent) sendJson(res, 400, { error: { message: err.message, type: 'invalid_request_error', param: err.param, code: null } });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s) => {
    node.sockets.add(s);
    s.on('close', () => node.sockets.delete(s));
  });
  return server;
}

function createNode(spec: FleetNodeSpec): SimNode {
  const knobs = { ...DEFAULT_KNOBS, ...spec.knobs };
  const node = {
    id: spec.id,
    speaks: spec.speaks ?? 'openai',
    port: spec.port ?? 0,
    knobs: { ...knobs },
    baseKnobs: knobs,
    sockets: new Set<Socket>(),
    requests: [],
    served: 0,
    listening: false,
    responses: new Map(),
    conversations: new Map(),
    schemas: new Set(),
    running: new Map(),
  } as unknown as SimNode;
  node.server = makeServer(node);
  return node;
}

async function applyKnobs(node: SimNode, patch: Partial<Knobs>, replace = false) {
  node.knobs = replace ? { ...DEFAULT_KNOBS, ...patch } : { ...node.knobs, ...patch };
  if (node.knobs.refuse && node.listening) await stopListening(node);
  if (!node.knobs.refuse && !node.listening) {
    node.server = makeServer(node); // a closed http.Server cannot listen again
    await listen(node);
  }
}

/** Start the fleet. Ports default to 0 (the OS picks free loopback ports). */
export async function startFleet(specs: FleetNodeSpec[], controlPort = 0): Promise<Fleet> {
  const nodes = specs.map(createNode);
  await Promise.all(nodes.map(listen));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  let alerts: unknown[] = [];
  const tokenNode = nodes.find((n) => n.speaks === 'vertex-token');
  const vertexServiceAccount = () => (tokenNode ? fleetServiceAccount(`http://127.0.0.1:${tokenNode.port}/token`) : undefined);
  const control = http.createServer(async (req, res) => {
    try {
      const parts = ((req.url ?? '/').split('?')[0] ?? '').split('/').filter(Boolean);
      if (req.method === 'GET' && parts[0] === 'nodes' && parts.length === 1) {
        return sendJson(res, 200, nodes.map((n) => ({ id: n.id, port: n.port, url: `http://127.0.0.1:${n.port}/v1`, knobs: n.knobs, requests: n.served })));
      }
      const node = parts[0] === 'nodes' ? byId.get(parts[1] ?? '') : undefined;
      if (parts[0] === 'nodes' && !node) return sendJson(res, 404, { error: 'unknown node' });
      if (node && req.method === 'PUT' && parts.length === 2) {
        await applyKnobs(node, JSON.parse((await readBody(req)) || '{}') as Partial<Knobs>);
        return sendJson(res, 200, { id: node.id, knobs: node.knobs });
      }
      if (node && req.method === 'GET' && parts[2] === 'requests') return sendJson(res, 200, node.requests);
      if (parts[0] === 'webhook' && req.method === 'POST') {
        alerts.push(JSON.parse((await readBody(req)) || 'null'));
        return sendJson(res, 200, { ok: true });
      }
      if (parts[0] === 'webhook' && req.method === 'GET') return sendJson(res, 200, alerts);
      // The Vertex service-account key file the token endpoint trusts (workerd tests hold it as a secret).
      if (parts[0] === 'vertex-service-account' && req.method === 'GET') return sendJson(res, 200, { json: vertexServiceAccount() ?? null });
      if (req.method === 'POST' && parts[0] === 'reset') {
        alerts = [];
        for (const n of nodes) {
          await applyKnobs(n, n.baseKnobs, true);
          n.requests = [];
          n.served = 0;
          n.responses.clear();
          n.conversations.clear();
          n.schemas.clear();
          n.running.clear();
        }
        return sendJson(res, 200, { ok: true });
      }
      return sendJson(res, 404, { error: 'unknown control route' });
    } catch (err) {
      return sendJson(res, 500, { error: String(err) });
    }
  });
  await new Promise<void>((resolve) => control.listen(controlPort, '127.0.0.1', () => resolve()));
  const controlUrl = `http://127.0.0.1:${(control.address() as AddressInfo).port}`;
  return {
    controlUrl,
    ...(tokenNode ? { vertexServiceAccount: vertexServiceAccount() } : {}),
    nodes: nodes.map((n) => ({ id: n.id, port: n.port, url: `http://127.0.0.1:${n.port}/v1` })),
    async close() {
      await Promise.all(nodes.map((n) => (n.listening ? stopListening(n) : undefined)));
      control.closeAllConnections();
      await new Promise<void>((resolve) => control.close(() => resolve()));
    },
  };
}

/**
 * vLLM's engine runs a request under its `X-Request-Id` (knob `engineRequestIds`): an id
 * already running is refused, and the error path aborts that id — the running request. True
 * when this request was refused.
 */
function engineRequestId(node: SimNode, req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const id = req.headers['x-request-id'];
  if (typeof id !== 'string') return false;
  const running = node.running.get(id);
  if (running) {
    node.running.delete(id);
    running.destroy();
    sendJson(res, 500, errorBody(500, `Request id ${id} already running.`));
    return true;
  }
  node.running.set(id, res);
  res.on('close', () => {
    const forget = () => {
      if (node.running.get(id) === res) node.running.delete(id);
    };
    // A caller that hung up before the answer ended: the engine may notice late (`engineAbortLagMs`).
    if (!res.writableFinished && node.knobs.engineAbortLagMs > 0) setTimeout(forget, node.knobs.engineAbortLagMs);
    else forget();
  });
  return false;
}

