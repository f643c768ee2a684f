/**
 * What a `POST /v1/responses` needs before admission: the signer for the ids it will hand out,
 * the node a `previous_response_id` pins it to (verified: signed, this key's, a configured
 * node), and the stored context that id carries, which the upstream bills as input and the
 * reservation must therefore hold. Also the `background: true` policy (README "Responses and
 * stored state").
 */
import type { LoadedConfig } from '../config/load';
import { RouterError } from '../errors/router-error';
import type { ForwardInput } from '../forward/engine';
import { keyLimitSet } from '../limits/admission';
import type { KeyLimits } from '../config/schema';
import type { ParsedRequest } from './requests';
import { responseIdSigner, verifyResponseId, type ResponseIdSigner } from './response-ids';
import { conversationNotFound, verifyConversationId } from './conversation-ids';
import { readsResponses } from './endpoints';

export interface ResponseState {
  /** Undefined only for a stateless request (`store: false`) on a router without the secret. */
  signer: ResponseIdSigner | undefined;
  pinned: ForwardInput['pinned'];
  /** Tokens of stored context the previous response carries (0 without one). */
  contextTokens: number;
  previous: { id: string; tagged: string } | undefined;
  /** The verified `conversation`: the node's id and the caller's (`conversation-ids.ts`). */
  conversation?: { id: string; tagged: string };
}

function previousNotFound(previous: string): RouterError {
  return new RouterError(400, `Previous response with id '${previous.slice(0, 300)}' not found.`, { code: 'previous_response_not_found', param: 'previous_response_id' });
}

/**
 * `background: true` answers at once while the provider keeps generating — for minutes, or
 * longer — so neither a concurrency slot nor a token window can cover the work: the slot
 * would be given back at once, and the reservation leaves the 60-s window a minute after the
 * answer while the provider may still be writing, so a later minute could hold that work and
 * a full `tpm` of new requests. Keys (and nodes) that count concurrency or tokens are refused
 * it; spend budgets are safe (no usage in the answer: held at the worst-case cost for the day).
 */
function checkBackground(config: LoadedConfig, request: ParsedRequest, keyLimits: KeyLimits | undefined, chain: string[]): void {
  if (request.body.background !== true) return;
  const counts = (l: { concurrency?: number | undefined; tpm?: number | undefined } | undefined) => l?.concurrency !== undefined || l?.tpm !== undefined;
  const nodeCounts = config.nodes.some((n) => counts(n.limits) && chain.some((m) => n.models.includes(m)));
  const key = keyLimitSet(config, keyLimits);
  if (!counts(key) && !nodeCounts) return;
  const what = key.concurrency !== undefined ? 'a concurrency limit' : key.tpm !== undefined ? 'a tokens-per-minute limit' : 'a node with a quota';
  throw new RouterError(
    400,
    `background: true is not available for this key: it has ${what}, which a background response would escape while the provider generates it (the router sees neither its end nor its tokens). Send the request without background (stream: true keeps the connection cheap).`,
    { code: 'background_not_allowed', param: 'background' },
  );
}

/** A stateless request works without a usable secret: its ids are then left untagged. */
function optionalSigner(env: { RESPONSE_ID_SECRET?: unknown }): ResponseIdSigner | undefined {
  try {
    return responseIdSigner(env);
  } catch {
    return undefined;
  }
}

/** The Responses state of a request; undefined for other endpoints. */
export async function responseState(
  env: { RESPONSE_ID_SECRET?: unknown },
  config: LoadedConfig,
  request: ParsedRequest,
  key: { id: string; limits?: KeyLimits | undefined },
  chain: () => string[],
): Promise<ResponseState | undefined> {
  if (!readsResponses(request.endpoint)) return undefined;
  const previous = request.body.previous_response_id;
  const conversation = request.body.conversation ?? undefined;
  const stateless = request.body.store === false && typeof previous !== 'string' && request.body.background !== true && conversation === undefined;
  const signer = stateless ? optionalSigner(env) : responseIdSigner(env);
  checkBackground(config, request, key.limits, chain());
  if (conversation !== undefined && signer) return conversationState(config, request, key, signer, conversation);
  if (typeof previous !== 'string' || !signer) return { signer, pinned: undefined, contextTokens: 0, previous: undefined };
  const owner = await verifyResponseId(signer, previous);
  if (!owner || owner.keyId !== key.id || !config.nodesById.has(owner.nodeId)) throw previousNotFound(previous);
  return {
    signer,
    pinned: { nodeId: owner.nodeId, what: `Previous response '${previous}'`, previousResponseId: owner.id, storedTokens: owner.contextTokens },
    contextTokens: owner.contextTokens,
    previous: { id: owner.id, tagged: previous },
  };
}

/**
 * A request that names a `conversation` (an id, or `{id}`): verified as a response id is — signed,
 * this key's, a configured node — else OpenAI's 404 for an unknown conversation, before any node
 * is asked; then pinned to the node that holds it, its own id sent there in the caller's form.
 * The conversation's items are not reserved here: input the body names but does not hold
 * reserves the model's whole context window (`limits/body-input.ts`).
 */
async function conversationState(
  config: LoadedConfig,
  request: ParsedRequest,
  key: { id: string },
  signer: ResponseIdSigner,
  conversation: unknown,
): Promise<ResponseState> {
  // OpenAI: "Cannot be used in conjunction with `conversation`" — and two pins could name two nodes.
  if (request.body.previous_response_id != null) {
    throw new RouterError(400, "Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' or 'conversation'.", {
      code: 'mutually_exclusive_parameters',
      param: 'conversation',
    });
  }
  // The schema admits an id or `{id}` (`requests.ts`); anything else reads as no id at all.
  const given = typeof conversation === 'string' ? conversation : (conversation as { id?: unknown } | null)?.id;
  const tagged = typeof given === 'string' ? given : '';
  const owner = await verifyConversationId(signer, tagged);
  if (!owner || owner.keyId !== key.id || !config.nodesById.has(owner.nodeId)) throw conversationNotFound(tagged, 'conversation');
  const sent = typeof conversation === 'string' ? owner.id : { ...(conversation as object), id: owner.id };
  return {
    signer,
    // Its items are of the caller's making and unknown here (items are added for free): no timing of it is the node's (`timingSays`).
    pinned: { nodeId: owner.nodeId, what: `Conversation '${tagged}'`, conversation: sent, storedTokens: Infinity },
    contextTokens: 0,
    previous: undefined,
    conversation: { id: owner.id, tagged },
  };
}
