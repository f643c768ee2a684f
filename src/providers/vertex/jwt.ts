/**
 * The OAuth 2.0 JWT bearer assertion a service account signs (RFC 7523; Google "Using OAuth
 * 2.0 for Server to Server Applications" → "Preparing to make an authorized API call"):
 * header `{alg:"RS256",typ:"JWT",kid}`, claims `{iss: client_email, scope, aud: token_uri,
 * iat, exp ≤ iat + 3600}`, signed RSASSA-PKCS1-v1_5 with SHA-256 through WebCrypto.
 */
import type { ServiceAccount } from './service-account';

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
/** Google accepts assertions valid for at most an hour. */
export const ASSERTION_LIFETIME_S = 3600;

function base64url(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]!);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const utf8 = (s: string) => new TextEncoder().encode(s);

function pemBody(pem: string): Uint8Array {
  const b64 = pem.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, '').replace(/\s+/g, '');
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The private key as a WebCrypto signing key (PKCS #8, as Google's key files hold it). */
export function importServiceAccountKey(sa: ServiceAccount): Promise<CryptoKey> {
  return crypto.subtle.importKey('pkcs8', pemBody(sa.private_key), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
}

/** A signed assertion for `sa`, issued at `nowS` (epoch seconds). */
export async function signAssertion(sa: ServiceAccount, key: CryptoKey, nowS: number, scope = CLOUD_PLATFORM_SCOPE): Promise<string> {
  const header = base64url(utf8(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: sa.private_key_id })));
  const claims = base64url(utf8(JSON.stringify({ iss: sa.client_email, scope, aud: sa.token_uri, iat: nowS, exp: nowS + ASSERTION_LIFETIME_S })));
  const input = `${header}.${claims}`;
  const signature = new Uint8Array(await crypto.subtle.sign('RSASSA-PKCS1-v1_5', key, utf8(input)));
  return `${input}.${base64url(signature)}`;
}
