/**
 * Follow-ups on stored responses — `GET /v1/responses/{id}`, `DELETE /v1/responses/{id}`,
 * `GET /v1/responses/{id}/input_items`, `POST /v1/responses/{id}/cancel` — sent to the node
 * the id names (`response-ids.ts`), with the upstream's own id restored, and the answer's
 * ids tagged again. No lookup, no failover: only that node knows the response, so its
 * failure is a 503 `stateful_node_unavailable`; an id that does not verify (untagged, forged,
 * another key's, malformed) is a 404 before any node is asked.
 * Follow-ups generate nothing and reserve no tokens or spend, but each is one of the key's
 * requests: it counts against `rpm` and holds a `concurrency` slot while it runs (a read can
 * hold up to `maxResponseBytes` in the isolate), as every request of the key does.
 */
import { type Context } from 'hono';
import { Hono } from 'hono/tiny';
import type { AppEnv } from '../bindings';
import { authenticate } from '../auth/keys';
import { loadConfig, type LoadedConfig } from '../config/load';
import type { NodeConfig } from '../config/schema';
import { RouterError } from '../errors/router-error';
import { admitStateCall } from './state-admission';
import { classify } from '../forward/outcome';
import { relayBytes, relaySse } from '../forward/relay';
import { credentialFor, sendAttempt, upstreamHeaders } from '../forward/upstream';
import { adapterFor } from '../providers/registry';
import { responseIdSigner, responseIdTagger, verifyResponseId } from './response-ids';

function notFound(id: string): RouterError {
  return new RouterError(404, `No response found with id '${id}'.`, { code: 'response_not_found', param: 'response_id' });
}

async function followUp(c: Context<AppEnv>, method: string, suffix: string): Promise<Response> {
  const config = loadConfig(c.env);
  const key = await authenticate(c.req.raw, c.env.ROUTER_KV);
  const signer = responseIdSigner(c.env);
  const tagged = c.req.param('id') ?? '';
  const owner = await verifyResponseId(signer, tagged);
  const node = owner ? config.nodesById.get(owner.nodeId) : undefined;
  if (!owner || !node || owner.keyId !== key.id) throw notFound(tagged.slice(0, 300));
  // One of the key's requests: its slot freed once the answer is delivered (a resumed stream: once it ends).
  return admitStateCall(c, config, key, (headers) => relayFollowUp(c, config, { tagged, owner, node, signer, method, suffix }, headers));
}

interface FollowUp {
  tagged: string;
  owner: NonNullable<Awaited<ReturnType<typeof verifyResponseId>>>;
  node: NodeConfig;
  signer: ReturnType<typeof responseIdSigner>;
  method: string;
  suffix: string;
}

/**
 * Sends a follow-up to the node holding the response and builds the caller's answer. A
 * resumed event stream (`GET …/{id}?stream=true`, a background response still running) is
 * relayed event by event as it arrives — within `firstByteMs` to its first chunk, `idleMs`
 * between chunks and `totalMs` in all, ending with an error event if it stops short — with its
 * ids signed; anything else is read whole and its ids signed. `done` settles when the answer has been delivered.
 */
async function relayFollowUp(c: Context<AppEnv>, config: LoadedConfig, f: FollowUp, limitHeaders: Record<string, string>): Promise<{ response: Response; done: Promise<unknown> }> {
  const { tagged, owner, node, signer, method, suffix } = f;
  const { credential } = credentialFor(node, c.env);
  const query = new URL(c.req.url).search;
  const path = `/responses/${encodeURIComponent(owner.id)}${suffix}${query}`;
  // The node's provider says where (Azure: `/openai/responses/…?api-version=…`) and how to authenticate.
  const adapter = adapterFor(node);
  const target = adapter.target(node, '', path);
  if (!target.ok) throw notFound(tagged.slice(0, 300));
  const headers = upstreamHeaders(c.req.raw.headers, undefined, c.get('upstreamRequestId'), method === 'POST' ? 'application/json' : '');
  if (credential !== undefined) {
    const auth = await adapter.authHeaders(credential, { url: target.value, method: method as 'GET' | 'POST' | 'DELETE', body: () => undefined });
    for (const [name, value] of Object.entries(auth)) headers.set(name, value);
  }
  const t = config.timeouts;
  const deadline = Date.now() + t.totalMs;
  const streamed = method === 'GET' && suffix === '' && new URL(c.req.url).searchParams.get('stream') === 'true';
  const sent = await sendAttempt(
    node,
    path,
    { url: target.value, method, headers },
    streamed,
    { timeoutMs: streamed ? t.firstByteMs : (t.responseMs ?? t.totalMs), maxBytes: config.limits.maxResponseBytes, gone: c.req.raw.signal },
  );
  const verdict = classify(sent.outcome);
  if (verdict.action === 'retry' || verdict.action === 'fail') {
    throw new RouterError(503, `Response '${tagged}' is held by node ${node.id}, which could not answer (${verdict.reason}); no other node can.`, {
      code: 'stateful_node_unavailable',
      headers: { 'x-should-retry': 'false', 'x-router-node': node.id },
    });
  }
  const upstream = sent.response!;
  const tag = responseIdTagger({ ...owner, signer, previous: { id: owner.id, tagged } });
  const events = upstream.headers.get('content-type')?.includes('text/event-stream');
  const own = { ...limitHeaders, 'content-type': upstream.headers.get('content-type') ?? 'application/json', 'x-router-node': node.id };
  if (sent.stream) {
    const relay = { deadline, idleMs: t.idleMs };
    const { body, summary } = events
      ? relaySse(sent.stream.reader, sent.stream.first, { ...relay, format: 'responses', maxEventBytes: config.limits.maxEventBytes, stripUsage: false, rewrite: tag })
      : relayBytes(sent.stream.reader, sent.stream.first, relay);
    return { response: new Response(body, { status: upstream.status, headers: own }), done: summary };
  }
  const text = new TextDecoder().decode(sent.body);
  // The answer's own id goes back exactly as the caller sent it (same context bound); an event
  // stream read whole (a node that streamed what was not asked as one) is tagged event by event,
  // its events ending in a blank line after `\n` or `\r\n` as the relay reads them (`forward/sse-split.ts`).
  const body = !upstream.ok ? text : events ? text.split(/(?<=\r?\n\r?\n)/).map(tag).join('') : tag(text);
  return { response: new Response(body, { status: upstream.status, headers: own }), done: Promise.resolve() };
}

export const responseRoutes = new Hono<AppEnv>()
  .get('/:id', (c) => followUp(c, 'GET', ''))
  .delete('/:id', (c) => followUp(c, 'DELETE', ''))
  .get('/:id/input_items', (c) => followUp(c, 'GET', '/input_items'))
  .post('/:id/cancel', (c) => followUp(c, 'POST', '/cancel'));
