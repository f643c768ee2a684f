/**
 * The Anthropic adapter: where a node's requests go and how they are authenticated
 * (docs: "Getting started" → `x-api-key`, `anthropic-version`), bound to the pure converters
 * of this folder. A node's `baseUrl` is up to and including `/v1`
 * (`https://api.anthropic.com/v1`), as for OpenAI nodes.
 */
import { fail, ok, type ProviderAdapter, type Result } from '../types';
import { mapAnthropicError } from './errors';
import { messagesToChat, messagesUsage } from './from-messages';
import { AnthropicToChatStream } from './stream-to-chat';
import { chatToMessages } from './to-messages';

/** The Messages API version requests pin by default (the only one Anthropic has published). */
export const ANTHROPIC_VERSION = '2023-06-01';

/** The adapter for a node pinned to `version` (`nodes[].anthropicVersion`). */
export const anthropicAdapter = (version: string = ANTHROPIC_VERSION): ProviderAdapter => ({
  name: 'anthropic',
  target(node, _model, path): Result<string> {
    // Only chat is translated; other endpoints have no Messages equivalent.
    if (path !== '/chat/completions') return fail('unsupported_endpoint', `Anthropic nodes serve chat completions only, not ${path}.`);
    return ok(`${node.baseUrl}/messages`);
  },
  authHeaders(credential) {
    return { 'x-api-key': credential, 'anthropic-version': version };
  },
  translateRequest: (body, ctx) => chatToMessages(body, ctx),
  translateJson: (body, ctx) => messagesToChat(body, { model: ctx.model }),
  streamTranslator: (ctx) => new AnthropicToChatStream(ctx),
  usage: messagesUsage,
  mapError: mapAnthropicError,
  // `GET /v1/models` lists models without generating anything: unbilled, and it checks the key.
  probe: (node) => ({ url: `${node.baseUrl}/models`, method: 'GET' }),
});
