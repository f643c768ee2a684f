/**
 * The provider adapter contract (DESIGN.md "Provider adapters") and the shapes every adapter
 * shares: canonical usage, the typed result of a translation, and how an upstream's error
 * maps onto the router's outcomes. Wire formats live beside their adapter
 * (`anthropic/wire.ts`, `openai/chat-wire.ts`); this module only names the contract.
 *
 * The engine, limits, routing and relay stay provider-agnostic: they call an adapter through
 * this interface, chosen per node by `registry.ts`.
 */

/** Outbound providers a node can speak (`nodes[].provider`, default `openai`). */
export const PROVIDER_NAMES = ['openai', 'azure', 'anthropic', 'bedrock', 'vertex'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/**
 * Token usage in one shape, whatever the provider called it. `promptTokens` counts every
 * input token the provider billed, cache reads and cache writes included (OpenAI's
 * `prompt_tokens` convention); `cachedTokens` and `cacheWriteTokens` are the parts of it
 * priced differently, and `cacheWrite1hTokens` the part of the writes made with a one-hour
 * TTL (Anthropic prices them apart: 2× input, against 1.25× for five minutes).
 */
export interface CanonicalUsage {
  promptTokens: number;
  cachedTokens: number;
  cacheWriteTokens: number;
  cacheWrite1hTokens?: number;
  completionTokens: number;
}

/** Why a translation could not be made. Never thrown: converters return it. */
export type TranslationFailureReason =
  /** The body does not have the documented shape of its format. */
  | 'invalid_shape'
  /** A feature the target format has no way to express (e.g. `n > 1` on Anthropic). */
  | 'unsupported_feature'
  /** A value outside what the target accepts (e.g. temperature 1.5 on Anthropic). */
  | 'unsupported_value'
  /** Anthropic `thinking` / `redacted_thinking` blocks cannot be sent to an OpenAI-format node. */
  | 'thinking_in_history'
  /** Tool-call arguments that are not a JSON object, where the target needs an object. */
  | 'invalid_tool_arguments'
  /** The node's API has no such endpoint (e.g. moderations on Azure). */
  | 'unsupported_endpoint'
  /** The node's credential could not be had (a Vertex token mint failed): the node's fault, never the caller's. */
  | 'node_credential';

export interface TranslationFailure {
  reason: TranslationFailureReason;
  /** For the caller: says what was refused and why. Never holds secrets or upstream detail. */
  message: string;
  /** The request field at fault, as a dotted path (`messages.2.content.0`), when there is one. */
  param: string | null;
}

export type Result<T, E = TranslationFailure> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });
export const fail = (reason: TranslationFailureReason, message: string, param: string | null = null): { ok: false; error: TranslationFailure } => ({
  ok: false,
  error: { reason, message, param },
});

/**
 * What an upstream error means for the router (the same three answers `forward/outcome.ts`
 * gives for OpenAI nodes): `caller` — return it at once; `node` — try another node;
 * `rate-limited` — the node refused for quota, try another and leave it alone for a while.
 */
export type ErrorFault = 'caller' | 'node' | 'rate-limited';

/** An OpenAI-shaped error body, as the router returns every error. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface MappedError {
  /** Status to give the caller if this error is the final answer. */
  status: number;
  fault: ErrorFault;
  /** Delay the upstream asked for before the next request (ms), if it said. */
  retryAfterMs?: number;
  body: OpenAIErrorBody;
}

/** The parts of a node an adapter reads (a subset of the config's `NodeSchema`). */
export interface ProviderNode {
  /** e.g. `https://api.openai.com/v1`, `https://api.anthropic.com/v1`, `https://res.openai.azure.com`. */
  baseUrl: string;
  /** Router model id → the name this node knows it by (an Azure deployment name). */
  modelMap: Record<string, string>;
}

/** The request an adapter authenticates: exactly what will be sent. */
export interface OutboundRequest {
  url: string;
  method: 'GET' | 'POST' | 'DELETE';
  /**
   * The body's bytes (undefined for GET and for multipart forms the runtime encodes). A
   * function, computed on first call: only signing adapters pay for encoding the body.
   */
  body(): Uint8Array | undefined;
}

/** One line of an SSE stream the caller receives: a complete frame ending in a blank line. */
export type SseFrame = string;

/** An incremental stream translator: fed one upstream SSE event at a time, O(1) work each. */
export interface StreamTranslator {
  /** One upstream event (`event:` name if any, `data:` payload); returns the frames to send on. */
  push(event: { event?: string; data: string }): SseFrame[];
  /** The upstream stream ended; returns closing frames (or an error frame if it ended early). */
  end(): SseFrame[];
  /** Usage seen so far (final once the stream has ended), undefined if the upstream sent none. */
  usage(): CanonicalUsage | undefined;
  /**
   * Binary upstream streams (Bedrock's AWS event stream): fed the raw bytes as they arrive
   * instead of SSE events; the relay calls this, not `push`, when it is present.
   */
  pushBytes?(bytes: Uint8Array): SseFrame[];
}

/** What one request to a node needs, computed by the adapter. */
export interface TranslationContext {
  /** The router model id the caller asked for (shown back to the caller). */
  model: string;
  /** The node's name for it (`modelMap`, else the router id). */
  upstreamModel: string;
  /** The completion cap reserved for this request: always sent where the provider needs one. */
  maxTokens: number;
  /** The caller asked for a final usage chunk (`stream_options.include_usage`). */
  includeUsage: boolean;
}

/**
 * One provider. URL and auth are I/O-facing (and auth may be async: SigV4, OAuth tokens);
 * translations are pure and return a `Result`; an adapter that speaks the router's own
 * format leaves them out (byte-preserving pass-through).
 */
export interface ProviderAdapter {
  readonly name: ProviderName;
  /**
   * Upstream URL for a router endpoint path (`/chat/completions`, `/embeddings`, …). `stream`:
   * the caller asked for a stream (Bedrock and Vertex have separate streaming operations).
   */
  target(node: ProviderNode, model: string, path: string, options?: { stream: boolean }): Result<string>;
  /**
   * Headers that carry the node's credential (never the caller's key). Given the request
   * about to be sent, so a signing scheme (SigV4) can cover its URL, method and body bytes;
   * may be async (signing, a cached OAuth token).
   */
  authHeaders(credential: string, request: OutboundRequest): Record<string, string> | Promise<Record<string, string>>;
  /** Caller's chat request → the node's request body. */
  translateRequest?(body: unknown, ctx: TranslationContext): Result<unknown>;
  /** Node's JSON answer → the caller's JSON answer. */
  translateJson?(body: unknown, ctx: TranslationContext): Result<unknown>;
  /** A fresh translator for one streamed answer. */
  streamTranslator?(ctx: TranslationContext): StreamTranslator;
  /** Usage from the node's JSON answer, read structurally. */
  usage(body: unknown): CanonicalUsage | undefined;
  /** Node's error answer → what it means and what the caller sees. */
  mapError(status: number, headers: Headers, body: unknown): MappedError;
  /** Unbilled health probe request for the node. */
  probe(node: ProviderNode): { url: string; method: 'GET' };
  /**
   * Anthropic Messages callers the node serves natively (Claude on Bedrock InvokeModel, on
   * Vertex rawPredict): the body kept, but for the platform's own changes. Undefined (or
   * `messagesTarget` answering undefined for a model): Messages callers are translated as
   * for any node of the adapter's wire format.
   */
  messagesTarget?(node: ProviderNode, model: string, stream: boolean): Result<string> | undefined;
  messagesBody?(body: unknown, ctx: TranslationContext & { stream: boolean }): Result<unknown>;
  /** A translator for the native stream when it is not Anthropic SSE (Bedrock's event stream). */
  messagesStream?(): StreamTranslator;
}
