/**
 * OpenAI request bodies the router must understand: only the fields it acts on are
 * checked; every other field passes through to the upstream untouched (loose objects).
 * JSON bodies are checked for nesting depth (`MAX_JSON_DEPTH`) and duplicate keys and located
 * for splicing; multipart forms (audio uploads) are read for their `model` and `stream`
 * fields (each field once) and resent as the router read them (written anew, once). Counts
 * that multiply what an upstream bills (`n`, `best_of`, `partial_images`) are held to OpenAI's ranges,
 * and flags the router acts on are typed (`background`, `stream`): a lax upstream (pydantic)
 * reads `"true"` or `1` as true, so an untyped one would mean one thing here and another there.
 */
import * as z from 'zod';
import { RouterError } from '../errors/router-error';
import { scanObject, type ScannedObject } from '../http/json-members';
import { chatShapeHolds, MAX_BEST_OF, MAX_CHOICES } from './chat-shape';
import { ENDPOINTS, type Endpoint } from './endpoints';
import { parseMultipart, type FormEndpoint } from './form-request';
import { checkNestedSpelling } from './nested-spelling';
import { invalid, Model } from './request-fields';
import { checkNodeFallbacks, checkSpelling } from './top-names';

/** Output caps: at least 1 (OpenAI's minimum; a node may read 0 as "no cap"). Legacy completions allow 0 (prompt scoring with `echo`). */
const Cap = z.number().int().positive().nullish();
const CompletionsCap = z.number().int().nonnegative().nullish();
const Stream = z.boolean().nullish();
const StreamOptions = z.looseObject({ include_usage: z.boolean().optional() }).nullish();
/** Choices per prompt: OpenAI accepts 1–128. */
const Choices = z.number().int().min(1).max(MAX_CHOICES).nullish();
const BestOf = z.number().int().min(1).max(MAX_BEST_OF).nullish();

/**
 * How deep a JSON body may nest (objects and arrays). Recursive walks over the body (the
 * token estimate) stay far from the stack's end; real requests — structured-output schemas,
 * which OpenAI limits to 10 levels, included — stay far below it.
 */
export const MAX_JSON_DEPTH = 64;

export const ChatRequestSchema = z.looseObject({
  model: Model,
  messages: z.array(z.looseObject({ role: z.string().min(1) })).min(1),
  stream: Stream,
  stream_options: StreamOptions,
  max_tokens: Cap,
  max_completion_tokens: Cap,
  n: Choices,
  /** Not an OpenAI chat parameter, but vLLM-style nodes generate (and bill) this many choices. */
  best_of: BestOf,
});

const EmbeddingInput = z.union([
  z.string(),
  z.array(z.string()).min(1),
  z.array(z.number()).min(1),
  z.array(z.array(z.number()).min(1)).min(1),
]);

export const EmbeddingsRequestSchema = z.looseObject({ model: Model, input: EmbeddingInput });

const CompletionsRequestSchema = z
  .looseObject({
    model: Model,
    prompt: z.union([z.string(), z.array(z.string()), z.array(z.number()), z.array(z.array(z.number()))]),
    stream: Stream,
    stream_options: StreamOptions,
    max_tokens: CompletionsCap,
    n: Choices,
    /** Choices generated (and billed) per prompt, of which the best `n` are returned: 1–20, ≥ n. */
    best_of: BestOf,
    /** The prompt is returned — and billed — again in each choice. */
    echo: z.boolean().nullish(),
  })
  .refine((b) => b.best_of == null || b.best_of >= (b.n ?? 1), { message: 'best_of must be greater than or equal to n', path: ['best_of'] });

/** Responses' `conversation`: an id, or `{id}` (openai `ResponseConversationParam`). */
const Conversation = z.union([z.string().min(1), z.looseObject({ id: z.string().min(1) })]).nullish();

const ResponsesRequestSchema = z.looseObject({
  model: Model,
  input: z.union([z.string(), z.array(z.unknown())]).optional(),
  instructions: z.string().nullish(),
  stream: Stream,
  max_output_tokens: Cap,
  /** Not a Responses parameter; an upstream that honours it anyway is reserved for it. */
  n: Choices,
  previous_response_id: z.string().min(1).nullish(),
  store: z.boolean().nullish(),
  /** Typed: a lax node (pydantic) runs `"true"` or `1` in the background, which the router must refuse as `true` (`response-state.ts`). */
  background: z.boolean().nullish(),
  /** A conversation id the router signed, or `{id}` (`conversation-ids.ts`): verified and pinned (`response-state.ts`). */
  conversation: Conversation,
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

type JsonEndpoint = Exclude<Endpoint, FormEndpoint>;
/** Endpoints whose body is a multipart form (`ENDPOINTS[…].body`). */
export const isFormEndpoint = (endpoint: Endpoint): endpoint is FormEndpoint => ENDPOINTS[endpoint].body === 'multipart';

const SCHEMAS: Record<JsonEndpoint, z.ZodType<Record<string, unknown>>> = {
  chat: ChatRequestSchema,
  completions: CompletionsRequestSchema,
  embeddings: EmbeddingsRequestSchema,
  responses: ResponsesRequestSchema,
  /** A compaction pass takes no stream and no cap: either would be read by a lax node and not by the router. */
  responsesCompact: z.looseObject({
    model: Model,
    input: z.union([z.string(), z.array(z.unknown())]).nullish(),
    instructions: z.string().nullish(),
    previous_response_id: z.string().min(1).nullish(),
    conversation: Conversation,
    stream: z.literal(false).nullish(),
    max_output_tokens: z.null().optional(),
  }),
  moderations: z.looseObject({ model: Model, input: z.union([z.string(), z.array(z.unknown())]) }),
  images: z.looseObject({
    model: Model,
    prompt: z.string().min(1),
    n: z.number().int().min(1).max(10).nullish(),
    /** `auto` or `WIDTHxHEIGHT` (what every image model takes): a size the router cannot read would bound nothing. */
    size: z.string().regex(/^(auto|\d{1,5}x\d{1,5})$/, 'size must be "auto" or WIDTHxHEIGHT, e.g. "1024x1024"').nullish(),
    quality: z.string().nullish(),
    stream: Stream,
    /** A GIF's frames, each billed as an image (`limits/image-output.ts`): OpenAI's 2–16. */
    frame_count: z.number().int().min(2).max(16).nullish(),
    output_format: z.string().nullish(),
    /** Reserved per image (`limits/image-output.ts`): OpenAI's 0–3, an integer (a lax node reads `"3"` as 3). */
    partial_images: z.number().int().min(0).max(3).nullish(),
  }),
  speech: z.looseObject({ model: Model, input: z.string().min(1), voice: z.unknown() }),
  messages: MessagesRequestSchema,
};

export type ChatRequest = z.infer<typeof ChatRequestSchema>;

export interface Base {
  endpoint: Endpoint;
  /** The caller's bytes, resent as they are when nothing needs changing (multipart: the form as the router wrote it). */
  raw: Uint8Array;
  /** The fields the router acts on (for multipart: the form's text fields). */
  body: Record<string, unknown> & { model: string };
  stream: boolean;
  /** The caller named no model and the router chose OpenAI's default for the endpoint: written into every attempt's body. */
  modelChosen?: true;
}
export type ParsedRequest =
  | (Base & { kind: 'json'; /** Top-level members located, for splicing edits. */ scanned: ScannedObject })
  | (Base & {
      kind: 'multipart';
      contentType: string;
      form: FormData;
      /** An audio upload: the fewest bytes a second its `file` can take, by its first bytes (`limits/audio-rate.ts`); absent when its format bounds none. */
      uploadRate?: number;
    });


/** The refusal of a body nested past `MAX_JSON_DEPTH` (`scanObject(text, MAX_JSON_DEPTH)` finds it). */
function tooDeep(): RouterError {
  return new RouterError(400, `The request body nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep.`, { code: 'invalid_request' });
}

/**
 * A JSON request body as one object, checked once: valid JSON, an object, nested at most
 * `MAX_JSON_DEPTH` deep (the estimator walks it recursively), each name once (`json-members.ts`).
 * Every JSON route reads its body through this (`/v1/messages/count_tokens` too).
 */
const decoder = new TextDecoder();

export function parseJsonObject(bytes: Uint8Array): { json: Record<string, unknown>; scanned: ScannedObject } {
  let json: unknown;
  const text = decoder.decode(bytes);
  try {
    json = JSON.parse(text);
  } catch {
    throw new RouterError(400, 'We could not parse the JSON body of your request. Send a JSON object.', { code: 'invalid_json' });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new RouterError(400, 'The request body must be a JSON object.', { code: 'invalid_json' });
  }
  // One pass for nesting depth, duplicate names and member spans.
  const scan = scanObject(text, MAX_JSON_DEPTH);
  if ('tooDeep' in scan) throw tooDeep();
  if (!scan.ok) {
    throw new RouterError(400, `The request body has the key '${scan.duplicate}' more than once (at ${scan.path}). Send each key once.`, {
      code: 'duplicate_key',
      param: scan.path,
    });
  }
  return { json: json as Record<string, unknown>, scanned: scan.object };
}

function validated(endpoint: JsonEndpoint, json: Record<string, unknown>): Record<string, unknown> {
  const parsed = SCHEMAS[endpoint].safeParse(json);
  if (!parsed.success) throw invalid(parsed.error);
  return parsed.data;
}

/** Parameters only gpt-image-1 takes: with one of them, OpenAI's images endpoint defaults to it, else to dall-e-2. */
const GPT_IMAGE_ONLY = ['background', 'moderation', 'output_compression', 'output_format', 'partial_images', 'stream'];
/** Values of `quality` and `size` only gpt-image-1 takes (dall-e-2 draws `standard` at 256², 512² or 1024²). */
const GPT_IMAGE_QUALITIES = new Set(['low', 'medium', 'high']);
const GPT_IMAGE_SIZES = new Set(['1536x1024', '1024x1536']);

const asksGptImage = (json: Record<string, unknown>) =>
  GPT_IMAGE_ONLY.some((p) => json[p] != null) || GPT_IMAGE_QUALITIES.has(json.quality as string) || GPT_IMAGE_SIZES.has(json.size as string);

/**
 * The model OpenAI picks where a body names none (the SDKs leave `model` optional there):
 * moderations `omni-moderation-latest`, images `dall-e-2` unless a parameter or a `quality`
 * or `size` value only gpt-image-1 takes is sent. The router routes, limits and prices by that name, and writes it into the body it
 * sends (`attempt-body.ts`), so the node bills the model the router reserved for.
 */
function defaultModel(endpoint: Endpoint, json: Record<string, unknown>): string | undefined {
  if (endpoint === 'moderations') return 'omni-moderation-latest';
  if (endpoint === 'images') return asksGptImage(json) ? 'gpt-image-1' : 'dall-e-2';
  return undefined;
}

/** A JSON endpoint's body, parsed and checked (no promise: nothing in it waits). */
export function parseJsonRequest(endpoint: JsonEndpoint, bytes: Uint8Array): ParsedRequest {
  const { json, scanned } = parseJsonObject(bytes);
  checkSpelling(scanned);
  checkNestedSpelling(json);
  checkNodeFallbacks(json);
  const chosen = json.model == null ? defaultModel(endpoint, json) : undefined;
  if (chosen !== undefined) json.model = chosen;
  const body = (endpoint === 'chat' && chatShapeHolds(json) ? json : validated(endpoint, json)) as Base['body'];
  const stream = ENDPOINTS[endpoint].alwaysStreams === true || body.stream === true;
  return { kind: 'json', endpoint, raw: bytes, scanned, body, stream, ...(chosen !== undefined ? { modelChosen: true as const } : {}) };
}

/** Parse and validate a buffered body; 400 with the offending field as `param`. */
export async function parseRequest(endpoint: Endpoint, bytes: Uint8Array, contentType = 'application/json'): Promise<ParsedRequest> {
  if (isFormEndpoint(endpoint)) {
    if (!contentType.toLowerCase().startsWith('multipart/form-data')) {
      throw new RouterError(400, `This endpoint takes multipart/form-data (${endpoint === 'imageEdits' ? 'the images' : 'a file'} and its fields).`, { code: 'invalid_request' });
    }
    return parseMultipart(endpoint, bytes, contentType);
  }
  return parseJsonRequest(endpoint, bytes);
}
