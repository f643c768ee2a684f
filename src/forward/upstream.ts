/**
 * One upstream attempt: build the request for a node, send it under the first-byte
 * timeout, and read enough to judge it — the whole body for JSON and errors, the first
 * chunk for a stream (failover stays possible until a byte is committed to the client).
 */
import type { NodeConfig } from '../config/schema';
import type { AttemptOutcome } from './outcome';

/** Caller headers worth passing on; everything else (cookies, the caller's key, cf-*) stays here. */
const FORWARDED_HEADERS = ['accept', 'accept-language', 'user-agent', 'openai-beta'];

export function upstreamHeaders(incoming: Headers, credential: string | undefined, requestId: string): Headers {
  const headers = new Headers({ 'content-type': 'application/json', 'x-request-id': requestId });
  for (const name of FORWARDED_HEADERS) {
    const value = incoming.get(name);
    if (value) headers.set(name, value);
  }
  if (credential) headers.set('authorization', `Bearer ${credential}`);
  return headers;
}

export interface SentAttempt {
  outcome: AttemptOutcome;
  response?: Response;
  /** JSON bodies and error bodies, read whole. */
  text?: string;
  /** Streams: the reader, positioned after `first`. */
  stream?: { reader: ReadableStreamDefaultReader<Uint8Array>; first: Uint8Array; abort: AbortController };
  elapsedMs: number;
}

export async function sendAttempt(
  node: NodeConfig,
  path: string,
  init: { headers: Headers; body: BodyInit },
  stream: boolean,
  timeoutMs: number,
): Promise<SentAttempt> {
  const started = Date.now();
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const done = (rest: Omit<SentAttempt, 'elapsedMs'>): SentAttempt => ({ ...rest, elapsedMs: Date.now() - started });
  try {
    const response = await fetch(node.baseUrl + path, { method: 'POST', ...init, signal: abort.signal });
    const outcome: AttemptOutcome = { kind: 'response', status: response.status, headers: response.headers };
    if (stream && response.ok && response.body) {
      const reader = response.body.getReader();
      const first = await reader.read();
      if (first.done || first.value.byteLength === 0) return done({ outcome: { kind: 'empty-stream' } });
      return done({ outcome, response, stream: { reader, first: first.value, abort } });
    }
    return done({ outcome, response, text: await response.text() });
  } catch (err) {
    if (abort.signal.aborted) return done({ outcome: { kind: 'timeout', afterMs: timeoutMs } });
    return done({ outcome: { kind: 'network', message: String((err as Error)?.message ?? err).slice(0, 120) } });
  } finally {
    clearTimeout(timer);
  }
}
