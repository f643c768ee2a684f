/**
 * OpenAI request bodies the router must understand: only the fields it acts on are
 * checked; every other field passes through to the upstream untouched (loose objects).
 */
import { z } from 'zod';
import { formatIssues } from '../config/load';
import { RouterError } from '../errors/router-error';
import { scanObject, type ScannedObject } from '../http/json-members';

const Message = z.looseObject({ role: z.string().min(1) });

export const ChatRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(Message).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().int().nonnegative().nullish(),
  max_completion_tokens: z.number().int().nonnegative().nullish(),
  n: z.number().int().positive().nullish(),
});

const EmbeddingInput = z.union([
  z.string(),
  z.array(z.string()).min(1),
  z.array(z.number()).min(1),
  z.array(z.array(z.number()).min(1)).min(1),
]);

export const EmbeddingsRequestSchema = z.looseObject({
  model: z.string().min(1),
  input: EmbeddingInput,
});

export type ChatRequest = z.infer<typeof ChatRequestSchema>;
export type EmbeddingsRequest = z.infer<typeof EmbeddingsRequestSchema>;
export type Endpoint = 'chat' | 'embeddings';
interface Source {
  /** The caller's bytes, resent as they are when nothing needs changing. */
  raw: Uint8Array;
  /** The same, as text with its top-level members located (for splicing edits). */
  scanned: ScannedObject;
}
export type ParsedRequest = Source &
  ({ endpoint: 'chat'; body: ChatRequest; stream: boolean } | { endpoint: 'embeddings'; body: EmbeddingsRequest; stream: false });

/**
 * Parse and validate a buffered body; 400 with the offending field as `param`. A member
 * name given twice in one object is a 400: the router checks and forwards one meaning only.
 */
export function parseRequest(endpoint: Endpoint, bytes: Uint8Array): ParsedRequest {
  let json: unknown;
  const text = new TextDecoder().decode(bytes);
  try {
    json = JSON.parse(text);
  } catch {
    throw new RouterError(400, 'We could not parse the JSON body of your request. Send a JSON object.', {
      code: 'invalid_json',
    });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new RouterError(400, 'The request body must be a JSON object.', { code: 'invalid_json' });
  }
  const scan = scanObject(text);
  if (!scan.ok) {
    throw new RouterError(400, `The request body has the key '${scan.duplicate}' more than once (at ${scan.path}). Send each key once.`, {
      code: 'duplicate_key',
      param: scan.path,
    });
  }
  const source = { raw: bytes, scanned: scan.object };
  const schema = endpoint === 'chat' ? ChatRequestSchema : EmbeddingsRequestSchema;
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new RouterError(400, `Invalid request: ${formatIssues(parsed.error)}`, {
      code: 'invalid_request',
      param: first?.path.map(String).join('.') || null,
    });
  }
  if (endpoint === 'chat') {
    const body = parsed.data as ChatRequest;
    return { ...source, endpoint, body, stream: body.stream === true };
  }
  return { ...source, endpoint, body: parsed.data as EmbeddingsRequest, stream: false };
}
