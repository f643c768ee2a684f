/**
 * Guards the admin API with the `ADMIN_TOKEN` secret, compared in constant time.
 *
 * Both sides are hashed first so the comparison runs over equal-length digests: the time
 * taken reveals neither the token's content nor its length. Wrong tokens are throttled per
 * client address (`admin-throttle.ts`); plain http never gets this far (`https-only.ts`).
 */
import type { MiddlewareHandler } from 'hono';
import { RouterError } from '../errors/router-error';
import type { AppEnv } from '../bindings';
import { loadConfig } from '../config/load';
import { AdminSchema, type AdminConfig } from '../config/schema';
import { logBackgroundFailure } from '../http/background';
import { admitRightToken, countWrongToken, knownRefusal, throttled } from './admin-throttle';
import { markHttps } from './https-only';
import { bearerToken } from './keys';
import { addressSubject } from './throttle-policy';

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
    markHttps(c.req.url, c.res.headers);
  };
}

/** The throttle's settings: the config's, or its defaults while the config is broken (its 500 is for the routes that read it). */
function throttleSettings(env: { ROUTER_CONFIG?: unknown }): AdminConfig {
  try {
    return loadConfig(env).admin;
  } catch {
    return AdminSchema.parse({});
  }
}

/**
 * The admin token, and the throttle on wrong ones (`admin-throttle.ts`): a refusal this
 * isolate knows of first (no call, the token not even compared), then the token in constant
 * time; a wrong one is counted, the right one let in unless its address is refusing.
 */
export function adminGuard(): MiddlewareHandler<AppEnv> {
  return async function adminGuardHandler(c, next) {
    const expected = c.env.ADMIN_TOKEN;
    if (!expected) {
      throw new RouterError(503, 'The admin API is disabled: set the ADMIN_TOKEN secret to enable it.', {
        code: 'admin_disabled',
      });
    }
    const subject = addressSubject(c.req.header('cf-connecting-ip'));
    const now = Date.now();
    const known = knownRefusal(subject, now);
    if (known > 0) throw throttled(known);
    const given = bearerToken(c.req.raw);
    const invalid = new RouterError(401, 'A valid admin token is required.', { code: 'invalid_admin_token' });
    // No token at all guesses nothing: refused without counting.
    if (!given) throw invalid;
    const settings = throttleSettings(c.env);
    if (!(await tokensEqual(given, expected))) {
      const defer = (work: Promise<unknown>) => c.executionCtx.waitUntil(work.catch(logBackgroundFailure));
      throw await countWrongToken(c.env.AUTH_THROTTLE, subject, settings, now, invalid, defer);
    }
    await admitRightToken(c.env.AUTH_THROTTLE, subject, settings, now);
    c.set('admin', true);
    await next();
  };
}
