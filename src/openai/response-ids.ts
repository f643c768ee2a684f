/**
 * Stateful Responses: the ids the router hands out carry the node that holds the state, the
 * key that owns it and a bound on its stored context, signed, so a follow-up
 * (`previous_response_id`, `GET/DELETE /v1/responses/{id}`, `…/input_items`, `…/cancel`)
 * reaches that node — and is reserved for — with no shared lookup on the request path.
 *
 * Format: `<upstream id>~<payload>.<mac>`: payload is base64url(`"<node id> <key id> <context
 * tokens>"`), mac is base64url(HMAC-SHA256(RESPONSE_ID_SECRET, `"rid1 <upstream id> <payload>"`)).
 * The mac covers the upstream id, so a valid tag cannot be moved onto another key's id. Every
 * router key shares the node's credential: an id that does not verify is refused before any
 * node sees it (OpenAI scopes responses to a project; the router scopes them to a key).
 *
 * Only ids the upstream itself generated are tagged: a response object's own `id` and
 * `previous_response_id` (top level, or under an event's `response`). Text search would also
 * tag a `"resp_…"` the caller planted (echoed `metadata`, a schema, the model's whole answer)
 * and so sign another key's id for the caller.
 */
import { RouterError } from '../errors/router-error';
import { conversationIdRestorer } from './conversation-ids';
import { hmacSha256 } from './hmac-sha256';
import { b64url, eventJson, readTagged } from './tagged-ids';

const SEP = '~';
/** An upstream response id as the router accepts it: no path segments, no dots, bounded. */
const UPSTREAM_ID = /^resp_[A-Za-z0-9_-]{1,200}$/;
const TAGGED_ID = /^(resp_[A-Za-z0-9_-]{1,200})~([A-Za-z0-9_-]{4,200})\.([A-Za-z0-9_-]{43})$/;
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
/** Secrets shorter than this are refused: HMAC keys should carry at least 128 bits. */
const MIN_SECRET_CHARS = 32;

const encoder = new TextEncoder();
const fromB64url = (text: string) => Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (ch) => ch.charCodeAt(0));
const signedText = (id: string, payload: string) => encoder.encode(`rid1 ${id} ${payload}`);

/** Signs (synchronously, in the stream) and verifies (WebCrypto) response id tags under one secret. */
export interface ResponseIdSigner {
  sign(id: string, payload: string): string;
  verify(id: string, payload: string, mac: string): Promise<boolean>;
}

let cached: { secret: string; signer: ResponseIdSigner } | undefined;

/**
 * The isolate's signer for `env.RESPONSE_ID_SECRET` (keyed once per isolate). Without a
 * usable secret, stored Responses state fails closed: a 503 that names the missing secret,
 * never an unsigned id.
 */
export function responseIdSigner(env: { RESPONSE_ID_SECRET?: unknown }): ResponseIdSigner {
  const secret = env.RESPONSE_ID_SECRET;
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_CHARS) {
    throw new RouterError(503, `Stored Responses state (ids, previous_response_id, background) is disabled: the router has no RESPONSE_ID_SECRET of at least ${MIN_SECRET_CHARS} characters. Send store: false, or ask the operator to set it.`, {
      type: 'server_error',
      code: 'response_ids_unavailable',
      headers: { 'x-should-retry': 'false' },
    });
  }
  if (cached?.secret === secret) return cached.signer;
  const raw = encoder.encode(secret);
  const mac = hmacSha256(raw);
  const key = crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const signer: ResponseIdSigner = {
    sign: (id, payload) => b64url(mac(signedText(id, payload))),
    verify: async (id, payload, tag) => crypto.subtle.verify('HMAC', await key, fromB64url(tag), signedText(id, payload)),
  };
  cached = { secret, signer };
  return signer;
}

export interface ResponseOwner {
  nodeId: string;
  keyId: string;
  /**
   * Upper bound on the tokens the node stores for this response, billed as input when it is
   * continued: the context it continued from plus everything its request reserved (prompt
   * estimate + output cap), which bounds its input and output.
   */
  contextTokens: number;
  signer: ResponseIdSigner;
  /** The follow-up's `previous_response_id` as the caller sent it, given back as it was. */
  previous?: { id: string; tagged: string };
  /** The request's verified `conversation` (`conversation-ids.ts`): the node's id, and the caller's, given back where a response names it. */
  conversation?: { id: string; tagged: string };
}

/** A response id the router issued, checked: the upstream id and whose it is. */
export interface VerifiedResponseId {
  id: string;
  nodeId: string;
  keyId: string;
  contextTokens: number;
}

/**
 * The upstream id and owner of a tagged id, if its tag verifies; undefined for anything else
 * (untagged, forged, re-encoded, malformed, or not an id at all).
 */
export async function verifyResponseId(signer: ResponseIdSigner, tagged: string): Promise<VerifiedResponseId | undefined> {
  const read = readTagged(TAGGED_ID, tagged, 3);
  if (!read) return undefined;
  const { id, payload, mac, fields: [nodeId, keyId, context] } = read;
  if (!nodeId || !NODE_ID.test(nodeId) || !keyId || !/^\d{1,15}$/.test(context ?? '')) return undefined;
  if (!(await signer.verify(id, payload, mac))) return undefined;
  return { id, nodeId, keyId, contextTokens: Number(context) };
}

/** The upstream-generated response ids in a parsed answer or event (see the module comment). */
function generatedIds(value: unknown): string[] {
  if (!value || typeof value !== 'object') return [];
  const object = value as { object?: unknown; id?: unknown; previous_response_id?: unknown; response?: unknown };
  const ids: unknown[] = [];
  if (object.object === 'response') ids.push(object.id, object.previous_response_id);
  const inner = object.response as { id?: unknown; previous_response_id?: unknown } | null | undefined;
  if (inner && typeof inner === 'object') ids.push(inner.id, inner.previous_response_id);
  return ids.filter((id): id is string => typeof id === 'string' && UPSTREAM_ID.test(id));
}

const quoted = (id: string) => new RegExp(`"${id}"`, 'g');
const count = (n: unknown) => (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined);

/**
 * What the provider stored for a whole response object (a JSON answer): its input — which
 * already counts the context it continued from — plus its output, as the provider counted
 * them in its top-level `usage`. Undefined when unknown (no usage yet: streams, background).
 */
function storedTokens(value: unknown): number | undefined {
  const object = value as { object?: unknown; usage?: { input_tokens?: unknown; output_tokens?: unknown } | null } | null;
  if (object?.object !== 'response' || !object.usage || typeof object.usage !== 'object') return undefined;
  const input = count(object.usage.input_tokens);
  const output = count(object.usage.output_tokens);
  return input === undefined || output === undefined ? undefined : input + output;
}

/**
 * Tags the upstream-generated response ids in a JSON answer or an SSE event that `owner.nodeId`
 * sent for `owner.keyId`. Each id is signed once per response, however many events carry it.
 * A JSON answer's id carries what the provider reports it stored, when that is below the
 * reserved bound; a stream's ids are out before its usage, so they carry the bound.
 */
export function responseIdTagger(owner: ResponseOwner): (text: string) => string {
  const bound = Math.max(0, Math.ceil(owner.contextTokens));
  const tags = new Map<string, string>(owner.previous ? [[owner.previous.id, owner.previous.tagged]] : []);
  const tagOf = (id: string, context: number) => {
    let tagged = tags.get(id);
    if (!tagged) {
      const payload = b64url(encoder.encode(`${owner.nodeId} ${owner.keyId} ${context}`));
      tags.set(id, (tagged = `${id}${SEP}${payload}.${owner.signer.sign(id, payload)}`));
    }
    return tagged;
  };
  const restore = owner.conversation ? conversationIdRestorer(owner.conversation.id, owner.conversation.tagged) : undefined;
  const tag = function tagResponseIds(text: string): string {
    if (!text.includes('"resp_')) return text;
    let parsed: unknown;
    try {
      parsed = JSON.parse(eventJson(text));
    } catch {
      return text;
    }
    const context = Math.min(bound, storedTokens(parsed) ?? bound);
    let out = text;
    for (const id of new Set(generatedIds(parsed))) out = out.replace(quoted(id), `"${tagOf(id, context)}"`);
    return out;
  };
  return restore ? (text) => restore(tag(text)) : tag;
}
