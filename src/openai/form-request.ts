/**
 * Multipart bodies (audio uploads, image edits), parsed by the runtime and checked: each field
 * once (array fields aside), the file fields each endpoint requires and no other field sent as
 * a file, an edit's counts and flags typed strictly; resent as the router read them (written
 * anew, once). `requests.ts` dispatches to it.
 */
import * as z from 'zod';
import { RouterError } from '../errors/router-error';
import type { Base, ParsedRequest } from './requests';
import { invalid, Model } from './request-fields';
import { id3End, UPLOAD_HEAD_BYTES, uploadBytesPerSecond } from '../limits/audio-rate';

export type FormEndpoint = 'transcriptions' | 'translations' | 'imageEdits';

/**
 * An image edit's text fields as the router acts on them: counts and flags typed from the
 * form's strings, strictly — a lax node reads `n=" 3"` or `stream=1` as 3 and true, so a
 * spelling the router would not read the same way is refused, not passed on.
 */
const ImageEditFields = z.looseObject({
  model: Model,
  prompt: z.string().min(1),
  n: z.string().regex(/^(10|[1-9])$/, 'n must be an integer from 1 to 10').transform(Number).optional(),
  partial_images: z.string().regex(/^[0-3]$/, 'partial_images must be an integer from 0 to 3').transform(Number).optional(),
  stream: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  size: z.string().regex(/^(auto|\d{1,5}x\d{1,5})$/, 'size must be "auto" or WIDTHxHEIGHT, e.g. "1024x1024"').optional(),
  frame_count: z.string().regex(/^([2-9]|1[0-6])$/, 'frame_count must be an integer from 2 to 16').transform(Number).optional(),
});

/**
 * An audio upload's fields as the router acts on them: `stream` typed strictly, as an edit's
 * is — a lax node reads `1` or `True` as true and streams, while the router would read the
 * answer as JSON (its timeouts, its usage) — so a spelling it would not read the same way is refused.
 */
const AudioFields = z.looseObject({
  model: Model,
  stream: z.enum(['true', 'false']).optional(),
});

/** The file fields each form endpoint requires, by name (`image` may come as `image[]`, repeated). */
const FORM_FILES: Record<FormEndpoint, string[]> = { transcriptions: ['file'], translations: ['file'], imageEdits: ['image', 'image[]'] };
/** The files an edit may send beside its images: a `mask`, and GPT Image 2.5's `markup` overlay. */
const EDIT_OVERLAYS = ['mask', 'markup'];
/** Every file an edit sends: gpt-image models bill each as image input tokens (`limits/image-reservation.ts`). */
export const EDIT_FILE_FIELDS: readonly string[] = [...FORM_FILES.imageEdits, ...EDIT_OVERLAYS];
/** Most images an edit takes (OpenAI: 16 for the GPT image models). */
const MAX_EDIT_IMAGES = 16;

export async function parseMultipart(endpoint: FormEndpoint, bytes: Uint8Array, contentType: string): Promise<ParsedRequest> {
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { 'content-type': contentType } }).formData();
  } catch {
    throw new RouterError(400, 'We could not parse the multipart/form-data body of your request.', { code: 'invalid_request' });
  }
  const body: Record<string, unknown> = {};
  const seen = new Set<string>();
  for (const [name, value] of form) {
    // One meaning per form: a field given twice is judged by one copy and read by an upstream
    // from the other (`model`). Array fields (`timestamp_granularities[]`) repeat by design.
    if (seen.has(name) && !name.endsWith('[]')) {
      throw new RouterError(400, `The form has the field '${name}' more than once. Send each field once.`, { code: 'duplicate_key', param: name });
    }
    seen.add(name);
    if (typeof value === 'string') body[name] = value;
    // A field sent as a file part is not read here but may be by a node (a lax parser takes its content as the value): refused.
    else if (!FORM_FILES[endpoint].includes(name) && !(endpoint === 'imageEdits' && EDIT_OVERLAYS.includes(name))) {
      throw new RouterError(400, `The form field '${name}' was sent as a file. Send it as a plain form field.`, { code: 'invalid_request', param: name });
    }
  }
  const parsed = (endpoint === 'imageEdits' ? ImageEditFields : AudioFields).safeParse(body);
  if (!parsed.success) throw invalid(parsed.error);
  const files = FORM_FILES[endpoint];
  const given = files.flatMap((name) => form.getAll(name));
  if (given.length === 0 || !given.every((f) => f instanceof File)) {
    throw new RouterError(400, `Invalid request: ${files[0]}: a file part named '${files[0]}' is required`, { code: 'invalid_request', param: files[0]! });
  }
  if (endpoint === 'imageEdits') checkEditFiles(form, given.length);
  // What goes upstream is the form as the router read it, written anew: multipart parsers
  // disagree on malformed parts (workerd reads a part's first Content-Disposition, undici and
  // python-multipart its last), so the caller's own bytes could hold a field — a second
  // `model` — that the router never saw. Written once, so failover resends the same bytes.
  const written = new Response(form);
  const raw = new Uint8Array(await written.arrayBuffer());
  const stream = endpoint === 'imageEdits' ? parsed.data.stream === true : body.stream === 'true';
  const uploadRate = endpoint === 'imageEdits' ? undefined : await audioRate(given[0] as File);
  return {
    kind: 'multipart',
    endpoint,
    raw,
    contentType: written.headers.get('content-type') ?? contentType,
    form,
    body: parsed.data as Base['body'],
    stream,
    ...(uploadRate !== undefined ? { uploadRate } : {}),
  };
}

/** The fewest bytes a second an audio upload can take, read from its first bytes (and past an ID3 tag, its first frame's). */
async function audioRate(file: File): Promise<number | undefined> {
  const head = new Uint8Array(await file.slice(0, UPLOAD_HEAD_BYTES).arrayBuffer());
  const tagEnd = id3End(head);
  const frame = tagEnd > 0 ? new Uint8Array(await file.slice(tagEnd, tagEnd + 4).arrayBuffer()) : undefined;
  return uploadBytesPerSecond(head, frame);
}

/** An edit's images: at most `MAX_EDIT_IMAGES`, as `image` or `image[]` (not both); a `mask` and a `markup` (GPT Image 2.5's overlay), if any, files. */
function checkEditFiles(form: FormData, images: number): void {
  if (form.has('image') && form.has('image[]')) {
    throw new RouterError(400, "The form has both 'image' and 'image[]'. Send the images under one name.", { code: 'invalid_request', param: 'image' });
  }
  if (images > MAX_EDIT_IMAGES) throw new RouterError(400, `An edit takes at most ${MAX_EDIT_IMAGES} images; the form has ${images}.`, { code: 'invalid_request', param: 'image' });
  // Each is an image the node reads and bills (`editImages` in `limits/reservation.ts` counts them): a string would be read otherwise.
  for (const name of EDIT_OVERLAYS) {
    if (form.getAll(name).some((v) => !(v instanceof File))) throw new RouterError(400, `Invalid request: ${name}: '${name}' must be a file.`, { code: 'invalid_request', param: name });
  }
}
