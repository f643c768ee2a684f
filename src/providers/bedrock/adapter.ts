/**
 * The Bedrock adapter: where a node's requests go, how they are signed, and which converter
 * each caller format takes. Chat callers go through Converse / ConverseStream (translated
 * both ways); Anthropic Messages callers to Claude go through InvokeModel /
 * InvokeModelWithResponseStream, which keeps their body and answer as Anthropic's.
 *
 * Bedrock differs from the HTTP-header providers in two ways the wiring must honour:
 * authentication signs the URL and the exact body bytes (`authHeaders` needs them), and
 * streamed answers are AWS's binary event stream (`BinaryStreamTranslator`, fed bytes).
 */
import { cloudMessagesBody } from '../anthropic/cloud-body';
import { messagesUsage } from '../anthropic/from-messages';
import { fail, type CanonicalUsage, type MappedError, type Result, type TranslationContext } from '../types';
import { ConverseToChatStream, type BinaryStreamTranslator } from './converse-stream';
import { mapBedrockError } from './errors';
import { converseToChat, converseUsage } from './from-converse';
import { InvokeStreamToMessages } from './invoke-stream';
import { bedrockAuthHeaders, type BedrockCredentials } from './sign';
import { chatToConverse } from './to-converse';
import { bedrockModelUrl, bedrockProbeUrl, bedrockRuntimeBase, type BedrockOperation } from './url';

/** The node's Bedrock settings (`nodes[].bedrock` in the config). */
export interface BedrockNode {
  region: string;
  /** Runtime endpoint override (VPC endpoints, tests); default `https://bedrock-runtime.{region}.amazonaws.com`. */
  baseUrl?: string;
}

export type InboundFormat = 'chat' | 'messages';

function operation(format: InboundFormat, stream: boolean): BedrockOperation {
  if (format === 'chat') return stream ? 'converse-stream' : 'converse';
  return stream ? 'invoke-with-response-stream' : 'invoke';
}

export const bedrockAdapter = {
  name: 'bedrock' as const,

  /** Runtime URL for one request. Only chat completions and Messages have a Bedrock form. */
  target(node: BedrockNode, upstreamModel: string, format: InboundFormat, stream: boolean): Result<string> {
    const base = bedrockRuntimeBase(node.region, node.baseUrl);
    if (!base.ok) return base;
    return bedrockModelUrl(base.value, upstreamModel, operation(format, stream));
  },

  /** Signed headers for the exact bytes that will be sent. */
  authHeaders(node: BedrockNode, credentials: BedrockCredentials, req: { method: 'GET' | 'POST'; url: string; body?: Uint8Array | string; datetime?: string }) {
    const headers: Record<string, string> = req.method === 'POST' ? { 'content-type': 'application/json', accept: 'application/json' } : { accept: 'application/json' };
    return bedrockAuthHeaders({ ...req, headers, region: node.region, credentials });
  },

  translateRequest(body: unknown, format: InboundFormat, ctx: TranslationContext & { stream: boolean }): Result<unknown> {
    if (format === 'chat') return chatToConverse(body, ctx);
    return cloudMessagesBody(body, { platform: 'bedrock', maxTokens: ctx.maxTokens, stream: ctx.stream });
  },

  /** Chat callers: Converse JSON → chat JSON. Messages callers: InvokeModel's answer is already a Message. */
  translateJson(body: unknown, format: InboundFormat, ctx: TranslationContext & { id: string }): Result<unknown> {
    if (format === 'chat') return converseToChat(body, { model: ctx.model, id: ctx.id });
    return body && typeof body === 'object' ? { ok: true, value: body } : fail('invalid_shape', 'The upstream answer is not a Message.');
  },

  streamTranslator(format: InboundFormat, ctx: TranslationContext & { id: string }): BinaryStreamTranslator {
    return format === 'chat' ? new ConverseToChatStream({ model: ctx.model, includeUsage: ctx.includeUsage, id: ctx.id }) : new InvokeStreamToMessages();
  },

  usage(body: unknown, format: InboundFormat): CanonicalUsage | undefined {
    return format === 'chat' ? converseUsage(body) : messagesUsage(body);
  },

  mapError(status: number, headers: Headers, body: unknown): MappedError {
    return mapBedrockError(status, headers, body);
  },

  /** `GetFoundationModel` on the region's control plane: signed, unbilled, proves the credential. */
  probe(node: BedrockNode, upstreamModel: string): Result<{ url: string; method: 'GET' }> {
    const base = bedrockRuntimeBase(node.region, node.baseUrl);
    if (!base.ok) return base;
    return { ok: true, value: { url: bedrockProbeUrl(base.value, upstreamModel), method: 'GET' } };
  },
};
