/**
 * Bedrock as a `ProviderAdapter` (the registry's contract) for chat callers: Converse /
 * ConverseStream at `{baseUrl}/model/{modelMap name}/converse[-stream]`, SigV4-signed over
 * the exact bytes (or a Bedrock API key as Bearer), answers translated back to chat JSON and
 * chunks (the binary stream through `pushBytes`), usage with cache reads and writes, errors
 * by their AWS name, and the `GetFoundationModel` probe.
 *
 * The credential string is what `providers/credential.ts` assembled: a JSON key pair
 * (`{"accessKeyId","secretAccessKey","sessionToken"?}`) or a Bedrock API key.
 */
import { cloudMessagesBody } from '../anthropic/cloud-body';
import { fail, type ProviderAdapter, type ProviderNode } from '../types';
import { InvokeStreamToMessages } from './invoke-stream';
import { ConverseToChatStream } from './converse-stream';
import { mapBedrockError } from './errors';
import { converseToChat, converseUsage } from './from-converse';
import { bedrockAuthHeaders, type BedrockCredentials } from './sign';
import { chatToConverse } from './to-converse';
import { bedrockModelUrl, bedrockProbeUrl, bedrockRuntimeBase, isBedrockClaude } from './url';

export interface BedrockOptions {
  region: string;
}

function credentials(credential: string): BedrockCredentials {
  if (!credential.startsWith('{')) return { kind: 'apiKey', apiKey: credential };
  const c = JSON.parse(credential) as { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  return { kind: 'sigv4', accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}) };
}

const upstreamOf = (node: ProviderNode, model: string) => node.modelMap[model] ?? model;

export function bedrockProvider(opts: BedrockOptions): ProviderAdapter {
  return {
    name: 'bedrock',
    target(node, model, path, options) {
      if (path !== '/chat/completions') return fail('unsupported_endpoint', `Bedrock nodes serve chat completions only, not ${path}.`);
      const base = bedrockRuntimeBase(opts.region, node.baseUrl);
      return base.ok ? bedrockModelUrl(base.value, upstreamOf(node, model), options?.stream ? 'converse-stream' : 'converse') : base;
    },
    authHeaders(credential, request) {
      const headers: Record<string, string> = request.method === 'POST' ? { 'content-type': 'application/json' } : {};
      const body = request.body();
      return bedrockAuthHeaders({ method: request.method, url: request.url, ...(body ? { body } : {}), headers, region: opts.region, credentials: credentials(credential) });
    },
    translateRequest: (body, ctx) => chatToConverse(body, ctx),
    // Converse answers carry no id: each chat answer gets a fresh one.
    translateJson: (body, ctx) => converseToChat(body, { model: ctx.model, id: `chatcmpl-${crypto.randomUUID()}` }),
    streamTranslator: (ctx) => new ConverseToChatStream({ model: ctx.model, includeUsage: ctx.includeUsage, id: `chatcmpl-${crypto.randomUUID()}` }),
    usage: converseUsage,
    mapError: mapBedrockError,
    // Claude (`anthropic.` ids and profiles) keeps Messages callers' bodies through InvokeModel.
    messagesTarget(node, model, stream) {
      const upstream = upstreamOf(node, model);
      if (!isBedrockClaude(upstream)) return undefined;
      const base = bedrockRuntimeBase(opts.region, node.baseUrl);
      return base.ok ? bedrockModelUrl(base.value, upstream, stream ? 'invoke-with-response-stream' : 'invoke') : base;
    },
    messagesBody: (body, ctx) => cloudMessagesBody(body, { platform: 'bedrock', maxTokens: ctx.maxTokens, stream: ctx.stream }),
    messagesStream: () => new InvokeStreamToMessages(),
    probe(node) {
      const first = (node as ProviderNode & { models?: string[] }).models?.[0] ?? '';
      const base = bedrockRuntimeBase(opts.region, node.baseUrl);
      return { url: bedrockProbeUrl(base.ok ? base.value : node.baseUrl, upstreamOf(node, first)), method: 'GET' };
    },
  };
}
