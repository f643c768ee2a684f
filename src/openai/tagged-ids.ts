/**
 * The form both kinds of id the router signs share (`response-ids.ts`, `conversation-ids.ts`):
 * `<upstream id>~<base64url payload>.<mac>`, the payload space-separated fields.
 */

export const b64url = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** A tagged id's parts and its payload's `count` fields, if it has that form (the tag is not verified here). */
export function readTagged(pattern: RegExp, tagged: string, count: number): { id: string; payload: string; mac: string; fields: string[] } | undefined {
  const [, id, payload, mac] = pattern.exec(tagged) ?? [];
  if (!id || !payload || !mac) return undefined;
  let fields: string[];
  try {
    fields = atob(payload.replace(/-/g, '+').replace(/_/g, '/')).split(' ');
  } catch {
    return undefined;
  }
  return fields.length === count ? { id, payload, mac, fields } : undefined;
}

/** The data of an SSE event (its `data:` lines), or the text itself when it is not one: what the ids are rewritten in. */
export function eventJson(text: string): string {
  if (!text.startsWith('event:') && !text.startsWith('data:') && !text.startsWith(':')) return text;
  return text
    .split(/\r?\n/)
    .filter((l) => l.startsWith('data:'))
    .map((l) => l.slice(5).trimStart())
    .join('\n');
}
