/**
 * Request id: the caller's `x-request-id` when it is a sane token, else a fresh UUID.
 * Set on every response, errors included, and sent upstream for correlation — the caller's
 * with a random suffix of the router's (`<id>.<12 hex>`): a node may run the request under
 * the id it is sent (vLLM's engine does, refuses a second request with an id still running,
 * and aborts that id on its error path), so an id a caller could choose alone would let one
 * key abort another key's generation on a shared node by sending its id.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../bindings';

const SANE = /^[A-Za-z0-9._:-]{1,128}$/;

/** 48 random bits, hex: unique among the requests in flight that share a caller's id. */
function suffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return hex;
}

export function requestId(): MiddlewareHandler<AppEnv> {
  return async function requestIdHandler(c, next) {
    const given = c.req.header('x-request-id');
    const id = given && SANE.test(given) ? given : `req_${crypto.randomUUID().replaceAll('-', '')}`;
    c.set('requestId', id);
    c.set('upstreamRequestId', id === given ? `${given}.${suffix()}` : id);
    await next();
    c.res.headers.set('x-request-id', id);
  };
}
