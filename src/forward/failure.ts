/**
 * How a request that no upstream answered leaves the router, and what of an upstream's own
 * error text is kept (for the log and admin views only).
 *
 * The caller's message names each node tried, the model asked of it and the outcome
 * (HTTP status, timeout, reset, skipped and why) — never upstream message text, which can
 * name a provider's organisations, projects and deployments. Final failures carry
 * `x-should-retry: false`: the router already tried every node, and the openai SDK would
 * otherwise retry 5xx twice on its own.
 */
import { RouterError } from '../errors/router-error';
import type { Verdict } from './outcome';

export interface Tried {
  node: string;
  model: string;
  outcome: string;
}

const MAX_LOGGED = 500;
const decoder = new TextDecoder();

/** Upstream messages may quote credentials; none leaves the router, not even in its log. */
export function redact(text: string, credential: string | undefined): string {
  let out = text.replace(/\bsk-[A-Za-z0-9_-]{4,}/g, 'sk-***');
  if (credential) out = out.split(credential).join('***');
  return out;
}

/** An upstream error body's message (OpenAI's `error.message`, else its start), redacted. */
export function upstreamMessage(body: Uint8Array | undefined, credential: string | undefined): string | undefined {
  if (!body || body.byteLength === 0) return undefined;
  const text = decoder.decode(body.subarray(0, 4 * MAX_LOGGED));
  let message = text;
  try {
    const parsed = (JSON.parse(decoder.decode(body.subarray(0, 64 * 1024))) as { error?: { message?: unknown } }).error?.message;
    if (typeof parsed === 'string') message = parsed;
  } catch {
    // not JSON (or too long to parse): its start will do
  }
  return redact(message, credential).slice(0, MAX_LOGGED);
}

export function finalFailure(
  model: string,
  walk: { verdicts: Verdict[]; tried: Tried[]; retryAfter?: number; why: string },
  route: string,
): RouterError {
  const attempts = walk.verdicts.length;
  const list = walk.tried.map((t) => `${t.node} (${t.model}): ${t.outcome}`).join('; ');
  const headers: Record<string, string> = { 'x-should-retry': 'false', 'x-router-attempts': String(attempts), 'x-router-route': route };
  if (walk.retryAfter !== undefined) {
    headers['retry-after'] = String(Math.max(1, Math.ceil(walk.retryAfter / 1000)));
    headers['retry-after-ms'] = String(Math.ceil(walk.retryAfter));
  }
  const retries = walk.verdicts.filter((v): v is Extract<Verdict, { action: 'retry' }> => v.action === 'retry');
  const message = `No upstream could serve model '${model}'${walk.why}. ${attempts} attempt(s)${list ? `: ${list}` : ''}.`;
  if (attempts === 0) return new RouterError(503, message, { code: 'no_available_upstream', headers });
  if (retries.every((v) => v.timeout)) return new RouterError(504, message, { code: 'upstream_timeout', headers });
  if (retries.every((v) => v.rateLimited || v.requestTooLarge)) return new RouterError(429, message, { type: 'requests', code: 'upstream_rate_limited', headers });
  return new RouterError(502, message, { code: 'upstream_error', headers });
}
