/**
 * API keys: generated here, shown once, stored only as a SHA-256 hash in KV.
 *
 * Keys are 32 random bytes, so a fast hash is enough (no password stretching needed: there
 * is nothing to brute-force). Lookups are memoised in the isolate for `MEMO_MS` to keep KV
 * off the hot path; revocation clears the memo in the isolate that revoked, and reaches
 * other isolates within `MEMO_MS` plus KV's own propagation (≈60 s). See storage-schema.md.
 */
import { z } from 'zod';
import { RouterError } from '../errors/router-error';
import { LimitsSchema } from '../config/schema';

export const KeyRecordSchema = z.object({
  id: z.string(),
  name: z.string(),
  /** First characters of the key, for recognising it in listings. */
  prefix: z.string(),
  createdAt: z.string(),
  limits: LimitsSchema.optional(),
  /** If set, the only model ids (or aliases) this key may call. */
  models: z.array(z.string()).optional(),
});
export type KeyRecord = z.infer<typeof KeyRecordSchema>;

const KEY_PREFIX = 'sk-ler-';
const MEMO_MS = 10_000;
const MEMO_MAX = 10_000;
const memo = new Map<string, { record: KeyRecord; expires: number }>();

export const kvKey = {
  byHash: (hash: string) => `key:${hash}`,
  byId: (id: string) => `keyid:${id}`,
};

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
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

/** Authenticate the caller; throws 401 for a missing, unknown or revoked key. */
export async function authenticate(request: Request, kv: KVNamespace): Promise<KeyRecord & { hash: string }> {
  const token = bearerToken(request);
  if (!token) {
    throw new RouterError(401, "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.", {
      code: 'missing_api_key',
    });
  }
  const hash = await sha256Hex(token);
  const now = Date.now();
  const hit = memo.get(hash);
  if (hit && hit.expires > now) return { ...hit.record, hash };
  const stored = await kv.get(kvKey.byHash(hash), 'json');
  const parsed = KeyRecordSchema.safeParse(stored);
  if (!parsed.success) {
    // The key itself is never echoed, only a recognisable prefix of it.
    throw new RouterError(401, `Incorrect API key provided: ${token.slice(0, 10)}…`, { code: 'invalid_api_key' });
  }
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(hash, { record: parsed.data, expires: now + MEMO_MS });
  return { ...parsed.data, hash };
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
  await kv.put(kvKey.byHash(hash), JSON.stringify(record));
  await kv.put(kvKey.byId(record.id), JSON.stringify({ hash, record }));
  return { key, record };
}

export async function getKeyById(kv: KVNamespace, id: string): Promise<{ hash: string; record: KeyRecord } | null> {
  return kv.get(kvKey.byId(id), 'json');
}

export async function listKeys(kv: KVNamespace): Promise<KeyRecord[]> {
  const records: KeyRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await kv.list({ prefix: kvKey.byId(''), cursor });
    const entries = await Promise.all(page.keys.map((k) => kv.get<{ record: KeyRecord }>(k.name, 'json')));
    for (const e of entries) if (e) records.push(e.record);
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return records;
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

/** Test hook: forget memoised keys. */
export function clearKeyMemo(): void {
  memo.clear();
}
