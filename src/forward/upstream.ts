/**
 * One upstream attempt: build the request for a node, send it, and read enough to judge it,
 * each kind bounded by what can be observed of it:
 * - a **stream** by its status and first chunk within `firstByteMs` (failover stays possible
 *   until a byte is committed to the client);
 * - a **JSON** answer only arrives whole — providers send its headers when generation ends —
 *   so it is bounded by `responseMs` for the whole body, and read once into one buffer of at
 *   most `maxResponseBytes`.
 * Redirects are never followed: a node that redirects is misconfigured or compromised, and
 * following it would send the node's credential and the caller's prompt elsewhere.
 */
import { cloudCredential } from '../providers/credential';
import type { NodeConfig } from '../config/schema';
import { readAnswerCapped } from '../http/body';
import { fetchWithin } from '../http/fetch-within';
import type { AttemptOutcome } from './outcome';

/** Caller headers worth passing on; everything else (cookies, the caller's key, cf-*) stays here. */
const FORWARDED_HEADERS = ['accept', 'accept-language', 'user-agent', 'openai-beta'];

/**
 * A node's credential, from the Worker secret its `apiKeyEnv` names: `missing` names the
 * secret when it is configured but not set (the node cannot be called). The one lookup
 * for requests, probes and stored-response follow-ups.
 */
export function credentialFor(node: NodeConfig, env: Record<string, unknown>): { credential?: string; missing?: string } {
  // Bedrock key pairs and Vertex service accounts: several secrets, or a key file (`providers/credential.ts`).
  const cloud = cloudCredential(node, env);
  if (cloud) return cloud;
  if (!node.apiKeyEnv) return {};
  const secret = env[node.apiKeyEnv];
  return typeof secret === 'string' ? { credential: secret } : { missing: node.apiKeyEnv };
}

/** Headers for an upstream call; an empty `contentType` lets the runtime set it (FormData bodies). */
export function upstreamHeaders(incoming: Headers, credential: string | undefined, requestId: string, contentType = 'application/json'): Headers {
  const headers = new Headers({ 'x-request-id': requestId });
  if (contentType) headers.set('content-type', contentType);
  for (const name of FORWARDED_HEADERS) {
    const value = incoming.get(name);
    if (value) headers.set(name, value);
  }
  if (credential) headers.set('authorization', `Bearer ${credential}`);
  return headers;
}

/** Reads a stream body chunk by chunk. */
export interface ChunkReader {
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  cancel(): Promise<void>;
  /**
   * Hands back a chunk this reader returned whose bytes nobody holds any more (written and
   * the write settled, nothing kept of it): its buffer is read into next, not a new one.
   */
  recycle?(chunk: Uint8Array): void;
}

/** Bytes per read of a stream body: an SSE event is rarely larger, and a larger one is reassembled. */
const READ_BYTES = 4096;

/**
 * A stream body read into buffers of our own size (a BYOB reader): whatever has arrived, up
 * to `READ_BYTES`, comes in one read. In the bench this cut a stream request's workerd CPU by
 * about a sixth against the default reader. A read reuses the buffer of a recycled chunk
 * (a BYOB read transfers it, so the old view cannot see the new bytes): on 100-chunk streams
 * a fresh 4 KiB buffer per read cost 6% of the router's CPU per request, mostly as GC.
 */
function chunkReader(body: ReadableStream<Uint8Array>): ChunkReader {
  const reader = body.getReader({ mode: 'byob' });
  let spare: ArrayBuffer | undefined;
  return {
    read: () => {
      const buffer = spare ?? new ArrayBuffer(READ_BYTES);
      spare = undefined;
      return reader.read(new Uint8Array(buffer));
    },
    cancel: () => reader.cancel(),
    recycle: (chunk) => {
      // Only a whole buffer of ours (one a write detached has byteLength 0).
      if (chunk.buffer.byteLength === READ_BYTES && chunk.buffer instanceof ArrayBuffer) spare = chunk.buffer;
    },
  };
}

export interface SentAttempt {
  outcome: AttemptOutcome;
  response?: Response;
  /** JSON answers and error bodies, read whole (at most `maxBytes`). */
  body?: Uint8Array;
  /** Streams: the reader, positioned after `first`. */
  stream?: { reader: ChunkReader; first: Uint8Array };
  /** Time to the latency signal: a stream's first chunk, a JSON answer's headers. */
  latencyMs: number;
}

export interface AttemptLimits {
  /** Streams: status + first chunk. JSON: the whole answer. */
  timeoutMs: number;
  maxBytes: number;
  /** Aborts when the caller leaves: the attempt is let go (it reads as a timeout). */
  gone?: AbortSignal;
}

export async function sendAttempt(
  node: NodeConfig,
  path: string,
  init: { method?: string; headers: Headers; body?: BodyInit; /** The whole URL (a provider's), instead of baseUrl + path. */ url?: string },
  stream: boolean,
  limits: AttemptLimits,
): Promise<SentAttempt> {
  const started = Date.now();
  /** A 2xx answer's headers came: the node is generating what it will bill. */
  let answering = false;
  const { url, ...request } = init;
  try {
    const sent = await fetchWithin(url ?? node.baseUrl + path, { method: 'POST', ...request }, limits.timeoutMs, async (response): Promise<SentAttempt> => {
      const headersAt = Date.now();
      answering = response.ok;
      const outcome: AttemptOutcome = { kind: 'response', status: response.status, headers: response.headers };
      if (stream && response.ok && response.body) {
        const reader = chunkReader(response.body);
        const first = await reader.read();
        const latencyMs = Date.now() - started;
        if (first.done || first.value.byteLength === 0) return { outcome: { kind: 'empty-stream' }, latencyMs };
        return { outcome, response, stream: { reader, first: first.value }, latencyMs };
      }
      const body = await readAnswerCapped(response, limits.maxBytes);
      const latencyMs = headersAt - started;
      if (body === null) return { outcome: { kind: 'too-large', limit: limits.maxBytes, status: response.status }, latencyMs };
      return { outcome, response, body, latencyMs };
    }, !stream, limits.gone);
    if (sent === 'timeout') return { outcome: { kind: 'timeout', afterMs: limits.timeoutMs, stream }, latencyMs: Date.now() - started };
    return sent;
  } catch (err) {
    const message = String((err as Error)?.message ?? err).slice(0, 120);
    // Lost after a 2xx's headers (reading a JSON answer, or a stream's first chunk): the node generates, and bills, it.
    return { outcome: { kind: 'network', message, ...(answering ? { answering } : {}) }, latencyMs: Date.now() - started };
  }
}
