/**
 * Vertex AI access tokens, minted in the Worker from a service account and cached per
 * isolate (Google "Using OAuth 2.0 for Server to Server Applications": POST the signed
 * assertion to `token_uri` with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`).
 *
 * - Reuse: a token serves every request until `refreshBeforeMs` (default 5 min) before it
 *   expires; then the next caller mints a new one.
 * - Single flight: one mint at a time per service account (key id); concurrent callers
 *   await the same promise — never one mint per request.
 * - In the refresh window the old token is still good: if the new mint fails, callers get
 *   the old one until it actually expires.
 * - A failed mint is remembered for `failureTtlMs` (default 10 s) so a broken key or token
 *   endpoint costs one call per 10 s, not one per request; its reason names what failed
 *   (status and OAuth `error` code, or "unreachable"), never the key or the assertion.
 * Time (`now`) and `fetch` are injectable for tests.
 */
import { importServiceAccountKey, signAssertion } from './jwt';
import type { ServiceAccount } from './service-account';

export type TokenResult = { ok: true; token: string; expiresAt: number } | { ok: false; reason: string };

export interface TokenCacheOptions {
  /** Epoch milliseconds; default `Date.now`. */
  now?: () => number;
  /** Refresh this long before expiry (default 300 000 ms). */
  refreshBeforeMs?: number;
  /** How long a failed mint is reused before trying again (default 10 000 ms). */
  failureTtlMs?: number;
  /** Token endpoint timeout (default 10 000 ms). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

interface Entry {
  key?: Promise<CryptoKey>;
  token?: { value: string; expiresAt: number };
  pending?: Promise<TokenResult>;
  failure?: { reason: string; until: number };
}

export class VertexTokenCache {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;
  readonly #refreshBeforeMs: number;
  readonly #failureTtlMs: number;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  /** Mints started (for tests and metrics). */
  mints = 0;

  constructor(opts: TokenCacheOptions = {}) {
    this.#now = opts.now ?? Date.now;
    this.#refreshBeforeMs = opts.refreshBeforeMs ?? 300_000;
    this.#failureTtlMs = opts.failureTtlMs ?? 10_000;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#fetch = opts.fetch ?? ((input, init) => fetch(input, init));
  }

  /** A valid access token for `sa`, from the cache or freshly minted. */
  token(sa: ServiceAccount): Promise<TokenResult> {
    const id = `${sa.client_email}|${sa.private_key_id}|${sa.token_uri}`;
    let e = this.#entries.get(id);
    if (!e) this.#entries.set(id, (e = {}));
    const now = this.#now();
    const t = e.token;
    if (t && now < t.expiresAt - this.#refreshBeforeMs) return Promise.resolve({ ok: true, token: t.value, expiresAt: t.expiresAt });
    if (e.pending) return e.pending;
    if (e.failure && now < e.failure.until) {
      if (t && now < t.expiresAt) return Promise.resolve({ ok: true, token: t.value, expiresAt: t.expiresAt });
      return Promise.resolve({ ok: false, reason: e.failure.reason });
    }
    const entry = e;
    entry.pending = this.#mint(sa, entry).finally(() => {
      entry.pending = undefined;
    });
    return entry.pending;
  }

  async #mint(sa: ServiceAccount, e: Entry): Promise<TokenResult> {
    this.mints++;
    const started = this.#now();
    const failed = (reason: string): TokenResult => {
      e.failure = { reason, until: this.#now() + this.#failureTtlMs };
      const old = e.token;
      if (old && this.#now() < old.expiresAt) return { ok: true, token: old.value, expiresAt: old.expiresAt };
      return { ok: false, reason };
    };
    let assertion: string;
    try {
      e.key ??= importServiceAccountKey(sa);
      assertion = await signAssertion(sa, await e.key, Math.floor(started / 1000));
    } catch {
      e.key = undefined;
      return failed('service account private_key could not be used to sign (not an RSA PKCS #8 key)');
    }
    let res: Response;
    try {
      res = await this.#fetch(sa.token_uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString(),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      return failed(`token endpoint unreachable (${err instanceof Error && err.name === 'TimeoutError' ? 'timeout' : 'network error'})`);
    }
    type TokenAnswer = { access_token?: unknown; expires_in?: unknown; error?: unknown } | null;
    const body: TokenAnswer = await res.json().then(
      (j) => j as TokenAnswer,
      () => null, // reported below by status / missing token
    );
    if (!res.ok) {
      const code = typeof body?.error === 'string' ? ` ${body.error.slice(0, 60)}` : '';
      return failed(`token endpoint answered ${res.status}${code}`);
    }
    if (typeof body?.access_token !== 'string' || body.access_token === '') return failed('token endpoint answer has no access_token');
    const lifetimeS = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3600;
    e.token = { value: body.access_token, expiresAt: started + lifetimeS * 1000 };
    e.failure = undefined;
    return { ok: true, token: e.token.value, expiresAt: e.token.expiresAt };
  }
}

/** The isolate's cache: tokens live as long as the isolate, shared by every request in it. */
export const isolateTokenCache = new VertexTokenCache();
