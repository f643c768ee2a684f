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
import { admitKey } from '../limits/admission';
import { RouterError } from '../errors/router-error';
import { classify } from '../forward/outcome';
import { credentialFor, sendAttempt, upstreamHeaders } from '../forward/upstream';
import { logBackgroundFailure } from '../http/background';
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
  const defer = (work: Promise<unknown>) => c.executionCtx.waitUntil(work.catch(logBackgroundFailure));
  const admission = await admitKey(c.env, config, key, { model: '-', tokens: 0, worstCostUsd: 0 }, defer);
  try {
    return await relayFollowUp(c, config, { tagged, owner, node, signer, method, suffix }, admission.headers);
  } finally {
    // The slot is freed once the answer is built (it is buffered); the request stays counted in its minute.
    defer(admission.settle({}));
  }
}

interface FollowUp {
  tagged: string;
  owner: NonNullable<Awaited<ReturnType<typeof verifyResponseId>>>;
  node: NodeConfig;
  signer: ReturnType<typeof responseIdSigner>;
  method: string;
  suffix: string;
}

async function relayFollowUp(c: Context<AppEnv>, config: LoadedConfig, f: FollowUp, limitHeaders: Record<string, string>): Promise<Response> {
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
  const sent = await sendAttempt(
    node,
    path,
    { url: target.value, method, headers },
    false,
    { timeoutMs: config.timeouts.responseMs ?? config.timeouts.totalMs, maxBytes: config.limits.maxResponseBytes },
  );
  const verdict = classify(sent.outcome);
  if (verdict.action === 'retry' || verdict.action === 'fail') {
    throw new RouterError(503, `Response '${tagged}' is held by node ${node.id}, which could not answer (${verdict.reason}); no other node can.`, {
      code: 'stateful_node_unavailable',
      headers: { 'x-should-retry': 'false', 'x-router-node': node.id },
    });
  }
  const upstream = sent.response!;
  const text = new TextDecoder().decode(sent.body);
  // The answer's own id goes back exactly as the caller sent it (same context bound); an
  // event stream (`GET …?stream=true`) is tagged event by event, its events ending in a blank
  // line after `\n` or `\r\n` as the relay reads them (`forward/sse-split.ts`): split on `\n\n`
  // alone, a CRLF stream (sse-starlette's default) was one unparsable piece and went out with
  // the node's bare ids.
  const tag = responseIdTagger({ ...owner, signer, previous: { id: owner.id, tagged } });
  const events = upstream.headers.get('content-type')?.includes('text/event-stream');
  const body = !upstream.ok ? text : events ? text.split(/(?<=\r?\n\r?\n)/).map(tag).join('') : tag(text);
  return new Response(body, {
    status: upstream.status,
    headers: { ...limitHeaders, 'content-type': upstream.headers.get('content-type') ?? 'application/json', 'x-router-node': node.id },
  });
}

export const responseRoutes = new Hono<AppEnv>()
  .get('/:id', (c) => followUp(c, 'GET', ''))
  .delete('/:id', (c) => followUp(c, 'DELETE', ''))
  .get('/:id/input_items', (c) => followUp(c, 'GET', '/input_items'))
  .post('/:id/cancel', (c) => followUp(c, 'POST', '/cancel'));
