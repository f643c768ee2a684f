/**
 * `POST /v1/responses/input_tokens` (the openai SDK's `responses.inputTokens.count`): how many
 * input tokens a Responses request would carry, answered by the router as Anthropic's
 * `count_tokens` is (`providers/anthropic-inbound/route.ts`) — from its estimate of the body
 * (text at 4 ASCII characters a token, `limits.promptTokens: "estimate"`'s rule, whatever the
 * setting: an answer a caller plans with, not a reservation), plus, with a
 * `previous_response_id`, the stored context the router recorded for that response (what its
 * node reported as input + output for a JSON answer; for a streamed one, the bound reserved
 * for it). The id is verified as every Responses request verifies it: signed, this key's, a
 * configured node — else 400 `previous_response_not_found`. A `conversation` is the node's
 * own state, which the router cannot see: 400 — once verified as every conversation id is
 * (`conversation-ids.ts`): another key's or a forged one is the unknown conversation's 404.
 * Reaches no node, reserves nothing and counts against no limit. Errors in OpenAI's shape.
 */
import type { Context } from 'hono';
import * as z from 'zod';
import type { AppEnv } from '../bindings';
import { authenticate } from '../auth/keys';
import { loadConfig, type LoadedConfig } from '../config/load';
import { RouterError } from '../errors/router-error';
import { estimatePromptTokens, responsesPrompt } from '../limits/estimate';
import { imageSize } from '../limits/image-size';
import { resolveModel } from './models';
import { withCountedBody } from './count-body';
import { responseIdSigner, verifyResponseId, type ResponseIdSigner } from './response-ids';
import { conversationNotFound, verifyConversationId } from './conversation-ids';

/** Verifies nothing: without a usable secret no id this router handed out can be verified. */
const NO_SIGNER: ResponseIdSigner = { sign: () => '', verify: async () => false };

function optionalSigner(env: { RESPONSE_ID_SECRET?: unknown }): ResponseIdSigner | undefined {
  try {
    return responseIdSigner(env);
  } catch {
    return undefined;
  }
}

const InputTokensSchema = z.looseObject({
  model: z.string().min(1).nullish(),
  input: z.union([z.string(), z.array(z.unknown())]).nullish(),
  instructions: z.string().nullish(),
  tools: z.array(z.unknown()).nullish(),
  previous_response_id: z.string().min(1).nullish(),
});

export async function inputTokens(c: Context<AppEnv>): Promise<Response> {
  const config = loadConfig(c.env);
  const key = await authenticate(c.req.raw, c.env.ROUTER_KV);
  return withCountedBody(c, config, InputTokensSchema, (body) => countInput(c, config, key, body));
}

async function countInput(c: Context<AppEnv>, config: LoadedConfig, key: { id: string; models?: string[] | undefined }, body: z.infer<typeof InputTokensSchema>): Promise<Response> {
  if (body.conversation !== undefined && body.conversation !== null) {
    // Verified first, as everywhere: another key's or a forged id is the unknown conversation's 404, never a hint that it exists.
    const given = body.conversation as unknown;
    const tagged = typeof given === 'string' ? given : typeof (given as { id?: unknown } | null)?.id === 'string' ? (given as { id: string }).id : '';
    const owner = await verifyConversationId(optionalSigner(c.env) ?? NO_SIGNER, tagged);
    if (!owner || owner.keyId !== key.id || !config.nodesById.has(owner.nodeId)) throw conversationNotFound(tagged, 'conversation');
    throw new RouterError(400, "conversation is held by the node that stores it, which the router cannot count: send the conversation's items as input.", {
      code: 'unsupported_parameter',
      param: 'conversation',
    });
  }
  // A model the key may not use (or the router does not serve) is refused as a request for it would be.
  if (typeof body.model === 'string') resolveModel(config, body.model, key.models);
  let context = 0;
  if (typeof body.previous_response_id === 'string') {
    const previous = body.previous_response_id;
    let owner: Awaited<ReturnType<typeof verifyResponseId>>;
    try {
      owner = await verifyResponseId(responseIdSigner(c.env), previous);
    } catch {
      owner = undefined; // no usable secret: no id this router handed out can be verified
    }
    if (!owner || owner.keyId !== key.id || !config.nodesById.has(owner.nodeId)) {
      throw new RouterError(400, `Previous response with id '${previous.slice(0, 300)}' not found.`, { code: 'previous_response_not_found', param: 'previous_response_id' });
    }
    context = Math.max(0, Math.ceil(owner.contextTokens));
  }
  const { model: _model, previous_response_id: _previous, ...counted } = body;
  const tokens = estimatePromptTokens(responsesPrompt(counted), imageSize, undefined, 'estimate');
  return c.json({ object: 'response.input_tokens', input_tokens: tokens + context });
}
