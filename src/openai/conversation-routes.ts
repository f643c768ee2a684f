/**
 * The Conversations API (`client.conversations.*`): `POST /v1/conversations` (create),
 * `GET`/`POST`/`DELETE /v1/conversations/{id}` (retrieve, update, delete), `POST`/`GET
 * …/{id}/items` (add items, list them) and `GET`/`DELETE …/{id}/items/{item_id}`.
 *
 * A conversation is the node's state, as a stored response is: create picks a node — the
 * caller's nearest healthy OpenAI node that serves Responses and a model the key may use,
 * failing over to the next as a first Responses call does, and past a node whose 404 or 405
 * says it has no Conversations API — and hands back an id signed for
 * that node and the key (`conversation-ids.ts`). Every later call, and a Responses request's
 * `conversation` (`response-state.ts`), verifies it: another key's, a forged or an unsigned
 * id is OpenAI's 404 for an unknown conversation before any node is asked; a verified one goes
 * only to its node, whose failure is a 503 `stateful_node_unavailable`.
 * Each call generates nothing and reserves no tokens or spend (items are stored, not read: a
 * Responses request that reads them reserves the model's context window), but is one of the
 * key's requests: it counts against `rpm` and holds a `concurrency` slot while it runs.
 */
import { type Context } from 'hono';
import { Hono } from 'hono/tiny';
import * as z from 'zod';
import type { AppEnv } from '../bindings';
import { authenticate, type KeyRecord } from '../auth/keys';
import { loadConfig, type LoadedConfig } from '../config/load';
import type { NodeConfig } from '../config/schema';
import { RouterError } from '../errors/router-error';
import { admitStateCall } from './state-admission';
import { isolateState } from '../forward/isolate-state';
import { classify } from '../forward/outcome';
import { credentialFor, sendAttempt, upstreamHeaders } from '../forward/upstream';
import { adapterFor } from '../providers/registry';
import { callerFromCf } from '../routing/geo';
import { rankCandidates } from '../routing/select';
import { loadRouteTable } from '../routing/table';
import { conversationIdRestorer, conversationNotFound, signConversationId, verifyConversationId, type VerifiedConversationId } from './conversation-ids';
import { withCountedBody } from './count-body';
import { modelAllowed, resolveModel } from './models';
import { responseIdSigner, type ResponseIdSigner } from './response-ids';

/** An item id as the router passes it on: one path segment, bounded. */
const ITEM_ID = /^[A-Za-z0-9_-]{1,200}$/;

/** What the router reads of the bodies it sends on (the node holds them to the rest of OpenAI's schema). */
const Items = z.array(z.unknown());
const CreateBody = z.looseObject({ items: Items.nullish() });
const ItemsBody = z.looseObject({ items: Items });
const UpdateBody = z.looseObject({});

type Method = 'GET' | 'POST' | 'DELETE';

interface Call {
  c: Context<AppEnv>;
  config: LoadedConfig;
  key: KeyRecord & { id: string };
  signer: ResponseIdSigner;
}

/** A node's answer, read whole (JSON, at most `limits.maxResponseBytes`). */
interface Sent {
  status: number;
  text: string;
  contentType: string;
}

async function begin(c: Context<AppEnv>): Promise<Call> {
  const config = loadConfig(c.env);
  const key = await authenticate(c.req.raw, c.env.ROUTER_KV);
  return { c, config, key, signer: responseIdSigner(c.env) };
}

/** Runs `work` as one of the key's requests (`state-admission.ts`). */
const admitted = (call: Call, work: (headers: Record<string, string>) => Promise<Response>): Promise<Response> =>
  admitStateCall(call.c, call.config, call.key, async (headers) => ({ response: await work(headers) }));

/** Sends one call to `node`: its answer (a 4xx included), or `failed` with the reason it could not answer (timeout, connection, 5xx, 429, …). */
async function send(call: Call, node: NodeConfig, method: Method, path: string, body: Uint8Array | undefined, deadline: number): Promise<Sent | { failed: string }> {
  const { c, config } = call;
  const adapter = adapterFor(node);
  const target = adapter.target(node, '', path);
  if (!target.ok) return { failed: target.error.message };
  const { credential, missing } = credentialFor(node, c.env);
  if (missing) return { failed: `secret ${missing} is not set` };
  const headers = upstreamHeaders(c.req.raw.headers, undefined, c.get('upstreamRequestId'), body ? 'application/json' : '');
  if (credential !== undefined) {
    const auth = await adapter.authHeaders(credential, { url: target.value, method, body: () => body });
    for (const [name, value] of Object.entries(auth)) headers.set(name, value);
  }
  const t = config.timeouts;
  const sent = await sendAttempt(node, path, { url: target.value, method, headers, ...(body ? { body } : {}) }, false, {
    timeoutMs: Math.max(1, Math.min(t.responseMs ?? t.totalMs, deadline - Date.now())),
    maxBytes: config.limits.maxResponseBytes,
    gone: c.req.raw.signal,
  });
  const verdict = classify(sent.outcome);
  if (verdict.action === 'retry' || verdict.action === 'fail') return { failed: verdict.reason };
  return { status: sent.response!.status, text: new TextDecoder().decode(sent.body), contentType: sent.response!.headers.get('content-type') ?? 'application/json' };
}

function answer(sent: Sent, headers: Record<string, string>, node: NodeConfig, text = sent.text): Response {
  return new Response(text, { status: sent.status, headers: { ...headers, 'content-type': sent.contentType, 'x-router-node': node.id } });
}

/**
 * The nodes a conversation may be created on, best first: OpenAI nodes (the Conversations API
 * is OpenAI's; other providers have none) that serve Responses and a model the key may use —
 * with `x-router-model`, that model (checked as a request for it: served, the key's) — ranked
 * for the caller as a Responses request's plan ranks them; nodes whose circuit is open last.
 * The conversation can only be read by a model its node serves: the header is how a caller
 * who uses a model only some nodes serve gets it on one of those.
 */
async function createCandidates(call: Call): Promise<NodeConfig[]> {
  const { c, config, key } = call;
  const caller = callerFromCf(c.req.raw.cf as Record<string, unknown> | undefined);
  const asked = c.req.header('x-router-model');
  const model = asked === undefined ? undefined : resolveModel(config, asked, key.models);
  const serves = (n: NodeConfig) => (model === undefined ? n.models.some((m) => modelAllowed(config, key.models, m)) : n.models.includes(model));
  const nodes = config.nodes.filter((n) => n.provider === 'openai' && n.endpoints.includes('responses') && serves(n));
  const table = await loadRouteTable(c.env.ROUTER_KV, caller.colo);
  const { ranked } = rankCandidates(nodes, caller, table, config.routing);
  const breaker = isolateState(config).breaker;
  const now = Date.now();
  const usable = ranked.filter((r) => breaker.blockedFor(r.node.id, now) === 0).map((r) => r.node);
  return [...usable, ...ranked.map((r) => r.node).filter((n) => !usable.includes(n))];
}

/** `POST /v1/conversations`: on the first candidate that answers; its id signed for that node and this key. */
async function create(c: Context<AppEnv>): Promise<Response> {
  const call = await begin(c);
  const { config, key, signer } = call;
  return withCountedBody(c, config, CreateBody, (_body, raw) =>
    admitted(call, async (headers) => {
      const deadline = Date.now() + config.timeouts.totalMs;
      const tried: string[] = [];
      const candidates = await createCandidates(call);
      if (candidates.length === 0) {
        const what = c.req.header('x-router-model') === undefined ? 'a model it may use' : `the model '${c.req.header('x-router-model')}'`;
        throw new RouterError(400, `Conversations are not available for this key: no OpenAI node serves Responses for ${what}.`, { code: 'conversations_unavailable' });
      }
      // A node without the Conversations API (most OpenAI-compatible servers: vLLM, Ollama) answers 404 or 405: the next may have it.
      let missing: { sent: Sent; node: NodeConfig } | undefined;
      for (const node of candidates.slice(0, config.retry.maxAttempts)) {
        if (Date.now() >= deadline || c.req.raw.signal.aborted) break;
        const sent = await send(call, node, 'POST', '/conversations', raw, deadline);
        if ('failed' in sent) {
          tried.push(`${node.id}: ${sent.failed}`);
          continue;
        }
        if (sent.status === 404 || sent.status === 405) {
          missing ??= { sent, node };
          tried.push(`${node.id}: HTTP ${sent.status} (no Conversations API)`);
          continue;
        }
        if (sent.status < 200 || sent.status >= 300) return answer(sent, headers, node);
        let id: unknown;
        try {
          id = (JSON.parse(sent.text) as { id?: unknown } | null)?.id;
        } catch {
          id = undefined;
        }
        const tagged = signConversationId(signer, id, node.id, key.id);
        // A conversation the router cannot sign could never be used through it: refused, never handed out bare.
        if (!tagged) {
          tried.push(`${node.id}: answered without a conversation id`);
          continue;
        }
        return answer(sent, headers, node, conversationIdRestorer(id as string, tagged)(sent.text));
      }
      if (missing) return answer(missing.sent, headers, missing.node);
      throw new RouterError(502, `No node could create the conversation: ${tried.join('; ') || 'the request ran out of time'}.`, {
        code: 'upstream_error',
        headers: { 'x-should-retry': 'false' },
      });
    }),
  );
}

/**
 * A call on an existing conversation: its id verified (signed, this key's, a configured node),
 * sent only to its node with the node's own id, the caller's id put back in the answer.
 */
async function onConversation(c: Context<AppEnv>, method: Method, suffix: (c: Context<AppEnv>) => string, schema?: z.ZodType): Promise<Response> {
  const call = await begin(c);
  const tagged = c.req.param('id') ?? '';
  const owner = await verifyConversationId(call.signer, tagged);
  const node = owner ? call.config.nodesById.get(owner.nodeId) : undefined;
  if (!owner || !node || owner.keyId !== call.key.id) throw conversationNotFound(tagged);
  const rest = suffix(c);
  const run = (raw: Uint8Array | undefined) => admitted(call, (headers) => relay(call, node, owner, tagged, method, rest, raw, headers));
  return schema ? withCountedBody(c, call.config, schema, (_body, raw) => run(raw)) : run(undefined);
}

async function relay(call: Call, node: NodeConfig, owner: VerifiedConversationId, tagged: string, method: Method, rest: string, raw: Uint8Array | undefined, headers: Record<string, string>): Promise<Response> {
  const query = new URL(call.c.req.url).search;
  const path = `/conversations/${encodeURIComponent(owner.id)}${rest}${query}`;
  const sent = await send(call, node, method, path, raw, Date.now() + call.config.timeouts.totalMs);
  if ('failed' in sent) {
    throw new RouterError(503, `Conversation '${tagged}' is held by node ${node.id}, which could not answer (${sent.failed}); no other node can.`, {
      code: 'stateful_node_unavailable',
      headers: { 'x-should-retry': 'false', 'x-router-node': node.id },
    });
  }
  const ok = sent.status >= 200 && sent.status < 300;
  return answer(sent, headers, node, ok ? conversationIdRestorer(owner.id, tagged)(sent.text) : sent.text);
}

/** `…/items/{item_id}`: an item id that is not one path segment is OpenAI's 404 for an unknown item. */
function itemPath(c: Context<AppEnv>): string {
  const item = c.req.param('item') ?? '';
  if (!ITEM_ID.test(item)) throw new RouterError(404, `Item with id '${item.slice(0, 300)}' not found.`, { code: 'item_not_found' });
  return `/items/${item}`;
}

const none = () => '';
const items = () => '/items';

export const conversationRoutes = new Hono<AppEnv>()
  .post('/', create)
  .get('/:id', (c) => onConversation(c, 'GET', none))
  .post('/:id', (c) => onConversation(c, 'POST', none, UpdateBody))
  .delete('/:id', (c) => onConversation(c, 'DELETE', none))
  .post('/:id/items', (c) => onConversation(c, 'POST', items, ItemsBody))
  .get('/:id/items', (c) => onConversation(c, 'GET', items))
  .get('/:id/items/:item', (c) => onConversation(c, 'GET', itemPath))
  .delete('/:id/items/:item', (c) => onConversation(c, 'DELETE', itemPath));
