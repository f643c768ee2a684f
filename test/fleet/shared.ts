/**
 * What the simulated fleet's modules share: the knobs, a node's state, and small helpers.
 */
import type http from 'node:http';
import type { Socket } from 'node:net';
import { gzipSync } from 'node:zlib';

export interface Knobs {
  /** Delay before the response headers, ms. */
  latencyMs: number;
  /** Prefill: a further delay before the headers per 1,000 bytes of request body (and of a Responses call's stored conversation), ms (0: none). */
  prefillMsPerKb?: number;
  /**
   * A further delay before the headers for requests of these models (the body's `model`, as the
   * node knows it), ms: a reasoning model's first chunk comes after it has reasoned (o3, gpt-5
   * at high effort: seconds to minutes), a small model's in a few hundred ms, on the same node.
   */
  modelLatencyMs?: Record<string, number>;
  /**
   * A further delay before the headers the first time this node sees a structured-output schema
   * (`response_format` of type `json_schema`, Responses' `text.format`), ms: OpenAI processes a
   * new schema before its first request ("additional latency"), vLLM compiles its grammar.
   */
  schemaMs?: number;
  /** Answer every request with this status and an OpenAI-shaped error. 0 = healthy. */
  status: number;
  /** With `status`: a Retry-After header (seconds). */
  retryAfter?: number;
  /** With `status`: a retry-after-ms header. */
  retryAfterMs?: number;
  /** Never answer (keep the socket open). */
  hang: boolean;
  /** Destroy the socket as soon as a request arrives. */
  reset: boolean;
  /** Stop listening: connections are refused. */
  refuse: boolean;
  /** Stream: content chunks to send (before the finish chunk). */
  chunks: number;
  /** Stream: delay between chunks, ms. */
  chunkDelayMs: number;
  /** Stream: destroy the socket after this many chunks. -1 = never. */
  cutAfterChunks: number;
  /** Stream: stop sending (socket stays open) after this many chunks. -1 = never. */
  stallAfterChunks: number;
  /**
   * Stream: the 200 stream's first event is `data: {"error":{…,"code":<this>}}`, then
   * `[DONE]` — how vLLM reports an engine failure after its headers. 0 = off.
   */
  streamErrorCode: number;
  /**
   * Answer 500 to any request whose body contains this text, after reading it: a "poison"
   * request, which fails on every node that has the knob (a malformed-but-accepted input).
   */
  poisonText?: string;
  /** If set, requests must carry `Authorization: Bearer <requireKey>` or get 401. */
  requireKey?: string;
  /** Fail (with `status`, default 500) only the first N requests, then recover. */
  failFirst: number;
  /**
   * Completion tokens the node writes unless the request caps it (`max_tokens` /
   * `max_completion_tokens`): what an uncapped real model does. 0 = report `chunks`.
   */
  completionTokens: number;
  /** With `status`: the error message (default `simulated <status> from <node>`). */
  errorMessage?: string;
  /** Answer every request with a 302 to this URL. */
  redirectTo?: string;
  /** JSON answers and each chat stream chunk: add a `padding` string of this many bytes. */
  padBytes: number;
  /** Responses stream: end cleanly (no terminal event) after this many deltas. -1 = never. */
  endAfterChunks: number;
  /** Chat stream with `include_usage`: every content chunk carries `"usage":null`, as OpenAI's do. */
  usageNull: boolean;
  /** Chat stream: one event that never ends (64 KiB writes, no blank line) until the router hangs up (bounded at 256 MiB). */
  endlessEvent: boolean;
  /** Chat JSON answers: gzip-coded (`content-encoding: gzip`, Content-Length the compressed size). */
  gzip: boolean;
  /** Usage reports this many cache-read / cache-write input tokens (Anthropic's and Bedrock's fields; OpenAI chat's `prompt_tokens_details`). */
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** Azure nodes: answer POSTs with Azure's content-filter 400. */
  contentFilter: boolean;
  /** Azure nodes: deployments that exist (others: 404 DeploymentNotFound); unset = any. */
  knownDeployments?: string[];
  /** JSON chat answers: generation time per completion token written, ms (after `latencyMs`, before the headers). */
  msPerToken: number;
  /** JSON chat answers: send the headers and the first bytes of the body, then nothing more (socket open). */
  stallBody?: boolean;
  /** JSON chat answers: send the headers and the first bytes of the body, then drop the connection (the answer was generated, and billed). */
  cutBody?: boolean;
  /** Bedrock / Vertex nodes (`bedrock.ts`, `vertex.ts`): the region they serve (SigV4 scope; Vertex location). */
  cloudRegion?: string;
  /** Vertex nodes: the project in their URLs. */
  gcpProject?: string;
  /** Bedrock: with `status`, the exception name to answer (default from the status: 429 → ThrottlingException). */
  awsErrorType?: string;
  /** Bedrock streams: send this exception frame (e.g. `throttlingException`) after the first chunk. */
  streamException?: string;
  /** Bedrock / Vertex: this node's clock runs this far ahead (signatures and tokens age). */
  clockOffsetMs?: number;
  /** Vertex token endpoint: lifetime of the tokens it issues, seconds (default 3599). */
  tokenLifetimeS?: number;
  /**
   * Embeddings and legacy completions: tokens the node's tokenizer adds to every input or
   * prompt and bills (BOS/EOS, BERT's `[CLS]`/`[SEP]`: 2 on a vLLM/TEI node serving Llama or
   * BGE/E5). 0 = none, as OpenAI.
   */
  specialTokens: number;
  /**
   * Chat and Responses: prompt tokens the node's chat template adds to every request and
   * bills (a vLLM node serving Llama 3.1 renders a default system prompt, ~25–30), and more
   * when the request carries `tools` (its tool preamble, ~100–200). 0 = none, as OpenAI.
   */
  templateTokens: number;
  toolTemplateTokens: number;
  /** Responses event streams retrieved again (`GET …?stream=true`): lines end in CRLF, as sse-starlette writes them. */
  crlf: boolean;
  /**
   * OpenAI-compatible nodes: run each request under the `X-Request-Id` it was sent, as vLLM's
   * engine does (`_base_request_id`). A request whose id is already running is refused (500
   * `Request id … already running.`), and the engine's error path aborts that id — the
   * running request, whoever sent it, loses its connection.
   */
  engineRequestIds: boolean;
  /**
   * With `engineRequestIds`: how long the engine runs a request on after its caller hung up
   * before it notices (a proxy in front that does not pass disconnects on, or an engine busy
   * between its checks) — its id is still running meanwhile. 0 = at once.
   */
  engineAbortLagMs: number;
  /** Never answer the first N requests (as `hang`), then answer: a node that recovers. 0 = off. */
  hangFirst: number;
  /** No Conversations API (as vLLM, Ollama, most OpenAI-compatible servers): `/v1/conversations…` is a 404 "no route". */
  noConversations?: boolean;
  /**
   * OpenAI-compatible nodes: the organisation's tokens-per-minute quota, as OpenAI applies it
   * to one request: a request whose tokens (its body's bytes / 4 + its output cap) alone pass
   * it is answered 429 `Request too large for <model> … on tokens per min (TPM): Limit L,
   * Requested R`, type `tokens`, code `rate_limit_exceeded`, with no Retry-After. 0 = none.
   */
  tpmQuota?: number;
  /**
   * Anthropic nodes: the organisation's input-tokens-per-minute limit (ITPM) and what its
   * bucket holds now (`inputTpmRemaining`, default the whole limit; not drawn down: a test sets
   * it). A request whose input tokens pass what remains is answered as Anthropic does: 429
   * `rate_limit_error`, `This request would exceed your organization's rate limit of L input
   * tokens per minute …`, with `anthropic-ratelimit-input-tokens-{limit,remaining,reset}` and
   * `retry-after`. Anthropic words it the same whether the request alone passes the limit or
   * the organisation's traffic spent it. 0 = none.
   */
  inputTpmLimit?: number;
  inputTpmRemaining?: number;
  /**
   * Chat answers: reasoning tokens the model writes and bills as output but leaves out of
   * `completion_tokens` — counted in `total_tokens` (and `completion_tokens_details.reasoning_tokens`),
   * as xAI's Grok and Google's OpenAI-compatible Gemini report them. 0 = none.
   */
  hiddenReasoningTokens: number;
}

export const DEFAULT_KNOBS: Knobs = {
  latencyMs: 0,
  status: 0,
  hang: false,
  reset: false,
  refuse: false,
  chunks: 3,
  chunkDelayMs: 0,
  cutAfterChunks: -1,
  stallAfterChunks: -1,
  streamErrorCode: 0,
  failFirst: 0,
  completionTokens: 0,
  padBytes: 0,
  endlessEvent: false,
  usageNull: false,
  endAfterChunks: -1,
  gzip: false,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  contentFilter: false,
  msPerToken: 0,
  specialTokens: 0,
  templateTokens: 0,
  toolTemplateTokens: 0,
  crlf: false,
  engineRequestIds: false,
  hiddenReasoningTokens: 0,
  engineAbortLagMs: 0,
  hangFirst: 0,
};

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  /** The body exactly as received (JSON.parse would round big integers). */
  raw: string;
  /** Byte length and SHA-256 of the body: byte-for-byte comparisons of binary (multipart) bodies. */
  size: number;
  sha256: string;
}

/** The API a simulated node speaks (`anthropic.ts`, `azure.ts`, `bedrock.ts`, `vertex.ts`; default OpenAI-compatible). */
export type Speaks = 'openai' | 'anthropic' | 'azure' | 'bedrock' | 'vertex' | 'vertex-token';

export interface SimNode {
  id: string;
  speaks: Speaks;
  port: number;
  knobs: Knobs;
  baseKnobs: Knobs;
  server: http.Server;
  sockets: Set<Socket>;
  requests: RecordedRequest[];
  served: number;
  listening: boolean;
  /** Responses this node stored (`POST /v1/responses` without `store: false`), by id. */
  responses: Map<string, StoredResponse>;
  /** Conversations this node holds (`POST /v1/conversations`), by id (`conversations.ts`). */
  conversations: Map<string, StoredConversation>;
  /** Structured-output schemas this node has processed (knob `schemaMs`), as their JSON. */
  schemas: Set<string>;
  /** Requests in flight by the id the engine runs them under (knob `engineRequestIds`). */
  running: Map<string, http.ServerResponse>;
}

export interface StoredResponse {
  response: Record<string, unknown>;
  input: unknown[];
  /** Its whole context (input, the context it continued, output): billed as input by a follow-up. */
  contextTokens: number;
}

export interface StoredConversation {
  conversation: { id: string; object: 'conversation'; created_at: number; metadata: unknown };
  /** Its items in order, each with an id: added by create, items create, and every Responses call on it (input, then output). */
  items: Record<string, unknown>[];
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The separate inputs of an embeddings `input`: a string or one token-id array is one, else each item. */
export function embeddingInputs(input: unknown): unknown[] {
  if (!Array.isArray(input)) return [input];
  return input.length > 0 && input.every((t) => typeof t === 'number') ? [input] : input;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, gzip = false) {
  const text = JSON.stringify(body);
  if (gzip) {
    const coded = gzipSync(text);
    res.writeHead(status, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': coded.byteLength, ...headers });
    res.end(coded);
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * Like OpenAI: the first `<field>[i]` of `fields` (chat `messages`, `tools`; Responses `input`
 * items, `tools`) that is not an object is a 400 naming it, never a crash. True when it answered.
 */
export function refusedNotObject(res: http.ServerResponse, body: Record<string, unknown>, fields: string[]): boolean {
  for (const field of fields) {
    const list = body[field];
    if (!Array.isArray(list)) continue;
    const i = list.findIndex((entry) => entry === null || typeof entry !== 'object' || Array.isArray(entry));
    if (i < 0) continue;
    const got = list[i] === null ? 'null' : Array.isArray(list[i]) ? 'an array' : `a ${typeof list[i]}`;
    const param = `${field}[${i}]`;
    sendJson(res, 400, { error: { message: `Invalid type for '${param}': expected an object, but got ${got} instead.`, type: 'invalid_request_error', param, code: 'invalid_type' } });
    return true;
  }
  return false;
}

export function errorBody(status: number, message: string) {
  return { error: { message, type: status === 429 ? 'rate_limit_error' : 'server_error', param: null, code: null } };
}

/** What the node "writes": `completionTokens` unless the request capped it, else `chunks`. */
export function completionTokens(k: Knobs, body: Record<string, unknown>): number {
  if (k.completionTokens <= 0) return k.chunks;
  const cap = Number(body.max_completion_tokens ?? body.max_tokens ?? Infinity);
  return Math.min(k.completionTokens, cap);
}

/** Prompt tokens the node's chat template adds to a chat or Responses body (knobs `templateTokens`, `toolTemplateTokens`). */
export function chatTemplateTokens(k: Knobs, body: Record<string, unknown>): number {
  return k.templateTokens + (Array.isArray(body.tools) && body.tools.length > 0 ? k.toolTemplateTokens : 0);
}

export async function readBytes(req: http.IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

export async function readBody(req: http.IncomingMessage): Promise<string> {
  return (await readBytes(req)).toString('utf8');
}

