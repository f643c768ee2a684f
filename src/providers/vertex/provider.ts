/**
 * Vertex AI as a `ProviderAdapter` (the registry's contract) for chat callers. Gemini goes
 * to the OpenAI-compatible endpoint as the caller's bytes with the model spliced (the
 * node's `modelMap` names it `google/…`); Claude goes to `:rawPredict` / `:streamRawPredict`
 * translated to a Vertex Messages body and back. Auth is a Bearer token minted from the
 * service account (credential = the key file) and cached per isolate; a failed mint throws
 * `CredentialError` with its reason (the attempt is the node's fault; probes show it).
 */
import { cloudMessagesBody } from '../anthropic/cloud-body';
import { messagesToChat, messagesUsage } from '../anthropic/from-messages';
import { AnthropicToChatStream } from '../anthropic/stream-to-chat';
import { CredentialError } from '../credential';
import { fail, ok, type ProviderAdapter, type ProviderNode } from '../types';
import { vertexAdapter } from './adapter';
import { mapVertexError } from './errors';
import { isolateTokenCache } from './token-cache';
import { isClaude, vertexProbe, vertexRoute, type VertexNode } from './url';

export interface VertexOptions {
  project: string;
  region: string;
}

export function vertexProvider(opts: VertexOptions): ProviderAdapter {
  const at = (node: ProviderNode): VertexNode => ({ project: opts.project, region: opts.region, baseUrl: node.baseUrl });
  return {
    name: 'vertex',
    target(node, model, path, options) {
      if (path !== '/chat/completions') return fail('unsupported_endpoint', `Vertex nodes serve chat completions only, not ${path}.`);
      const route = vertexRoute(at(node), node.modelMap[model] ?? model, options?.stream === true);
      return route.ok ? ok(route.value.url) : route;
    },
    async authHeaders(credential) {
      const auth = await vertexAdapter.authHeaders(credential, isolateTokenCache);
      if (!auth.ok) throw new CredentialError(auth.error.reason);
      return auth.value;
    },
    // Only Claude models are translated (Gemini speaks the caller's format and passes through).
    translateRequest(body, ctx) {
      const stream = (body as { stream?: unknown } | null)?.stream === true;
      return vertexAdapter.translateRequest({ ...opts }, body, 'chat', { ...ctx, stream });
    },
    translateJson: (body, ctx) => messagesToChat(body, { model: ctx.model }),
    streamTranslator: (ctx) => new AnthropicToChatStream(ctx),
    usage: messagesUsage,
    mapError: mapVertexError,
    // Claude keeps Messages callers' bodies through rawPredict (its stream is Anthropic SSE).
    messagesTarget(node, model, stream) {
      const upstream = node.modelMap[model] ?? model;
      if (!isClaude(upstream)) return undefined;
      const route = vertexRoute(at(node), upstream, stream);
      return route.ok ? ok(route.value.url) : route;
    },
    messagesBody: (body, ctx) => cloudMessagesBody(body, { platform: 'vertex', maxTokens: ctx.maxTokens, stream: ctx.stream }),
    probe(node) {
      const p = vertexProbe(at(node));
      return p.ok ? p.value : { url: node.baseUrl, method: 'GET' };
    },
  };
}
