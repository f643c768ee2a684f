/**
 * Guards the admin API with the `ADMIN_TOKEN` secret, compared in constant time.
 *
 * Both sides are hashed first so the comparison runs over equal-length digests: the time
 * taken reveals neither the token's content nor its length.
 */
import type { MiddlewareHandler } from 'hono';
import { RouterError } from '../errors/router-error';
import { bearerToken } from './keys';

async function digest(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
}

export async function tokensEqual(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(given), digest(expected)]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/**
 * Headers on every answer under `/admin/*`, refusals included: no cache keeps one (a key's
 * secret at creation, names, limits, spend), and none is sniffed into a page. Mounted before
 * the guard, so its 401s carry them too.
 */
export function adminAnswerHeaders(): MiddlewareHandler {
  return async function adminAnswerHeadersHandler(c, next) {
    await next();
    c.res.headers.set('cache-control', 'no-store');
    c.res.headers.set('x-content-type-options', 'nosniff');
  };
}

export function adminGuard(): MiddlewareHandler<{ Bindings: { ADMIN_TOKEN?: string }; Variables: { admin?: boolean } }> {
  return async function adminGuardHandler(c, next) {
    const expected = c.env.ADMIN_TOKEN;
    if (!expected) {
      throw new RouterError(503, 'The admin API is disabled: set the ADMIN_TOKEN secret to enable it.', {
        code: 'admin_disabled',
      });
    }
    const given = bearerToken(c.req.raw);
    if (!given || !(await tokensEqual(given, expected))) {
      throw new RouterError(401, 'A valid admin token is required.', { code: 'invalid_admin_token' });
    }
    c.set('admin', true);
    await next();
  };
}
