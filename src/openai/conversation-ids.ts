/**
 * Conversation ids (`POST /v1/conversations`), bound to the node that holds the conversation
 * and the key that created it, as response ids are (`response-ids.ts`): every key shares the
 * node's credential, so an id that is merely known (a log line, a screenshot) must not let
 * another key read or append to it through the router.
 *
 * Format: `<upstream id>~<payload>.<mac>`: payload is base64url(`"<node id> <key id>"`), mac the
 * response ids' HMAC-SHA256 under `RESPONSE_ID_SECRET` over `"rid1 <upstream id> <payload>"`.
 * The upstream id's own prefix keeps the two kinds apart: the router signs only `conv_…` ids
 * here and only `resp_…` ids there, and each kind verifies only its own prefix (and payload of
 * two fields here, three there), so no tag of one kind is ever valid as the other.
 * No context bound: a Responses request that reads a conversation reserves the model's whole
 * context window (README "Token estimates"), whatever the conversation holds.
 */
import { RouterError } from '../errors/router-error';
import type { ResponseIdSigner } from './response-ids';
import { b64url, eventJson, readTagged } from './tagged-ids';

/** An upstream conversation id as the router accepts it: no path segments, no dots, bounded. */
const UPSTREAM_ID = /^conv_[A-Za-z0-9_-]{1,200}$/;
const TAGGED_ID = /^(conv_[A-Za-z0-9_-]{1,200})~([A-Za-z0-9_-]{4,200})\.([A-Za-z0-9_-]{43})$/;
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const encoder = new TextEncoder();

/** A conversation id the router issued, checked. */
export interface VerifiedConversationId {
  /** The node's own id. */
  id: string;
  nodeId: string;
  keyId: string;
}

/** The caller's id for an upstream conversation id of `nodeId`, created for `keyId`; undefined for anything not an upstream conversation id. */
export function signConversationId(signer: ResponseIdSigner, id: unknown, nodeId: string, keyId: string): string | undefined {
  if (typeof id !== 'string' || !UPSTREAM_ID.test(id)) return undefined;
  const payload = b64url(encoder.encode(`${nodeId} ${keyId}`));
  return `${id}~${payload}.${signer.sign(id, payload)}`;
}

/** The upstream id and owner of a tagged conversation id, if its tag verifies; undefined for anything else. */
export async function verifyConversationId(signer: ResponseIdSigner, tagged: string): Promise<VerifiedConversationId | undefined> {
  const read = readTagged(TAGGED_ID, tagged, 2);
  if (!read) return undefined;
  const { id, payload, mac, fields: [nodeId, keyId] } = read;
  if (!nodeId || !NODE_ID.test(nodeId) || !keyId) return undefined;
  if (!(await signer.verify(id, payload, mac))) return undefined;
  return { id, nodeId, keyId };
}

/**
 * OpenAI's answer for a conversation it does not hold (404 `invalid_request_error`, "Conversation
 * with id '…' not found."), with the router's code: what another key's, a forged or an unsigned
 * id gets, before any node is asked.
 */
export function conversationNotFound(id: string, param: string | null = null): RouterError {
  return new RouterError(404, `Conversation with id '${id.slice(0, 300)}' not found.`, { code: 'conversation_not_found', param });
}

/**
 * Puts the caller's id back where an answer names the conversation the request verified: a
 * conversation object's (or its deletion's) own `id`, and a response object's `conversation.id`
 * (top level, or under an event's `response`). Any other occurrence is left as it is.
 */
export function conversationIdRestorer(upstream: string, tagged: string): (text: string) => string {
  const quoted = `"${upstream}"`;
  return function restoreConversationId(text) {
    if (!text.includes(quoted)) return text;
    let parsed: unknown;
    try {
      parsed = JSON.parse(eventJson(text));
    } catch {
      return text;
    }
    return namesConversation(parsed, upstream) ? text.split(quoted).join(`"${tagged}"`) : text;
  };
}

function namesConversation(value: unknown, upstream: string): boolean {
  if (!value || typeof value !== 'object') return false;
  const o = value as { object?: unknown; id?: unknown; conversation?: { id?: unknown } | null; response?: { conversation?: { id?: unknown } | null } | null };
  if ((o.object === 'conversation' || o.object === 'conversation.deleted') && o.id === upstream) return true;
  if (o.object === 'response' && o.conversation?.id === upstream) return true;
  return o.response?.conversation?.id === upstream;
}
