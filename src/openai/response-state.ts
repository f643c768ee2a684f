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

export interface ResponseState {
  /** Undefined only for a stateless request (`store: false`) on a router without the secret. */
  signer: ResponseIdSigner | undefined;
  pinned: ForwardInput['pinned'];
  /** Tokens of stored context the previous response carries (0 without one). */
  contextTokens: number;
  previous: { id: string; tagged: string } | undefined;
}

function previousNotFound(previous: string): RouterError {
  return new RouterError(400, `Previous response with id '${previous.slice(0, 300)}' not found.`, { code: 'previous_response_not_found', param: 'previous_response_id' });
}

/**
 * `background: true` answers at once while the provider keeps generating, so a concurrency
 * slot would be given back long before the work ends. Keys (and nodes) that count concurrency
 * are refused it; tokens and spend are safe either way (no usage in the answer: held at the
 * reservation).
 */
function checkBackground(config: LoadedConfig, request: ParsedRequest, keyLimits: KeyLimits | undefined, chain: string[]): void {
  if (request.body.background !== true) return;
  const nodeCounts = config.nodes.some((n) => n.limits?.concurrency !== undefined && chain.some((m) => n.models.includes(m)));
  if (keyLimitSet(config, keyLimits).concurrency === undefined && !nodeCounts) return;
  throw new RouterError(
    400,
    'background: true is not available for this key: it has a concurrency limit, and a background response would hold no slot while the provider generates it. Send the request without background (stream: true keeps the connection cheap).',
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
  if (request.endpoint !== 'responses') return undefined;
  const previous = request.body.previous_response_id;
  const stateless = request.body.store === false && typeof previous !== 'string' && request.body.background !== true;
  const signer = stateless ? optionalSigner(env) : responseIdSigner(env);
  checkBackground(config, request, key.limits, chain());
  if (typeof previous !== 'string' || !signer) return { signer, pinned: undefined, contextTokens: 0, previous: undefined };
  const owner = await verifyResponseId(signer, previous);
  if (!owner || owner.keyId !== key.id || !config.nodesById.has(owner.nodeId)) throw previousNotFound(previous);
  return {
    signer,
    pinned: { nodeId: owner.nodeId, what: `Previous response '${previous}'`, previousResponseId: owner.id },
    contextTokens: owner.contextTokens,
    previous: { id: owner.id, tagged: previous },
  };
}
