/**
 * Stateful Responses: the ids the router hands out carry the node that holds the state, so a
 * follow-up (`previous_response_id`, `GET/DELETE /v1/responses/{id}`, `…/input_items`,
 * `…/cancel`) reaches that node with no shared lookup on the request path.
 *
 * Format: `<upstream id>~<base64url("<node id> <key id>")>`. `~` is URL-safe and never
 * appears in the ids providers issue; the tag is encoded so any configured node id fits.
 * The key id binds a stored response to the key that created it: every router key shares
 * the node's credential, so without it any key that learnt an id could read or delete
 * another key's responses (OpenAI scopes them to a project). Every `"resp_…"` string an
 * upstream sends (the response's own id, a `previous_response_id`, event fields) is
 * tagged on its way out; a tagged id is restored to the upstream's own before forwarding.
 */
const SEP = '~';
const RESPONSE_ID = /"(resp_[A-Za-z0-9_-]+)"/g;

const b64url = (text: string) => btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const fromB64url = (text: string) => atob(text.replace(/-/g, '+').replace(/_/g, '/'));

export interface ResponseOwner {
  nodeId: string;
  keyId: string;
}

/** The part after `~`: node and key, encoded. */
const ownerTag = (owner: ResponseOwner) => b64url(`${owner.nodeId} ${owner.keyId}`);

/** The upstream id and owner of a tagged id; undefined for an id the router did not issue. */
export function parseResponseId(tagged: string): ({ id: string } & ResponseOwner) | undefined {
  const at = tagged.lastIndexOf(SEP);
  if (at <= 0) return undefined;
  try {
    const [nodeId, keyId] = fromB64url(tagged.slice(at + 1)).split(' ');
    return nodeId && keyId ? { id: tagged.slice(0, at), nodeId, keyId } : undefined;
  } catch {
    return undefined;
  }
}

/** Tags every response id in a JSON text or SSE event sent by `owner.nodeId` for `owner.keyId`. */
export function responseIdTagger(owner: ResponseOwner): (text: string) => string {
  const tag = ownerTag(owner);
  return (text) => (text.includes('"resp_') ? text.replace(RESPONSE_ID, (_, id: string) => `"${id}${SEP}${tag}"`) : text);
}
