/**
 * The simulated fleet's Conversations API, strictly as OpenAI serves it (openai 7.x
 * `resources/conversations`): create (`items` up to 20, `metadata` up to 16 pairs; any other
 * member an `unknown_parameter`), retrieve, update (`metadata` required), delete (then it is
 * gone), items create (1–20), list (`limit` 1–100, default 20; `order` `asc`/`desc`, default
 * `desc`; `after` an item id), retrieve and delete (answering the conversation). An unknown
 * conversation is OpenAI's 404 (`invalid_request_error`, "Conversation with id '…' not found.",
 * no param, no code). Held per node, as responses are: only the node that created a
 * conversation knows it. Responses read and extend it (`endpoints.ts`).
 */
import type http from 'node:http';
import { sendJson, type SimNode, type StoredConversation } from './shared.ts';

type Body = Record<string, unknown>;

const MAX_ITEMS = 20;

function invalid(res: http.ServerResponse, status: number, message: string, param: string | null, code: string | null) {
  return sendJson(res, status, { error: { message, type: 'invalid_request_error', param, code } });
}

export const conversationMissing = (res: http.ServerResponse, id: string) => invalid(res, 404, `Conversation with id '${id}' not found.`, null, null);

/** Input items as stored: each with an id and a status; a string `content` as one `input_text` part. */
export function storeItems(node: SimNode, stored: StoredConversation, items: unknown[]): Body[] {
  const added = items.map((raw, i) => {
    const item = { ...(raw as Body) };
    if (item.type === undefined && typeof item.role === 'string') item.type = 'message';
    if (item.type === 'message' && typeof item.content === 'string') {
      item.content = [{ type: item.role === 'assistant' ? 'output_text' : 'input_text', text: item.content }];
    }
    return { id: typeof item.id === 'string' ? item.id : `msg_${node.id.replace(/[^A-Za-z0-9]/g, '')}${node.served}i${stored.items.length + i}`, ...item, status: 'completed' };
  });
  stored.items.push(...added);
  return added;
}

/** `items` as OpenAI checks it: an array of objects, at most 20 (`required`: at least one). */
function badItems(res: http.ServerResponse, items: unknown, required: boolean): boolean {
  if (items === undefined || items === null) {
    if (!required) return false;
    invalid(res, 400, "Missing required parameter: 'items'.", 'items', 'missing_required_parameter');
    return true;
  }
  if (!Array.isArray(items)) {
    invalid(res, 400, `Invalid type for 'items': expected an array of input items, but got ${typeof items === 'string' ? 'a string' : 'an object'} instead.`, 'items', 'invalid_type');
    return true;
  }
  if (required && items.length === 0) {
    invalid(res, 400, "Invalid 'items': empty array. Expected an array with minimum length 1, but got an empty array instead.", 'items', 'empty_array');
    return true;
  }
  if (items.length > MAX_ITEMS) {
    invalid(res, 400, `Invalid 'items': array too long. Expected an array with maximum length ${MAX_ITEMS}, but got an array with length ${items.length} instead.`, 'items', 'array_above_max_length');
    return true;
  }
  const i = items.findIndex((item) => item === null || typeof item !== 'object' || Array.isArray(item));
  if (i >= 0) {
    invalid(res, 400, `Invalid type for 'items[${i}]': expected an input item, but got ${items[i] === null ? 'null' : typeof items[i]} instead.`, `items[${i}]`, 'invalid_type');
    return true;
  }
  return false;
}

function badMetadata(res: http.ServerResponse, metadata: unknown): boolean {
  if (metadata === undefined || metadata === null) return false;
  if (typeof metadata !== 'object' || Array.isArray(metadata) || Object.values(metadata).some((v) => typeof v !== 'string')) {
    invalid(res, 400, "Invalid type for 'metadata': expected a metadata object, but got something else instead.", 'metadata', 'invalid_type');
    return true;
  }
  if (Object.keys(metadata).length > 16) {
    invalid(res, 400, "Invalid 'metadata': too many properties. Expected an object with at most 16 properties.", 'metadata', 'object_above_max_properties');
    return true;
  }
  return false;
}

function unknownMember(res: http.ServerResponse, body: Body, known: string[]): boolean {
  const extra = Object.keys(body).find((k) => !known.includes(k));
  if (extra === undefined) return false;
  invalid(res, 400, `Unknown parameter: '${extra}'.`, extra, 'unknown_parameter');
  return true;
}

function create(node: SimNode, res: http.ServerResponse, body: Body) {
  if (unknownMember(res, body, ['items', 'metadata']) || badItems(res, body.items, false) || badMetadata(res, body.metadata)) return;
  const id = `conv_${node.id.replace(/[^A-Za-z0-9]/g, '')}${node.served}x${Date.now().toString(36)}`;
  const stored: StoredConversation = { conversation: { id, object: 'conversation', created_at: Math.floor(Date.now() / 1000), metadata: body.metadata ?? {} }, items: [] };
  storeItems(node, stored, (body.items as unknown[] | undefined) ?? []);
  node.conversations.set(id, stored);
  sendJson(res, 200, stored.conversation);
}

function list(res: http.ServerResponse, stored: StoredConversation, query: URLSearchParams) {
  const limit = query.has('limit') ? Number(query.get('limit')) : 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) return invalid(res, 400, `Invalid 'limit': expected an integer between 1 and 100.`, 'limit', 'invalid_value');
  const order = query.get('order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc') return invalid(res, 400, `Invalid value: '${order}'. Supported values are: 'asc' and 'desc'.`, 'order', 'invalid_value');
  const all = order === 'asc' ? stored.items : [...stored.items].reverse();
  const after = query.get('after');
  const start = after === null ? 0 : all.findIndex((i) => i.id === after) + 1;
  if (after !== null && start === 0) return invalid(res, 404, `Item with id '${after}' not found.`, null, null);
  const data = all.slice(start, start + limit);
  sendJson(res, 200, { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: start + limit < all.length });
}

/** Handles `/v1/conversations[/…]`; false when the path is not one of them. */
export function handleConversations(node: SimNode, req: http.IncomingMessage, res: http.ServerResponse, path: string, body: Body): boolean {
  if (path === '/v1/conversations') {
    if (req.method !== 'POST') return false;
    create(node, res, body);
    return true;
  }
  const [, id, items, itemId] = path.match(/^\/v1\/conversations\/([^/]+)(?:\/(items)(?:\/([^/]+))?)?$/) ?? [];
  if (!id) return false;
  const stored = node.conversations.get(decodeURIComponent(id));
  if (!stored) {
    conversationMissing(res, decodeURIComponent(id));
    return true;
  }
  const query = new URL(req.url ?? '/', 'http://node').searchParams;
  const m = req.method;
  if (!items) {
    if (m === 'GET') sendJson(res, 200, stored.conversation);
    else if (m === 'POST') {
      if (unknownMember(res, body, ['metadata'])) return true;
      if (!('metadata' in body)) return invalid(res, 400, "Missing required parameter: 'metadata'.", 'metadata', 'missing_required_parameter'), true;
      if (badMetadata(res, body.metadata)) return true;
      stored.conversation.metadata = body.metadata ?? {};
      sendJson(res, 200, stored.conversation);
    } else if (m === 'DELETE') {
      node.conversations.delete(stored.conversation.id);
      sendJson(res, 200, { id: stored.conversation.id, object: 'conversation.deleted', deleted: true });
    } else invalid(res, 405, 'method not allowed', null, null);
    return true;
  }
  if (!itemId) {
    if (m === 'POST') {
      if (unknownMember(res, body, ['items']) || badItems(res, body.items, true)) return true;
      const added = storeItems(node, stored, body.items as unknown[]);
      sendJson(res, 200, { object: 'list', data: added, first_id: added[0]!.id, last_id: added.at(-1)!.id, has_more: false });
    } else if (m === 'GET') list(res, stored, query);
    else invalid(res, 405, 'method not allowed', null, null);
    return true;
  }
  const at = stored.items.findIndex((i) => i.id === decodeURIComponent(itemId));
  if (at < 0) return invalid(res, 404, `Item with id '${decodeURIComponent(itemId)}' not found.`, null, null), true;
  if (m === 'GET') sendJson(res, 200, stored.items[at]);
  else if (m === 'DELETE') {
    stored.items.splice(at, 1);
    sendJson(res, 200, stored.conversation);
  } else invalid(res, 405, 'method not allowed', null, null);
  return true;
}
