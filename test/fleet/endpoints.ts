/**
 * The simulated fleet's OpenAI endpoints beyond chat and embeddings: Responses (JSON and
 * typed SSE; stored per node, so a follow-up only works on the node that made it), legacy
 * completions (JSON and SSE), moderations, image generation, speech and
 * transcriptions/translations (`audio.ts`). The same knobs apply: stream cut and
 * stall, chunk count and delay, `completionTokens`.
 */
import type http from 'node:http';
import { chatTemplateTokens, completionTokens, refusedNotObject, sendJson, sleep, type SimNode } from './shared.ts';
import { functionCallEvents, functionCallItem, responsesToolToCall } from './responses-tools.ts';
import { pieces as splitText, structuredAnswer } from './structured.ts';
import { bpeTokens, cacheTtls, completionPrompts, responsesInputDetails, responsesInputTokens } from './tokens.ts';
import { conversationMissing, handleConversations, storeItems } from './conversations.ts';
import { speech, transcription } from './audio.ts';

type Body = Record<string, unknown>;

export function invalid(res: http.ServerResponse, status: number, message: string, param: string | null, code: string | null) {
  return sendJson(res, status, { error: { message, type: 'invalid_request_error', param, code } });
}

/** Writes `events` as SSE, honouring the stream knobs; false when the stream was cut or stalled. */
export async function writeEvents(node: SimNode, res: http.ServerResponse, events: string[], contentIndexes: Set<number>): Promise<boolean> {
  const k = node.knobs;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let content = 0;
  for (let i = 0; i < events.length; i++) {
    if (contentIndexes.has(i)) {
      if (content === k.cutAfterChunks) {
        res.socket?.destroy();
        return false;
      }
      if (content === k.stallAfterChunks) return false;
      if (content === k.endAfterChunks) {
        res.end();
        return false;
      }
      content++;
    }
    res.write(events[i]);
    if (contentIndexes.has(i) && k.chunkDelayMs > 0) await sleep(k.chunkDelayMs);
  }
  res.end();
  return true;
}

/** Responses' server-side compaction: the summary its pass writes, and what the answer then reads of the compacted context. */
const COMPACTION_SUMMARY_TOKENS = 500;
const COMPACTED_INPUT = 600;

/** Whether a Responses body compacts its context: a `compaction` entry whose threshold the context reaches (none: always), or a final `compaction_trigger` item. */
function responsesCompacts(body: Body, context: number): boolean {
  const entries = Array.isArray(body.context_management) ? (body.context_management as Body[]) : [];
  const due = entries.some((e) => e?.type === 'compaction' && (typeof e.compact_threshold !== 'number' || context >= e.compact_threshold));
  const trigger = Array.isArray(body.input) && (body.input.at(-1) as Body | undefined)?.type === 'compaction_trigger';
  return due || trigger;
}

function responsesCreate(node: SimNode, res: http.ServerResponse, body: Body) {
  const k = node.knobs;
  if (refusedNotObject(res, body, ['input', 'tools'])) return;
  // OpenAI's lifetimes for Responses: `30m` (the default) and `12h`.
  const ttl = cacheTtls(body).find((t) => t !== '30m' && t !== '12h');
  if (ttl !== undefined) return invalid(res, 400, `Invalid value: '${String(ttl)}'. Supported values are: '30m' and '12h'.`, 'prompt_cache_options.ttl', 'invalid_value');
  const previous = body.previous_response_id;
  const before = typeof previous === 'string' ? node.responses.get(previous) : undefined;
  if (typeof previous === 'string' && !before) {
    return invalid(res, 400, `Previous response with id '${previous}' not found.`, 'previous_response_id', 'previous_response_not_found');
  }
  // A conversation (an id or `{id}`; not with previous_response_id): its items are read as context, and this turn's input and output added to it.
  const named = body.conversation ?? undefined;
  if (named !== undefined && previous != null) {
    return invalid(res, 400, "Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' or 'conversation'.", null, 'mutually_exclusive_parameters');
  }
  const conversationId = typeof named === 'string' ? named : (named as Body | undefined)?.id;
  if (named !== undefined && typeof conversationId !== 'string') return invalid(res, 400, "Invalid type for 'conversation': expected one of a string or an object with an id.", 'conversation', 'invalid_type');
  const conversation = typeof conversationId === 'string' ? node.conversations.get(conversationId) : undefined;
  if (typeof conversationId === 'string' && !conversation) return conversationMissing(res, conversationId);
  const id = `resp_${node.id.replace(/[^A-Za-z0-9]/g, '')}${node.served}x${Date.now().toString(36)}`;
  const messageId = `msg_${node.served}`;
  const structured = structuredAnswer(body, node.id);
  const after = typeof previous === 'string' ? ` (after ${previous})` : conversation ? ` (in a conversation of ${conversation.items.length} items)` : '';
  const greeting = [`Hello from ${node.id}${after}`, ...Array.from({ length: Math.max(0, k.chunks - 1) }, (_, i) => ` #${i + 1}`)];
  const pieces = structured === undefined ? greeting : splitText(structured, k.chunks);
  const text = pieces.join('');
  // As OpenAI bills it: the stored context of the previous response (or the conversation's items) is input again.
  const held = conversation ? responsesInputTokens({ input: conversation.items }) : (before?.contextTokens ?? 0);
  const context = held + responsesInputTokens(body) + chatTemplateTokens(k, body);
  // Server-side compaction (`context_management: [{type: "compaction", compact_threshold}]` past its threshold, or a
  // `compaction_trigger` input item): a first pass reads the whole context and writes a summary, then the answer reads
  // the compacted context. Both are billed, and the usage reports both.
  const compacts = responsesCompacts(body, context);
  const inputTokens = compacts ? context + Math.min(context, COMPACTED_INPUT) : context;
  const output = completionTokens(k, { max_completion_tokens: body.max_output_tokens }) + (compacts ? COMPACTION_SUMMARY_TOKENS : 0);
  const base = {
    id,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    model: body.model,
    previous_response_id: previous ?? null,
    conversation: conversation ? { id: conversation.conversation.id } : null,
    store: body.store !== false,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    tools: [],
    parallel_tool_calls: true,
    tool_choice: 'auto',
    temperature: 1,
    top_p: 1,
  };
  const part = { type: 'output_text', text, annotations: [], logprobs: [] };
  const item = { id: messageId, type: 'message', role: 'assistant', status: 'completed', content: [part] };
  const tool = responsesToolToCall(body);
  const call = tool ? functionCallItem(tool, node.served) : undefined;
  const usage = { input_tokens: inputTokens, input_tokens_details: responsesInputDetails(k, body, inputTokens), output_tokens: output, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: inputTokens + output };
  // Like OpenAI's Responses object: the caller's `metadata` is echoed, after `usage`.
  const metadata = body.metadata ?? {};
  const done = { ...base, status: 'completed', output: [call ?? item], usage, metadata };
  const input = typeof body.input === 'string' ? [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: body.input }] }] : ((body.input as unknown[]) ?? []);
  if (body.store !== false) node.responses.set(id, { response: done, input, contextTokens: inputTokens + output });
  if (conversation) storeItems(node, conversation, [...input, call ?? item]);
  // background: answered at once, still queued (no usage yet); the stored response completes.
  if (laxTrue(body.background) && body.stream !== true) return sendJson(res, 200, { ...base, background: true, status: 'queued', output: [], usage: null, metadata });
  if (body.stream !== true) {
    // A JSON answer arrives whole, once written (as chat's).
    if (k.msPerToken > 0) return void sleep(output * k.msPerToken).then(() => sendJson(res, 200, done));
    return sendJson(res, 200, done);
  }

  let seq = 0;
  const event = (type: string, data: Body) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`;
  const inProgress = { ...base, status: 'in_progress', output: [], usage: null, metadata };
  const events = [event('response.created', { response: inProgress }), event('response.in_progress', { response: inProgress })];
  if (call) {
    const streamed = functionCallEvents(event, call, k.chunks);
    events.push(...streamed.events, event('response.completed', { response: done }));
    return writeEvents(node, res, events, new Set(streamed.deltas.map((i) => i + 2)));
  }
  events.push(
    event('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } }),
    event('response.content_part.added', { item_id: messageId, output_index: 0, content_index: 0, part: { ...part, text: '' } }),
  );
  const deltas = new Set<number>();
  for (const delta of pieces) {
    deltas.add(events.length);
    events.push(event('response.output_text.delta', { item_id: messageId, output_index: 0, content_index: 0, delta, logprobs: [] }));
  }
  events.push(
    event('response.output_text.done', { item_id: messageId, output_index: 0, content_index: 0, text, logprobs: [] }),
    event('response.content_part.done', { item_id: messageId, output_index: 0, content_index: 0, part }),
    event('response.output_item.done', { output_index: 0, item }),
    event('response.completed', { response: done }),
  );
  return writeEvents(node, res, events, deltas);
}

/**
 * A compaction pass (`POST /v1/responses/compact`), as OpenAI bills it: it reads the
 * conversation — `input`, after a previous response's stored context — and writes reasoning and
 * an encrypted summary, with no cap a request can set (knob `completionTokens`, else 300). The
 * answer is the user messages followed by one `compaction` item. It takes neither `stream` nor
 * `max_output_tokens` (a 400 naming them).
 */
function responsesCompact(node: SimNode, res: http.ServerResponse, body: Body) {
  if (body.stream != null && body.stream !== false) return invalid(res, 400, 'stream is not supported for compaction', 'stream', 'unsupported_parameter');
  if (body.max_output_tokens != null) return invalid(res, 400, "Unknown parameter: 'max_output_tokens'.", 'max_output_tokens', 'unknown_parameter');
  if (refusedNotObject(res, body, ['input'])) return;
  const previous = body.previous_response_id;
  const before = typeof previous === 'string' ? node.responses.get(previous) : undefined;
  if (typeof previous === 'string' && !before) {
    return invalid(res, 400, `Previous response with id '${previous}' not found.`, 'previous_response_id', 'previous_response_not_found');
  }
  const k = node.knobs;
  const inputTokens = (before?.contextTokens ?? 0) + responsesInputTokens(body) + chatTemplateTokens(k, body);
  const output = k.completionTokens > 0 ? k.completionTokens : 300;
  const input = typeof body.input === 'string' ? [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: body.input }] }] : ((body.input as Body[] | undefined) ?? []);
  const users = [...(before?.input ?? []), ...input].filter((item) => (item as Body)?.role === 'user').map((item) => ({ type: 'message', role: 'user', content: (item as Body).content }));
  const usage = { input_tokens: inputTokens, input_tokens_details: { cached_tokens: 0 }, output_tokens: output, output_tokens_details: { reasoning_tokens: Math.floor(output / 2) }, total_tokens: inputTokens + output };
  const compaction = { id: `cmp_item_${node.served}`, type: 'compaction', encrypted_content: `gAAAA-${node.id}` };
  sendJson(res, 200, { id: `cmp_${node.id.replace(/[^A-Za-z0-9]/g, '')}${node.served}`, object: 'response.compaction', created_at: Math.floor(Date.now() / 1000), output: [...users, compaction], usage });
}

function responsesFollowUp(node: SimNode, req: http.IncomingMessage, res: http.ServerResponse, path: string) {
  const [, id, action] = path.match(/^\/v1\/responses\/([^/]+)(?:\/(input_items|cancel))?$/) ?? [];
  const stored = id ? node.responses.get(decodeURIComponent(id)) : undefined;
  if (!stored) return invalid(res, 404, `No response found with id '${id}'.`, null, null);
  if (req.method === 'GET' && !action && /[?&]stream=true(&|$)/.test(req.url ?? '')) {
    // A stored response's events again (as for a background response): its first and last.
    const eol = node.knobs.crlf ? '\r\n' : '\n';
    const event = (type: string, n: number, response: Body) => `event: ${type}${eol}data: ${JSON.stringify({ type, sequence_number: n, response })}${eol}${eol}`;
    const events = [event('response.created', 0, { ...stored.response, status: 'in_progress', output: [], usage: null }), event('response.completed', 1, stored.response)];
    // The completion is the stream's content: `stallAfterChunks: 0` is a background response still running, `chunkDelayMs` one that takes its time.
    return writeEvents(node, res, events, new Set([1]));
  }
  if (req.method === 'GET' && !action) return sendJson(res, 200, stored.response);
  if (req.method === 'DELETE' && !action) {
    node.responses.delete(decodeURIComponent(id!));
    return sendJson(res, 200, { id: stored.response.id, object: 'response', deleted: true });
  }
  if (req.method === 'GET' && action === 'input_items') {
    const data = stored.input.map((item, i) => ({ id: `msg_in_${i}`, ...(item as Body) }));
    return sendJson(res, 200, { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: false });
  }
  if (req.method === 'POST' && action === 'cancel') return sendJson(res, 200, { ...stored.response, status: 'cancelled' });
  return invalid(res, 405, 'method not allowed', null, null);
}

/**
 * Legacy completions, billed as OpenAI bills them: every prompt of a `prompt` array is its own
 * completion (its text strictly, `tokens.ts`; a `suffix` with each; the node's `specialTokens`
 * around each); each generates `best_of` (default `n`) choices of which `n` are returned; `echo`
 * puts the prompt back in front of every choice and bills it as completion tokens.
 */
function completions(node: SimNode, res: http.ServerResponse, body: Body) {
  const id = `cmpl-${node.id}-${node.served}`;
  const created = Math.floor(Date.now() / 1000);
  const prompts = completionPrompts(body.prompt);
  const suffix = bpeTokens(body.suffix);
  const n = typeof body.n === 'number' ? body.n : 1;
  const bestOf = typeof body.best_of === 'number' ? body.best_of : n;
  const echo = body.echo === true;
  const perChoice = completionTokens(node.knobs, body);
  let prompt = 0;
  let completion = 0;
  for (const p of prompts) {
    const tokens = bpeTokens(p) + node.knobs.specialTokens;
    prompt += tokens + suffix;
    completion += bestOf * (perChoice + (echo ? tokens : 0));
  }
  const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  const pieces = [`Hello from ${node.id}`, ...Array.from({ length: Math.max(0, node.knobs.chunks - 1) }, (_, i) => ` #${i + 1}`)];
  const indexes = prompts.flatMap((p, i) => Array.from({ length: n }, (_, j) => ({ index: i * n + j, echoed: echo ? String(p) : '' })));
  const choice = (index: number, text: string, finish: string | null) => ({ text, index, logprobs: null, finish_reason: finish });
  if (body.stream !== true) {
    const choices = indexes.map((c) => choice(c.index, c.echoed + pieces.join(''), 'stop'));
    return sendJson(res, 200, { id, object: 'text_completion', created, model: body.model, choices, usage });
  }
  const data = (o: Body) => `data: ${JSON.stringify({ id, object: 'text_completion', created, model: body.model, ...o })}\n\n`;
  const events = pieces.map((p, i) => data({ choices: indexes.map((c) => choice(c.index, (i === 0 ? c.echoed : '') + p, null)) }));
  const deltas = new Set(events.map((_, i) => i));
  events.push(data({ choices: indexes.map((c) => choice(c.index, '', 'stop')) }));
  if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage) events.push(data({ choices: [], usage }));
  events.push('data: [DONE]\n\n');
  return writeEvents(node, res, events, deltas);
}

/**
 * A boolean as pydantic's lax mode reads it (vLLM's and other Python servers' request models):
 * `"true"`, `"yes"`, `"on"`, `1`, … are true.
 */
export const laxTrue = (v: unknown) => v === true || v === 1 || (typeof v === 'string' && ['1', 'true', 't', 'yes', 'y', 'on'].includes(v.toLowerCase()));

/** Output tokens of one 1024×1024 image by quality (gpt-image-1's figures; `xhigh` and `max` the gpt-image-2.5 models' own, the fleet's guess). */
const IMAGE_OUTPUT_TOKENS: Record<string, number> = { low: 272, medium: 1056, high: 4160, xhigh: 8320, max: 16640 };

/**
 * What OpenAI's images endpoint refuses of the newer parameters (a 400 naming the parameter),
 * else undefined: `xhigh`/`max` only on gpt-image-2.5 models; a GIF's `frame_count` 2–16 and
 * no streaming or partial images; `frame_count` only with a GIF; SVG output one image, not streamed.
 */
function imageRefusal(body: Body): [string, string] | undefined {
  const gif = body.output_format === 'gif';
  const svg = body.output_format === 'svg' || (body.svg !== undefined && body.svg !== null);
  if ((body.quality === 'xhigh' || body.quality === 'max') && !/^gpt-image-2\.5/.test(String(body.model))) return ['quality', `quality '${String(body.quality)}' is not supported by ${String(body.model)}`];
  if (body.frame_count != null && (!gif || typeof body.frame_count !== 'number' || body.frame_count < 2 || body.frame_count > 16)) return ['frame_count', 'frame_count must be 2-16 and needs output_format=gif'];
  if (gif && (body.stream === true || body.partial_images != null)) return ['stream', 'GIF output does not support streaming or partial images'];
  if (svg && ((typeof body.n === 'number' && body.n > 1) || body.stream === true)) return ['n', 'SVG output requires n=1 and no streaming'];
  return undefined;
}

/**
 * Image generation: `n` images (default 1); gpt-image models report usage in tokens, others
 * (dall-e) none. Output tokens per image scale with the pixels asked (`WIDTHxHEIGHT`, default
 * 1024×1024); a GIF writes `frame_count` frames (default 9), each billed as an image; SVG output
 * adds the author model's own tokens (`svg_usage`).
 */
function images(node: SimNode, res: http.ServerResponse, body: Body, edit?: { imageTokens: number }) {
  const refusal = imageRefusal(body);
  if (refusal) return invalid(res, 400, refusal[1], refusal[0], 'invalid_value');
  const n = typeof body.n === 'number' ? body.n : 1;
  const text = bpeTokens(body.prompt);
  const imageIn = edit?.imageTokens ?? 0;
  const input = text + imageIn;
  const kind = edit ? 'image_edit' : 'image_generation';
  const size = /^(\d+)x(\d+)$/.exec(String(body.size));
  const pixels = size ? Number(size[1]) * Number(size[2]) : 1024 * 1024;
  const perImage = Math.ceil(((IMAGE_OUTPUT_TOKENS[String(body.quality)] ?? IMAGE_OUTPUT_TOKENS.high!) * pixels) / (1024 * 1024));
  const frames = body.output_format === 'gif' ? (typeof body.frame_count === 'number' ? body.frame_count : 9) : 1;
  const output = n * frames * perImage;
  const data = Array.from({ length: n }, () => ({ b64_json: 'iVBORw0KGgo=', revised_prompt: `${body.prompt} (by ${node.id})` }));
  const usage = { input_tokens: input, input_tokens_details: { text_tokens: text, image_tokens: imageIn }, output_tokens: output, total_tokens: input + output };
  const author = (body.svg as { model?: unknown } | null | undefined)?.model;
  const svgUsage = body.output_format === 'svg' ? { svg_usage: { input_tokens: input + 300, model: typeof author === 'string' ? author : 'gpt-5', output_tokens: 5_000, reasoning_tokens: 3_000, total_tokens: input + 5_300 } } : {};
  if (body.stream === true) {
    // As OpenAI's image streams: typed events, `partial_images` previews, then the image with the usage — and no `[DONE]`.
    const partials = typeof body.partial_images === 'number' ? body.partial_images : 0;
    const event = (type: string, data: Body) => `event: ${type}\ndata: ${JSON.stringify({ type, created_at: 1, b64_json: 'iVBORw0KGgo=', ...data })}\n\n`;
    // One completed event per image, each with its own usage (the prompt reported on each).
    const own = { ...usage, output_tokens: output / n, total_tokens: input + output / n };
    const events = [
      ...Array.from({ length: partials }, (_, i) => event(`${kind}.partial_image`, { partial_image_index: i })),
      ...Array.from({ length: n }, () => event(`${kind}.completed`, { usage: own })),
    ];
    return void writeEvents(node, res, events, new Set(events.map((_, i) => i)));
  }
  const answer = { created: Math.floor(Date.now() / 1000), data, ...(/^gpt-image/.test(String(body.model)) ? { usage } : {}), ...svgUsage };
  // Like chat's JSON answers: `msPerToken` per image token written, before the headers.
  if (node.knobs.msPerToken > 0) return void sleep(output * node.knobs.msPerToken).then(() => sendJson(res, 200, answer));
  sendJson(res, 200, answer);
}

/** Input tokens of one image sent to an edit, as gpt-image models bill it: low input fidelity (the default) or high. */
export const EDIT_IMAGE_TOKENS = { low: 135, high: 3_050 };

/**
 * Image edits as OpenAI's endpoint takes them: a multipart form with `prompt`, the images
 * (`image`, or `image[]` up to 16, PNG/WebP/JPEG), an optional `mask` or `markup`, and the generation's
 * fields as strings (`n`, `partial_images`, `stream`: "true"). gpt-image models bill every
 * image sent (the mask or markup too) as image input tokens; the answer is the generation's, its stream
 * events named `image_edit.*`.
 */
async function imageEdit(node: SimNode, req: http.IncomingMessage, res: http.ServerResponse, bytes: Buffer) {
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { 'content-type': String(req.headers['content-type']) } }).formData();
  } catch {
    return invalid(res, 400, 'could not parse multipart body', null, null);
  }
  const sent = [...form.getAll('image'), ...form.getAll('image[]')];
  if (sent.length === 0 || !sent.every((f) => f instanceof File)) return invalid(res, 400, "'image' is required", 'image', null);
  if (sent.length > 16) return invalid(res, 400, 'at most 16 images', 'image', null);
  const prompt = form.get('prompt');
  if (typeof prompt !== 'string' || prompt === '') return invalid(res, 400, "'prompt' is required", 'prompt', null);
  const body: Body = {};
  for (const [name, value] of form) if (typeof value === 'string') body[name] = value;
  for (const name of ['n', 'partial_images', 'frame_count']) if (typeof body[name] === 'string') body[name] = Number(body[name]);
  body.stream = body.stream === 'true';
  // The mask, and GPT Image 2.5's `markup` (a transparent PNG overlaid on the first image to guide the edit), are images read too.
  const inputs = sent.length + (form.get('mask') instanceof File ? 1 : 0) + (form.get('markup') instanceof File ? 1 : 0);
  const gptImage = /^gpt-image/.test(String(body.model));
  images(node, res, body, { imageTokens: gptImage ? inputs * EDIT_IMAGE_TOKENS[body.input_fidelity === 'high' ? 'high' : 'low'] : 0 });
}

/** Handles the endpoints of this module; false when the path is not one of them. */
export async function handleMoreEndpoints(node: SimNode, req: http.IncomingMessage, res: http.ServerResponse, path: string, body: Body, bytes: Buffer): Promise<boolean> {
  const post = req.method === 'POST';
  if (!node.knobs.noConversations && handleConversations(node, req, res, path, body)) return true;
  if (post && path === '/v1/responses') await responsesCreate(node, res, body);
  else if (post && path === '/v1/responses/compact') responsesCompact(node, res, body);
  else if (path.startsWith('/v1/responses/')) responsesFollowUp(node, req, res, path);
  else if (post && path === '/v1/completions') await completions(node, res, body);
  else if (post && path === '/v1/moderations') {
    sendJson(res, 200, { id: `modr-${node.served}`, model: body.model, results: [{ flagged: false, categories: { violence: false }, category_scores: { violence: 0.001 } }] });
  } else if (post && path === '/v1/images/generations') {
    images(node, res, body);
  } else if (post && path === '/v1/images/edits') {
    await imageEdit(node, req, res, bytes);
  } else if (post && path === '/v1/audio/speech') await speech(node, res, body);
  else if (post && (path === '/v1/audio/transcriptions' || path === '/v1/audio/translations')) await transcription(node, req, res, bytes, path.endsWith('translations'));
  else return false;
  return true;
}
