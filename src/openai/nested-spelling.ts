/**
 * The names the reservation classifies input by, inside messages, Responses items, content
 * parts and tools — a part's or tool's `type`, a part's `input_audio` and its `data`, a
 * message's `audio` and its `id`, an item's `tools` — spelt in another case (`TYPE`, `Input_Audio`): the router reads no such
 * member, so the part is plain text to it, while a Go node (`encoding/json` folds case) reads
 * `{"TYPE":"file",…}` as a file whose pages it bills, `{"Type":"web_search"}` as a hosted
 * tool billed per call. Refused, as the top-level parameters are (`requests.ts`) and as a
 * name given twice in any case is (`http/json-members.ts`).
 *
 * Members that hold names of the caller's own — a tool's schema, a tool call's input,
 * metadata — are not walked: `{"properties": {"Type": …}}` is a schema, not a part.
 */
import { RouterError } from '../errors/router-error';
import { foldName } from '../http/json-members';

/** `tools`: a Responses input item's (`additional_tools`, `tool_search_output`), which the reservation reads as the body's own. */
const CLASSIFYING: ReadonlySet<string> = new Set(['type', 'input_audio', 'audio', 'id', 'data', 'tools']);
const CLASSIFYING_LENGTHS: ReadonlySet<number> = new Set([...CLASSIFYING].map((n) => n.length));
const CALLER_NAMED: ReadonlySet<string> = new Set(['parameters', 'input_schema', 'schema', 'json_schema', 'properties', 'input', 'arguments', 'metadata', 'format', 'headers']);
/** Where input and tools sit at the top of a body (chat, Responses, Messages). */
const CONTAINERS = ['messages', 'input', 'system', 'tools'] as const;

/** The path of a member, built only for the refusal (the walk itself builds no strings). */
function pathOf(segments: (string | number)[]): string {
  return segments.map((seg, i) => (typeof seg === 'number' ? `[${seg}]` : i === 0 ? seg : `.${seg}`)).join('');
}

function walk(value: unknown, segments: (string | number)[]): void {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === null || typeof item !== 'object') continue;
      segments.push(i);
      walk(item, segments);
      segments.pop();
    }
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const name in value) {
    // Only a name as long as one of them can fold to it (none of them holds a letter whose case changes its length).
    const folded = CLASSIFYING_LENGTHS.has(name.length) ? foldName(name) : name;
    if (folded !== name && CLASSIFYING.has(folded)) {
      const at = pathOf(segments);
      throw new RouterError(400, `The request body has the key '${name}' (at ${at}), which some upstreams read as '${folded}'. Spell it in lower case.`, {
        code: 'invalid_request',
        param: `${at}.${name}`,
      });
    }
    const member: unknown = (value as Record<string, unknown>)[name];
    if (member === null || typeof member !== 'object' || CALLER_NAMED.has(folded)) continue;
    segments.push(name);
    walk(member, segments);
    segments.pop();
  }
}

/** Throws 400 `invalid_request` (param: where) for a classifying name spelt in another case. */
export function checkNestedSpelling(body: Record<string, unknown>): void {
  for (const name of CONTAINERS) walk(body[name], [name]);
}
