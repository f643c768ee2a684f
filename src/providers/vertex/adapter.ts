/**
 * The Vertex AI adapter: URL by model family, a Bearer token minted from the node's service
 * account (cached per isolate, single flight), and the converter each pair of caller
 * format and model family takes:
 *
 * | caller   | Gemini (openapi endpoint)             | Claude (rawPredict)                                 |
 * | chat     | pass-through, `model` = `google/…`    | chat → Messages, Messages JSON/SSE → chat           |
 * | messages | (inbound converter of issue 20)       | Messages kept, `anthropic_version` set, no `model`  |
 */
import { cloudMessagesBody } from '../anthropic/cloud-body';
import { messagesToChat, messagesUsage } from '../anthropic/from-messages';
import { AnthropicToChatStream } from '../anthropic/stream-to-chat';
import { chatToMessages } from '../anthropic/to-messages';
import { fail, ok, type Result, type TranslationContext } from '../types';
import { mapVertexError, tokenFailure } from './errors';
import { parseServiceAccount } from './service-account';
import { isolateTokenCache, type VertexTokenCache } from './token-cache';
import { vertexProbe, vertexRoute, type VertexNode } from './url';

export type InboundFormat = 'chat' | 'messages';

export const vertexAdapter = {
  name: 'vertex' as const,
  route: vertexRoute,
  probe: vertexProbe,
  mapError: mapVertexError,

  /** `Authorization: Bearer <token>`, or the node fault (with its reason) when no token can be had. */
  async authHeaders(serviceAccountJson: string | undefined, cache: VertexTokenCache = isolateTokenCache) {
    const sa = parseServiceAccount(serviceAccountJson);
    if (!sa.ok) return { ok: false as const, error: tokenFailure(sa.reason) };
    const t = await cache.token(sa.value);
    if (!t.ok) return { ok: false as const, error: tokenFailure(t.reason) };
    return { ok: true as const, value: { authorization: `Bearer ${t.token}` } };
  },

  translateRequest(node: VertexNode, body: unknown, format: InboundFormat, ctx: TranslationContext & { stream: boolean }): Result<unknown> {
    const r = vertexRoute(node, ctx.upstreamModel, ctx.stream);
    if (!r.ok) return r;
    if (r.value.kind === 'openapi') {
      if (format !== 'chat') return fail('unsupported_endpoint', 'Messages requests to Gemini on Vertex need the inbound Messages converter.');
      if (!body || typeof body !== 'object' || Array.isArray(body)) return fail('invalid_shape', 'Invalid chat request.');
      return ok({ ...(body as Record<string, unknown>), model: r.value.model });
    }
    if (format === 'messages') return cloudMessagesBody(body, { platform: 'vertex', maxTokens: ctx.maxTokens, stream: ctx.stream });
    const m = chatToMessages(body, ctx);
    return m.ok ? cloudMessagesBody(m.value, { platform: 'vertex', maxTokens: ctx.maxTokens, stream: ctx.stream }) : m;
  },

  /** Chat callers of Claude get the Message turned into a chat completion; others pass through. */
  translateJson(node: VertexNode, body: unknown, format: InboundFormat, ctx: TranslationContext): Result<unknown> {
    const route = vertexRoute(node, ctx.upstreamModel, false);
    if (format === 'chat' && route.ok && route.value.kind === 'anthropic') return messagesToChat(body, { model: ctx.model });
    return ok(body);
  },

  /** Chat callers of Claude: `streamRawPredict` speaks Anthropic SSE, translated event by event. */
  streamTranslator(ctx: TranslationContext) {
    return new AnthropicToChatStream(ctx);
  },

  usage: messagesUsage,
};
