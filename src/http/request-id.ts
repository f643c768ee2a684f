/**
 * Request id: the caller's `x-request-id` when it is a sane token, else a fresh UUID.
 * Set on every response, errors included, and sent upstream for correlation.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../bindings';

const SANE = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's id when it is sane, else a fresh one. */
export function requestIdOf(given: string | null | undefined): string {
  return given && SANE.test(given) ? given : `req_${crypto.randomUUID().replaceAll('-', '')}`;
}

export function requestId(): MiddlewareHandler<AppEnv> {
  return async function requestIdHandler(c, next) {
    const id = requestIdOf(c.req.header('x-request-id'));
    c.set('requestId', id);
    await next();
    c.res.headers.set('x-request-id', id);
  };
}
