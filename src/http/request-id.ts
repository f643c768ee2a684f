/**
 * Request id: the caller's `x-request-id` when it is a sane token, else a fresh UUID.
 * Set on every response, errors included, and sent upstream for correlation.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../bindings';

const SANE = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestId(): MiddlewareHandler<AppEnv> {
  return async function requestIdHandler(c, next) {
    const given = c.req.header('x-request-id');
    const id = given && SANE.test(given) ? given : `req_${crypto.randomUUID().replaceAll('-', '')}`;
    c.set('requestId', id);
    await next();
    c.res.headers.set('x-request-id', id);
  };
}
