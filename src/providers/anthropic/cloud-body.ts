/**
 * The Messages body as Claude on a cloud platform takes it (AWS "Anthropic Claude Messages
 * API" on Bedrock InvokeModel; Google "Use Claude on Vertex AI", rawPredict): the model
 * moves into the URL, `anthropic_version` names the platform's version, and everything
 * else is Anthropic's Messages request.
 *
 * - Bedrock: `anthropic_version: "bedrock-2023-05-31"`; no `model`, no `stream` (streaming
 *   is the `invoke-with-response-stream` operation; Bedrock refuses the key).
 * - Vertex: `anthropic_version: "vertex-2023-10-16"`; no `model`; `stream: true` for
 *   `streamRawPredict`.
 * `max_tokens` is always the reserved cap: a caller's larger one never reaches the node.
 */
import * as z from 'zod';
import { firstIssue } from '../openai/chat-wire';
import { fail, ok, type Result } from '../types';

/**
 * What the platforms' bodies need of the caller's: an object with messages. The rest is
 * Claude's to judge, as on an `anthropic` node, where the body goes byte for byte: the
 * translators' schemas (`wire.ts`) model only what they convert, and held to them a valid
 * request — a PDF in a tool result (Claude Code's Read), a Files API image, a server tool's
 * turn — was refused with the router's own 400. Nothing passes that the reservation does not
 * see: `max_tokens` is set to the cap below.
 */
const CloudMessages = z.looseObject({ messages: z.array(z.looseObject({ role: z.string() })).min(1) });

export type CloudPlatform = 'bedrock' | 'vertex';

export const CLOUD_ANTHROPIC_VERSION: Record<CloudPlatform, string> = {
  bedrock: 'bedrock-2023-05-31',
  vertex: 'vertex-2023-10-16',
};

export function cloudMessagesBody(body: unknown, opts: { platform: CloudPlatform; maxTokens: number; stream: boolean }): Result<Record<string, unknown>> {
  const parsed = CloudMessages.safeParse(body);
  if (!parsed.success) {
    const issue = firstIssue(parsed.error);
    return fail('invalid_shape', `Invalid Messages request: ${issue.message}`, issue.path);
  }
  const { model: _model, stream: _stream, ...rest } = parsed.data;
  const out: Record<string, unknown> = { anthropic_version: CLOUD_ANTHROPIC_VERSION[opts.platform], ...rest, max_tokens: opts.maxTokens };
  if (opts.platform === 'vertex' && opts.stream) out.stream = true;
  return ok(out);
}
