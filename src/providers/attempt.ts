/**
 * One attempt's request for its node's provider: URL, headers (the node's credential in the
 * provider's way, signed over the exact bytes when the provider signs), body, and how the
 * answer comes back (`answer.ts`). Same format in and out: the caller's bytes with only the
 * model spliced (`forward/attempt-body.ts`) — so `cache_control`, thinking blocks and their
 * signatures reach an Anthropic node as sent. Different formats: translated, from the fields
 * the translator knows (a caller cannot smuggle a provider-only parameter past the reservation).
 */
import { maxTokensParamFor, type LoadedConfig } from '../config/load';
import { callerCap, defaultCap, type AttemptBody } from '../forward/attempt-body';
import { upstreamHeaders } from '../forward/upstream';
import { ENDPOINTS } from '../openai/endpoints';
import type { ParsedRequest } from '../openai/requests';
import type { PlannedAttempt } from '../forward/plan';
import { answerShape, type AnswerShape } from './answer';
import { messagesToChatRequest } from './anthropic-inbound/to-chat-request';
import { betaHeaderWithin, betasWithin } from './anthropic/betas';
import { CredentialError } from './credential';
import { nativeMessagesShape } from './native-messages';
import { adapterFor, wireFormatOf, type WireFormat } from './registry';
import { fail, ok, type ProviderAdapter, type Result, type TranslationContext } from './types';

export interface PreparedAttempt {
  url: string;
  headers: Headers;
  body: BodyInit;
  adapter: ProviderAdapter;
  /** Undefined: today's OpenAI pass-through delivery. */
  shape: AnswerShape | undefined;
}

export interface AttemptContext {
  config: LoadedConfig;
  request: ParsedRequest;
  bodyFor: (attempt: PlannedAttempt) => AttemptBody;
  incomingHeaders: Headers;
  requestId: string;
  credential: string | undefined;
}

const encoder = new TextEncoder();

/** The format the caller speaks. */
export const callerFormatOf = (request: Pick<ParsedRequest, 'endpoint'>): WireFormat => (request.endpoint === 'messages' ? 'anthropic' : 'openai');

function translatedBody(cx: AttemptContext, attempt: PlannedAttempt, adapter: ProviderAdapter, callerFormat: WireFormat, tctx: TranslationContext): Result<unknown> {
  if (callerFormat === 'anthropic') {
    // Bedrock models other than Claude (no native Messages body): not translated for Messages callers.
    if (adapter.name === 'bedrock') return fail('unsupported_endpoint', `Node ${attempt.node.id} takes Anthropic Messages requests for Claude models only.`);
    // A model that takes only `max_completion_tokens` (o-series, gpt-5) is a reasoning model: Claude's `thinking` becomes its effort.
    const reasoning = maxTokensParamFor(cx.config, attempt.model, attempt.upstreamModel) === 'max_completion_tokens';
    const chat = messagesToChatRequest(cx.request.body, { upstreamModel: attempt.upstreamModel, reasoning });
    if (!chat.ok || !reasoning) return chat;
    const { max_tokens, ...rest } = chat.value;
    return ok({ ...rest, max_completion_tokens: max_tokens });
  }
  if (!adapter.translateRequest) return fail('unsupported_endpoint', `Node ${attempt.node.id} cannot take this request.`);
  return adapter.translateRequest(cx.request.body, tctx);
}

export async function prepareAttempt(cx: AttemptContext, attempt: PlannedAttempt): Promise<Result<PreparedAttempt>> {
  const { request } = cx;
  const adapter = adapterFor(attempt.node);
  const callerFormat = callerFormatOf(request);
  const nodeFormat = wireFormatOf(attempt.node, attempt.upstreamModel);
  // Messages are chat to every adapter: Anthropic's maps chat to `/messages`, the others to chat completions.
  const routerPath = request.endpoint === 'messages' ? '/chat/completions' : ENDPOINTS[request.endpoint].path;
  // Claude on Bedrock / Vertex takes Messages callers' bodies nearly as they are (`native-messages.ts`).
  const native = callerFormat === 'anthropic' ? adapter.messagesTarget?.(attempt.node, attempt.model, request.stream) : undefined;
  const target = native ?? adapter.target(attempt.node, attempt.model, routerPath, { stream: request.stream });
  if (!target.ok) return target;
  let maxTokens: number | undefined;
  const tctx: TranslationContext = {
    model: attempt.model,
    upstreamModel: attempt.upstreamModel,
    // Read only by translations: a pass-through attempt never works it out.
    get maxTokens() {
      return (maxTokens ??= callerCap(request) ?? defaultCap(cx.config, request, attempt.model) ?? cx.config.limits.defaultMaxTokens);
    },
    includeUsage: (request.body.stream_options as { include_usage?: unknown } | null | undefined)?.include_usage === true,
  };
  let body: BodyInit;
  let contentType = 'application/json';
  // Betas past the model's configured context are not passed (`anthropic/betas.ts`).
  const context = cx.config.models[attempt.model]?.contextTokens ?? cx.config.limits.defaultContextTokens;
  if (native) {
    const platformBody = adapter.messagesBody!(request.body, { ...tctx, stream: request.stream });
    if (!platformBody.ok) return platformBody;
    const platform = platformBody.value as Record<string, unknown>;
    // The platforms document a list; a string (a header's comma list) is held to the same rule, not passed unread.
    const asked = platform.anthropic_beta;
    if (asked != null) platform.anthropic_beta = betasWithin(Array.isArray(asked) ? asked.map(String) : String(asked).split(','), context);
    body = JSON.stringify(platform);
  } else if (callerFormat === nodeFormat) {
    ({ body, contentType } = cx.bodyFor(attempt));
  } else {
    const translated = translatedBody(cx, attempt, adapter, callerFormat, tctx);
    if (!translated.ok) return translated;
    body = JSON.stringify(translated.value);
  }
  const headers = upstreamHeaders(cx.incomingHeaders, undefined, cx.requestId, contentType);
  // Anthropic's feature flags (prompt-caching betas, long context…) travel with Anthropic bodies.
  const beta = cx.incomingHeaders.get('anthropic-beta');
  const betas = beta && callerFormat === 'anthropic' && nodeFormat === 'anthropic' ? betaHeaderWithin(beta, context) : undefined;
  if (betas) headers.set('anthropic-beta', betas);
  if (cx.credential !== undefined) {
    let bytes: Uint8Array | undefined;
    const sent = body;
    const bodyBytes = () => (bytes ??= typeof sent === 'string' ? encoder.encode(sent) : sent instanceof Uint8Array ? sent : undefined);
    let auth: Record<string, string>;
    try {
      const pending = adapter.authHeaders(cx.credential, { url: target.value, method: 'POST', body: bodyBytes });
      auth = pending instanceof Promise ? await pending : pending;
    } catch (err) {
      // A Vertex token that could not be minted: the node's fault (the engine skips it), never the caller's.
      if (err instanceof CredentialError) return fail('node_credential', err.message);
      throw err;
    }
    for (const [name, value] of Object.entries(auth)) headers.set(name, value);
  }
  return ok({ url: target.value, headers, body, adapter, shape: native ? nativeMessagesShape(adapter, tctx) : answerShape(callerFormat, nodeFormat, adapter, tctx) });
}
