/**
 * A simulated Google Vertex AI pair:
 *
 * - a token endpoint (`speaks: 'vertex-token'`, `POST /token`) that verifies the OAuth JWT
 *   bearer assertion (RFC 7523) against the service account's public key with `node:crypto`
 *   — RS256 signature, `kid`, `iss`, `aud` = its own URL, `scope`, `iat`/`exp` (at most an
 *   hour, not expired, not from the future) — and issues opaque tokens living
 *   `tokenLifetimeS` (default 3599) seconds; every mint is a request in its log;
 * - regional endpoints (`speaks: 'vertex'`, location `cloudRegion`, default `us-central1`,
 *   project `gcpProject`, default `fleet-project`) that accept only unexpired tokens that
 *   endpoint issued: the OpenAI-compatible `…/endpoints/openapi/chat/completions` (model
 *   `publisher/name`), Claude's `…/publishers/anthropic/models/{m}:rawPredict` and
 *   `:streamRawPredict` (`anthropic_version: "vertex-2023-10-16"`, no `model`), and
 *   `GET …/endpoints` (the probe). Errors in Google's shape `{"error":{code,message,status}}`.
 *
 * The service account's key pair is generated once per process (`fleetServiceAccount`);
 * `foreignServiceAccount` is a well-formed key the token endpoint does not know.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import type http from 'node:http';
import { cloudMessagesError, messagesAnswer, messagesEvents } from './cloud-answers.ts';
import { completionTokens, sendJson, sleep, type SimNode } from './shared.ts';
import { chatPromptTokens, IMAGE_TOKENS } from './tokens.ts';

interface Identity {
  publicKey: KeyObject;
  privateKeyPem: string;
  keyId: string;
  email: string;
}

function makeIdentity(name: string): Identity {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKey: createPublicKey(publicKey.export({ type: 'spki', format: 'pem' })),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    keyId: randomBytes(20).toString('hex'),
    email: `${name}@fleet-project.iam.gserviceaccount.com`,
  };
}

let known: Identity | undefined;
let foreign: Identity | undefined;
const knownIdentity = () => (known ??= makeIdentity('router'));

/** Issued tokens → expiry (ms, in the issuing endpoint's clock). Shared by every node of the process. */
const issued = new Map<string, number>();

function keyFile(id: Identity, tokenUri: string): string {
  return JSON.stringify({
    type: 'service_account',
    project_id: 'fleet-project',
    private_key_id: id.keyId,
    private_key: id.privateKeyPem,
    client_email: id.email,
    client_id: '100000000000000000001',
    token_uri: tokenUri,
  });
}

/** The service-account key file the token endpoint trusts (`tokenUri`: its `…/token` URL). */
export const fleetServiceAccount = (tokenUri: string) => keyFile(knownIdentity(), tokenUri);
/** A valid-looking key file whose key the token endpoint does not know. */
export const foreignServiceAccount = (tokenUri: string) => keyFile((foreign ??= makeIdentity('stranger')), tokenUri);

const googleError = (res: http.ServerResponse, code: number, status: string, message: string) => sendJson(res, code, { error: { code, message, status } });

function verifyAssertion(jwt: string, aud: string, nowS: number): string | undefined {
  const id = knownIdentity();
  const parts = jwt.split('.');
  if (parts.length !== 3) return 'assertion is not a JWT';
  const [h, c, s] = parts as [string, string, string];
  let header: { alg?: unknown; kid?: unknown };
  let claims: { iss?: unknown; aud?: unknown; scope?: unknown; iat?: unknown; exp?: unknown };
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(c, 'base64url').toString('utf8'));
  } catch {
    return 'assertion is not a JWT';
  }
  if (header.alg !== 'RS256') return 'alg must be RS256';
  if (!verify('RSA-SHA256', Buffer.from(`${h}.${c}`), id.publicKey, Buffer.from(s, 'base64url'))) return 'Invalid JWT Signature.';
  if (header.kid !== id.keyId) return 'unknown key id';
  if (claims.iss !== id.email) return 'unknown issuer';
  if (claims.aud !== aud) return `aud must be ${aud}`;
  if (typeof claims.scope !== 'string' || !claims.scope.split(' ').includes('https://www.googleapis.com/auth/cloud-platform')) return 'scope must include cloud-platform';
  if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number') return 'iat and exp are required';
  if (claims.iat > nowS + 60) return 'Invalid JWT: Token must be a short-lived token (iat in the future)';
  if (claims.exp <= nowS) return 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe';
  if (claims.exp - claims.iat > 3600) return 'Invalid JWT: lifetime over one hour';
  return undefined;
}

export async function handleVertexToken(node: SimNode, req: http.IncomingMessage, res: http.ServerResponse, bytes: Buffer): Promise<void> {
  const k = node.knobs;
  const now = Date.now() + (k.clockOffsetMs ?? 0);
  if (k.status > 0 && (k.failFirst === 0 || node.served <= k.failFirst)) return sendJson(res, k.status, { error: 'internal_failure', error_description: `simulated ${k.status}` });
  if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/token') return sendJson(res, 404, { error: 'not_found' });
  if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return sendJson(res, 400, { error: 'invalid_request', error_description: 'form body required' });
  const form = new URLSearchParams(bytes.toString('utf8'));
  if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return sendJson(res, 400, { error: 'unsupported_grant_type' });
  // `aud` must be the URL the assertion was posted to (key files in tests may add a query to keep caches apart).
  const why = verifyAssertion(form.get('assertion') ?? '', `http://127.0.0.1:${node.port}${req.url ?? '/token'}`, Math.floor(now / 1000));
  if (why) return sendJson(res, 400, { error: 'invalid_grant', error_description: why });
  const lifetime = k.tokenLifetimeS ?? 3599;
  const token = `ya29.fleet-${randomBytes(16).toString('hex')}`;
  issued.set(token, now + lifetime * 1000);
  return sendJson(res, 200, { access_token: token, expires_in: lifetime, token_type: 'Bearer' });
}

export async function handleVertex(node: SimNode, req: http.IncomingMessage, res: http.ServerResponse, bytes: Buffer): Promise<void> {
  const k = node.knobs;
  const now = Date.now() + (k.clockOffsetMs ?? 0);
  const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
  const expires = token ? issued.get(token) : undefined;
  if (expires === undefined || now >= expires) return googleError(res, 401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token.');
  if (k.status > 0 && (k.failFirst === 0 || node.served <= k.failFirst)) {
    const status = k.status === 429 ? 'RESOURCE_EXHAUSTED' : k.status === 400 ? 'INVALID_ARGUMENT' : k.status === 503 ? 'UNAVAILABLE' : 'INTERNAL';
    return googleError(res, k.status, status, k.errorMessage ?? `simulated ${status} from ${node.id}`);
  }
  const base = `/v1/projects/${k.gcpProject ?? 'fleet-project'}/locations/${k.cloudRegion ?? 'us-central1'}`;
  const path = (req.url ?? '').split('?')[0]!;
  if (!path.startsWith(`${base}/`)) return googleError(res, 404, 'NOT_FOUND', `no resource ${path} in this project and location`);
  const rest = path.slice(base.length);
  if (req.method === 'GET' && rest === '/endpoints') return sendJson(res, 200, { endpoints: [] });
  if (req.method !== 'POST') return googleError(res, 404, 'NOT_FOUND', `no route ${req.method} ${path}`);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    return googleError(res, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
  }
  if (rest === '/endpoints/openapi/chat/completions') return openapiChat(node, res, body);
  const claude = /^\/publishers\/anthropic\/models\/([^/:]+):(rawPredict|streamRawPredict)$/.exec(rest);
  if (!claude) return googleError(res, 404, 'NOT_FOUND', `no route POST ${path}`);
  const model = decodeURIComponent(claude[1]!);
  const err = cloudMessagesError(body, 'vertex-2023-10-16', true, model);
  if (err) return sendJson(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: err } });
  if (claude[2] === 'rawPredict') return sendJson(res, 200, messagesAnswer(node, body, model));
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const ev of messagesEvents(node, body, model)) {
    res.write(`event: ${String(ev.type)}\ndata: ${JSON.stringify(ev)}\n\n`);
    if (k.chunkDelayMs > 0) await sleep(k.chunkDelayMs);
  }
  res.end();
}

/**
 * Tokens of a context cache (`cachedContents`) a request names: the fleet's caches all hold
 * this many. Gemini reads the cache into the prompt and bills it as (cached) prompt tokens;
 * a real cache holds from 1,024–4,096 tokens up to the model's context window.
 */
export const CONTEXT_CACHE_TOKENS = 32_000;
/**
 * Gemini reads an `image_url` data URL by its MIME type, whatever the part is called: a PDF,
 * a video or an audio file sent that way is billed as such (a PDF 258 tokens a page, video
 * 263 a second, audio 32 a second). The fleet bills such media 258 tokens per 512 decoded
 * bytes — about a minimal PDF page's size — on top of the part's image figure.
 */
export const MEDIA_TOKENS_PER_512_BYTES = 258;
/** Every content part of a chat body's messages. */
function* contentParts(body: Record<string, unknown>): Generator<{ type?: unknown; image_url?: { url?: unknown }; input_audio?: { data?: unknown } }> {
  const messages = Array.isArray(body.messages) ? (body.messages as { content?: unknown }[]) : [];
  for (const m of messages) if (Array.isArray(m?.content)) yield* m.content as { type?: unknown }[];
}

function inlineMediaTokens(body: Record<string, unknown>): number {
  let sum = 0;
  for (const part of contentParts(body)) {
    const url = part?.type === 'image_url' ? part.image_url?.url : undefined;
    const media = typeof url === 'string' ? /^data:([^;,]+);base64,/.exec(url) : null;
    if (!media || media[1]!.toLowerCase().startsWith('image/')) continue;
    const bytes = Math.floor(((url as string).length - media[0].length) * 0.75);
    sum += MEDIA_TOKENS_PER_512_BYTES * Math.ceil(bytes / 512);
  }
  return sum;
}

/**
 * Gemini's image figures (Google's token docs; the `detail` of Vertex's OpenAI-compatible
 * endpoint is Gemini 3's `media_resolution`): Gemini 3 a fixed count per image whatever its
 * size — 1,120 (high, the default), 280 for `detail: "low"`; Gemini 2.x 258 a 768-px tile
 * after fitting the image into 3072×3072 (258 for one of at most 384×384). The size is read
 * from a base64 PNG's header; any other image (a URL) as the largest.
 */
function geminiImageTokens(url: unknown, detail: unknown, model: string): number {
  if (/gemini-3/.test(model)) return detail === 'low' ? 280 : 1_120;
  const data = typeof url === 'string' ? /^data:image\/png;base64,(.{0,64})/.exec(url)?.[1] : undefined;
  const head = data ? Buffer.from(data, 'base64') : Buffer.alloc(0);
  if (head.length < 24 || head.toString('latin1', 1, 4) !== 'PNG') return 16 * 258;
  let [w, h] = [head.readUInt32BE(16), head.readUInt32BE(20)];
  if (w <= 384 && h <= 384) return 258;
  const fit = Math.min(1, 3072 / Math.max(w, h));
  [w, h] = [w * fit, h * fit];
  return 258 * Math.ceil(w / 768) * Math.ceil(h / 768);
}

/** What Gemini bills for the request's images beyond the flat figure `chatPromptTokens` gave each. */
function geminiImagesExtra(body: Record<string, unknown>): number {
  const messages = Array.isArray(body.messages) ? (body.messages as { content?: unknown }[]) : [];
  let sum = 0;
  for (const m of messages) {
    if (!Array.isArray(m?.content)) continue;
    for (const part of m.content as { type?: unknown; image_url?: { url?: unknown; detail?: unknown } }[]) {
      if (part?.type !== 'image_url' || /^data:(?!image\/)/i.test(String(part.image_url?.url))) continue;
      sum += geminiImageTokens(part.image_url?.url, part.image_url?.detail, String(body.model)) - IMAGE_TOKENS;
    }
  }
  return sum;
}

/**
 * Gemini bills input audio at 32 tokens a second (Google's token docs). A WAV's seconds from
 * its header's byte rate (the `fmt ` chunk right after `RIFF…WAVE`, as the fleet's tests write
 * it); any other audio at 1,000 bytes a second (MP3's lowest bitrate).
 */
function geminiAudioTokens(body: Record<string, unknown>): number {
  let sum = 0;
  for (const part of contentParts(body)) {
    if (part?.type !== 'input_audio' || typeof part.input_audio?.data !== 'string') continue;
    const bytes = Buffer.from(part.input_audio.data, 'base64');
    const wav = bytes.length >= 44 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 12, 16) === 'fmt ';
    const seconds = wav ? (bytes.length - 44) / Math.max(1, bytes.readUInt32LE(28)) : bytes.length / 1_000;
    sum += Math.ceil(seconds * 32);
  }
  return sum;
}

const CACHE_NAME = /^projects\/[^/]+\/locations\/[^/]+\/cachedContents\/[^/]+$/;

/**
 * Vertex's OpenAI-compatible chat: `model` must name its publisher (`google/gemini-…`); a
 * context cache named as Google documents it (`extra_body.google.cached_content`, the full
 * resource name) is read into the prompt and billed, its tokens reported as cached; an
 * `image_url` data URL that is not an image is read as the media it is (`inlineMediaTokens`);
 * images and audio are billed as Gemini bills them (`geminiImageTokens`, `geminiAudioTokens`).
 */
async function openapiChat(node: SimNode, res: http.ServerResponse, body: Record<string, unknown>) {
  const k = node.knobs;
  if (typeof body.model !== 'string' || !/^[a-z-]+\/[\w.-]+$/.test(body.model)) return googleError(res, 400, 'INVALID_ARGUMENT', 'model must be publisher/model, e.g. google/gemini-2.0-flash-001');
  const cache = (body.extra_body as { google?: { cached_content?: unknown } } | undefined)?.google?.cached_content;
  if (cache !== undefined && (typeof cache !== 'string' || !CACHE_NAME.test(cache))) return googleError(res, 400, 'INVALID_ARGUMENT', 'cached_content must be projects/*/locations/*/cachedContents/*');
  const cached = cache === undefined ? 0 : CONTEXT_CACHE_TOKENS;
  const prompt = chatPromptTokens(body) + geminiImagesExtra(body) + inlineMediaTokens(body) + geminiAudioTokens(body) + cached;
  const completion = completionTokens(k, body);
  const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, ...(cached > 0 ? { prompt_tokens_details: { cached_tokens: cached } } : {}) };
  const base = { id: `chatcmpl-${node.id}-${node.served}`, created: Math.floor(Date.now() / 1000), model: body.model };
  if (body.stream !== true) {
    return sendJson(res, 200, { ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: `Hello from ${node.id}` }, finish_reason: 'stop' }], usage });
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const send = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\n\n`);
  for (let i = 0; i < k.chunks; i++) {
    send({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content: `Hello from ${node.id}` } : { content: ` #${i}` }, finish_reason: null }] });
    if (k.chunkDelayMs > 0) await sleep(k.chunkDelayMs);
  }
  send({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
  if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage) send({ ...base, object: 'chat.completion.chunk', choices: [], usage });
  res.end('data: [DONE]\n\n');
}
