/**
 * API keys: generated here, shown once, stored only as a SHA-256 hash in KV.
 *
 * Keys are 32 random bytes, so a fast hash is enough (no password stretching needed: there
 * is nothing to brute-force). Lookups are memoised in the isolate for `MEMO_MS` to keep KV
 * off the hot path; revocation clears the memo in the isolate that revoked, and reaches
 * other isolates within `MEMO_MS` plus KV's own propagation (≈60 s). See storage-schema.md.
 */
import * as z from 'zod';
import { RouterError } from '../errors/router-error';
import { KeyLimitSchema } from '../config/schema';
import { onIsolateReset } from '../isolate';
import { addressSubject, attemptsThrottled } from './throttle-policy';

export const KeyRecordSchema = z.object({
  id: z.string(),
  name: z.string(),
  /** First characters of the key, for recognising it in listings. */
  prefix: z.string(),
  createdAt: z.string(),
  limits: KeyLimitSchema.optional(),
  /** If set, the only model ids (or aliases) this key may call. */
  models: z.array(z.string()).optional(),
});
export type KeyRecord = z.infer<typeof KeyRecordSchema>;

const KEY_PREFIX = 'sk-ler-';
const MEMO_MS = 10_000;
/** Unknown keys are remembered this long, so a caller retrying a bad key costs no KV read each time. */
const NEGATIVE_MEMO_MS = 5_000;
const MEMO_MAX = 10_000;
/** KV metadata is at most 1024 bytes; the listing reads records from it. */
const METADATA_MAX_BYTES = 1024;
const memo = new Map<string, { record: KeyRecord; expires: number }>();
/**
 * Unknown keys, apart: a caller can present as many as it likes, and were they in `memo`
 * they would fill it — clearing it drops every real key's record with them, so each
 * valid request after a flood of bad tokens would read KV again.
 */
const unknown = new Map<string, number>();
/**
 * Presented key → its SHA-256 hex, so a key seen before costs no digest. A key's hash never
 * changes: the record memo above still decides (and expires, and forgets on revocation)
 * whether it is valid, so this never lets a key live longer. Only keys that have a record and
 * the router's length are remembered: a token is the caller's text (a header can carry
 * ~100 KB), and unknown tokens would otherwise fill it — and push real keys out — at will.
 */
const hashes = new Map<string, string>();
/** Longest token remembered: router keys are `sk-ler-` + 43 characters. */
const MEMO_TOKEN_MAX = 64;
/** What every router key looks like (`generateKey`: 32 random bytes, base64url): anything else is refused without a KV read. */
const KEY_SHAPE = /^sk-ler-[A-Za-z0-9_-]{43}$/;
/**
 * Unknown well-formed keys one client address may have this isolate look up in KV per
 * minute; past it, its next key this isolate does not know is a 429 with no read. A flood
 * of random keys thus costs at most this many KV reads per address, isolate and minute.
 */
const UNKNOWN_PER_ADDRESS = 30;
const UNKNOWN_WINDOW_MS = 60_000;
/** Client address (`throttle-policy.ts` subject) → its unknown keys in the current minute. */
const unknownFrom = new Map<string, { count: number; since: number }>();

/** Throws the 429 if `subject` has spent its unknown-key lookups for this minute. */
function checkUnknownAllowance(subject: string, now: number): void {
  const seen = unknownFrom.get(subject);
  if (!seen || seen.since + UNKNOWN_WINDOW_MS <= now || seen.count < UNKNOWN_PER_ADDRESS) return;
  throw attemptsThrottled(seen.since + UNKNOWN_WINDOW_MS - now, 'unknown API keys', 'api_key_attempts_throttled', ' with a valid key');
}

function countUnknown(subject: string, now: number): void {
  const seen = unknownFrom.get(subject);
  if (seen && seen.since + UNKNOWN_WINDOW_MS > now) seen.count++;
  else {
    if (unknownFrom.size >= MEMO_MAX) unknownFrom.clear();
    unknownFrom.set(subject, { count: 1, since: now });
  }
}

function rememberHash(token: string, hash: string): void {
  if (token.length > MEMO_TOKEN_MAX || hashes.has(token)) return;
  if (hashes.size >= MEMO_MAX) hashes.clear();
  hashes.set(token, hash);
}

/** Characters of presented keys the digest memo holds (tests: its memory stays bounded). */
export function digestMemoChars(): number {
  let chars = 0;
  for (const token of hashes.keys()) chars += token.length;
  return chars;
}

export const kvKey = {
  byHash: (hash: string) => `key:${hash}`,
  byId: (id: string) => `keyid:${id}`,
};

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
const encoder = new TextEncoder();

/** Runs on every authenticated request: a table lookup per byte, no array of strings. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
  let hex = '';
  for (const b of digest) hex += HEX[b];
  return hex;
}

export function generateKey(): string {
  return KEY_PREFIX + base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** The bearer token of a request, or null. */
export function bearerToken(request: Request): string | null {
  const header = request.headers.get('authorization');
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1] ?? null;
}

export interface AuthOptions {
  /** Also take the key from `x-api-key` (Anthropic callers: Claude Code sends either header). */
  xApiKey?: boolean;
}

/** Authenticate the caller; throws 401 for a missing, unknown or revoked key. */
export async function authenticate(request: Request, kv: KVNamespace, options: AuthOptions = {}): Promise<KeyRecord> {
  const token = bearerToken(request) ?? (options.xApiKey ? request.headers.get('x-api-key')?.trim() || null : null);
  if (!token) {
    const how = options.xApiKey ? "'x-api-key: <key>' or 'Authorization: Bearer <key>'" : "'Authorization: Bearer <key>'";
    throw new RouterError(401, `You didn't provide an API key. Send it as ${how}.`, {
      code: 'missing_api_key',
    });
  }
  // The key itself is never echoed, only a recognisable prefix of it.
  const incorrect = () => new RouterError(401, `Incorrect API key provided: ${token.slice(0, 10)}…`, { code: 'invalid_api_key' });
  // A key seen before (its hash remembered) is known to be well-formed: no test on the hot path.
  let hash = hashes.get(token);
  if (hash === undefined) {
    if (!KEY_SHAPE.test(token)) throw incorrect();
    hash = await sha256Hex(token);
  }
  const now = Date.now();
  const hit = memo.get(hash);
  let record = hit && hit.expires > now ? hit.record : (unknown.get(hash) ?? 0) > now ? null : undefined;
  if (record === undefined) {
    // A key this isolate does not know: a KV read, unless its address has spent its allowance.
    const subject = addressSubject(request.headers.get('cf-connecting-ip'));
    checkUnknownAllowance(subject, now);
    const parsed = KeyRecordSchema.safeParse(await kv.get(kvKey.byHash(hash), 'json'));
    record = parsed.success ? parsed.data : null;
    const into = record ? memo : unknown;
    if (into.size >= MEMO_MAX) into.clear();
    if (record) memo.set(hash, { record, expires: now + MEMO_MS });
    else {
      unknown.set(hash, now + NEGATIVE_MEMO_MS);
      countUnknown(subject, now);
    }
  }
  if (!record) throw incorrect();
  rememberHash(token, hash);
  return record;
}

export async function createKey(
  kv: KVNamespace,
  input: Pick<KeyRecord, 'name' | 'limits' | 'models'>,
): Promise<{ key: string; record: KeyRecord }> {
  const key = generateKey();
  const hash = await sha256Hex(key);
  const record: KeyRecord = {
    id: `key_${crypto.randomUUID().replace(/-/g, '').slice(0, 20)}`,
    name: input.name,
    prefix: key.slice(0, KEY_PREFIX.length + 4),
    createdAt: new Date().toISOString(),
    ...(input.limits ? { limits: input.limits } : {}),
    ...(input.models ? { models: input.models } : {}),
  };
  const metadata = JSON.stringify(record);
  if (new TextEncoder().encode(metadata).byteLength > METADATA_MAX_BYTES) {
    throw new RouterError(400, 'The key record is too large (name and model list must fit in 1024 bytes); list fewer models.', {
      code: 'invalid_request',
      param: 'models',
    });
  }
  await kv.put(kvKey.byHash(hash), metadata);
  // The record rides as metadata too, so a listing page is one `list` call, no `get` per key.
  await kv.put(kvKey.byId(record.id), JSON.stringify({ hash, record }), { metadata: record });
  return { key, record };
}

/** What a key id can look like (the router makes `key_` + 20 hex); anything else names no key. */
const KEY_ID = /^[\w-]{1,256}$/;

/** The key with this id, or null — for any id, however long or odd: one past KV's 512-byte key limit is not a 500. */
export async function getKeyById(kv: KVNamespace, id: string): Promise<{ hash: string; record: KeyRecord } | null> {
  if (!KEY_ID.test(id)) return null;
  return kv.get(kvKey.byId(id), 'json');
}

export interface KeyPage {
  data: KeyRecord[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/**
 * One page of keys: one KV `list` call, records read from each entry's metadata. Keys made
 * before metadata was written are read one by one (they are the only `get`s a page makes).
 */
export async function listKeys(kv: KVNamespace, options: { limit: number; cursor?: string | undefined }): Promise<KeyPage> {
  const page = await kv.list<KeyRecord>({ prefix: kvKey.byId(''), limit: options.limit, ...(options.cursor ? { cursor: options.cursor } : {}) });
  const data = await Promise.all(
    page.keys.map(async (k) => k.metadata ?? (await kv.get<{ record: KeyRecord }>(k.name, 'json'))?.record ?? null),
  );
  return { data: data.filter((r): r is KeyRecord => r !== null), nextCursor: page.list_complete ? null : page.cursor };
}

/** Revoke: both KV entries go, and this isolate forgets the key at once. */
export async function revokeKey(kv: KVNamespace, id: string): Promise<boolean> {
  const entry = await getKeyById(kv, id);
  if (!entry) return false;
  await kv.delete(kvKey.byHash(entry.hash));
  await kv.delete(kvKey.byId(id));
  memo.delete(entry.hash);
  return true;
}

onIsolateReset(() => {
  memo.clear();
  unknown.clear();
  hashes.clear();
  unknownFrom.clear();
});
