/**
 * OpenAI request bodies the router must understand: only the fields it acts on are
 * checked; every other field passes through to the upstream untouched (loose objects).
 * JSON bodies are checked for duplicate keys and located for splicing; multipart forms
 * (audio uploads) are read for their `model` and `stream` fields and resent as they came.
 */
import * as z from 'zod';
import { formatIssues } from '../config/load';
import { RouterError } from '../errors/router-error';
import { scanObject, type ScannedObject } from '../http/json-members';
import { ENDPOINTS, type Endpoint } from './endpoints';

const Model = z.string().min(1);
const Cap = z.number().int().nonnegative().nullish();
const Stream = z.boolean().nullish();
const StreamOptions = z.looseObject({ include_usage: z.boolean().optional() }).nullish();

export const ChatRequestSchema = z.looseObject({
  model: Model,
  messages: z.array(z.looseObject({ role: z.string().min(1) })).min(1),
  stream: Stream,
  stream_options: StreamOptions,
  max_tokens: Cap,
  max_completion_tokens: Cap,
  n: z.number().int().positive().nullish(),
});

const EmbeddingInput = z.union([
  z.string(),
  z.array(z.string()).min(1),
  z.array(z.number()).min(1),
  z.array(z.array(z.number()).min(1)).min(1),
]);

export const EmbeddingsRequestSchema = z.looseObject({ model: Model, input: EmbeddingInput });

const CompletionsRequestSchema = z.looseObject({
  model: Model,
  prompt: z.union([z.string(), z.array(z.string()), z.array(z.number()), z.array(z.array(z.number()))]),
  stream: Stream,
  stream_options: StreamOptions,
  max_tokens: Cap,
  n: z.number().int().positive().nullish(),
});

const ResponsesRequestSchema = z.looseObject({
  model: Model,
  input: z.union([z.string(), z.array(z.unknown())]).optional(),
  instructions: z.string().nullish(),
  stream: Stream,
  max_output_tokens: Cap,
  previous_response_id: z.string().min(1).nullish(),
  store: z.boolean().nullish(),
});

/**
 * Anthropic Messages, as far as the router acts on it: `max_tokens` is required (Messages has
 * no default; it is the reserved cap). The rest is checked by the node, or by the translator.
 */
const MessagesRequestSchema = z.looseObject({
  model: Model,
  max_tokens: z.number().int().positive(),
  messages: z.array(z.looseObject({ role: z.enum(['user', 'assistant']) })).min(1),
  system: z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]).optional(),
  stream: z.boolean().optional(),
});

const SCHEMAS: Record<Exclude<Endpoint, 'transcriptions' | 'translations'>, z.ZodType<Record<string, unknown>>> = {
  chat: ChatRequestSchema,
  completions: CompletionsRequestSchema,
  embeddings: EmbeddingsRequestSchema,
  responses: ResponsesRequestSchema,
  moderations: z.looseObject({ model: Model, input: z.union([z.string(), z.array(z.unknown())]) }),
  images: z.looseObject({ model: Model, prompt: z.string().min(1) }),
  speech: z.looseObject({ model: Model, input: z.string().min(1), voice: z.unknown() }),
  messages: MessagesRequestSchema,
};

export type ChatRequest = z.infer<typeof ChatRequestSchema>;

interface Base {
  endpoint: Endpoint;
  /** The caller's bytes, resent as they are when nothing needs changing. */
  raw: Uint8Array;
  /** The fields the router acts on (for multipart: the form's text fields). */
  body: Record<string, unknown> & { model: string };
  stream: boolean;
}
export type ParsedRequest =
  | (Base & { kind: 'json'; /** Top-level members located, for splicing edits. */ scanned: ScannedObject })
  | (Base & { kind: 'multipart'; contentType: string; form: FormData });

function invalid(error: z.ZodError): RouterError {
  const first = error.issues[0];
  return new RouterError(400, `Invalid request: ${formatIssues(error)}`, {
    code: 'invalid_request',
    param: first?.path.map(String).join('.') || null,
  });
}

function parseJson(endpoint: Exclude<Endpoint, 'transcriptions' | 'translations'>, bytes: Uint8Array): ParsedRequest {
  let json: unknown;
  const text = new TextDecoder().decode(bytes);
  try {
    json = JSON.parse(text);
  } catch {
    throw new RouterError(400, 'We could not parse the JSON body of your request. Send a JSON object.', { code: 'invalid_json' });
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
  const parsed = SCHEMAS[endpoint].safeParse(json);
  if (!parsed.success) throw invalid(parsed.error);
  const body = parsed.data as Base['body'];
  const stream = ENDPOINTS[endpoint].alwaysStreams === true || body.stream === true;
  return { kind: 'json', endpoint, raw: bytes, scanned: scan.object, body, stream };
}

async function parseMultipart(endpoint: 'transcriptions' | 'translations', bytes: Uint8Array, contentType: string): Promise<ParsedRequest> {
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { 'content-type': contentType } }).formData();
  } catch {
    throw new RouterError(400, 'We could not parse the multipart/form-data body of your request.', { code: 'invalid_request' });
  }
  const body: Record<string, unknown> = {};
  for (const [name, value] of form) if (typeof value === 'string') body[name] = value;
  const parsed = z.looseObject({ model: Model }).safeParse(body);
  if (!parsed.success) throw invalid(parsed.error);
  if (!(form.get('file') instanceof File)) {
    throw new RouterError(400, "Invalid request: file: a file part named 'file' is required", { code: 'invalid_request', param: 'file' });
  }
  return { kind: 'multipart', endpoint, raw: bytes, contentType, form, body: parsed.data, stream: body.stream === 'true' };
}

/** Parse and validate a buffered body; 400 with the offending field as `param`. */
export async function parseRequest(endpoint: Endpoint, bytes: Uint8Array, contentType = 'application/json'): Promise<ParsedRequest> {
  if (endpoint === 'transcriptions' || endpoint === 'translations') {
    if (!contentType.toLowerCase().startsWith('multipart/form-data')) {
      throw new RouterError(400, 'This endpoint takes multipart/form-data (a file and its fields).', { code: 'invalid_request' });
    }
    return parseMultipart(endpoint, bytes, contentType);
  }
  return parseJson(endpoint, bytes);
}
