/**
 * The admin API answers only requests that arrived over https. On a custom domain without
 * Cloudflare's "Always Use HTTPS", a request can reach the Worker over plain http, and its
 * `Authorization: Bearer <admin token>` has then crossed the network in clear. The scheme is
 * read from `request.url` — what the visitor's connection to Cloudflare was — never from a
 * header the caller writes (`x-forwarded-proto`, `cf-visitor`).
 *
 * Plain http to a loopback host is allowed: `wrangler dev` (http://127.0.0.1:8787), the
 * tests, a tunnel's local end. On Cloudflare the URL's host is the zone's hostname the
 * request was routed by, so no request from the internet carries a loopback host.
 */
import type { MiddlewareHandler } from 'hono';
import { RouterError } from '../errors/router-error';

/** `localhost`, `*.localhost` (RFC 6761 §6.3), 127.0.0.0/8, and `[::1]`. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Whether a request to `url` came over a connection an eavesdropper cannot read. */
export function arrivedSecurely(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}

/**
 * Refuses `/admin/*` over plain http with a 403 `https_required`, before the token is
 * compared: a right token and a wrong one get the same answer (nothing is learnt about it),
 * and none of them counts as a failed authentication.
 */
export function httpsOnly(): MiddlewareHandler {
  return async function httpsOnlyHandler(c, next) {
    const url = new URL(c.req.url);
    if (!arrivedSecurely(url)) {
      throw new RouterError(
        403,
        `The admin API is served over https only: call https://${url.host}/admin/… instead. This request came over plain http, so any admin token it carried crossed the network in clear — rotate ADMIN_TOKEN if it did, and turn on "Always Use HTTPS" for this hostname.`,
        { code: 'https_required', type: 'permission_error' },
      );
    }
    await next();
  };
}

/**
 * HSTS (RFC 6797) on admin answers and console files that came over https: a browser that
 * has seen the console once goes to this host over https only, for a year — so a network
 * attacker cannot strip it back to http, where this module's refusal would come after the
 * token had already crossed. The whole host is covered (not its subdomains); a host behind
 * Cloudflare always has https. Never sent over http (RFC 6797 §7.2: ignored there).
 */
export const HSTS = 'max-age=31536000';

export function markHttps(url: string, headers: Headers): void {
  if (url.startsWith('https:')) headers.set('strict-transport-security', HSTS);
}
