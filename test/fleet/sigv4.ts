/**
 * An independent AWS Signature Version 4 verifier for the simulated Bedrock node, written
 * from the AWS spec ("Create a signed AWS API request": canonical request, string to sign,
 * derived signing key) with `node:crypto` — not with the router's signer (`aws4fetch`), so
 * a signing mistake on either side fails the tests instead of agreeing with itself.
 *
 * Checks: the Authorization header's form; credential scope `{date}/{region}/{service}/aws4_request`
 * with the node's region and service and the date of `x-amz-date`; `x-amz-date` within
 * 5 minutes of the node's clock; `host` and `x-amz-date` signed (and `x-amz-security-token`
 * when the key needs one, with the right value); the signature over the exact body bytes.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';

export interface AwsKey {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials: requests must carry this `x-amz-security-token`. */
  sessionToken?: string;
}

export type SigV4Verdict = { ok: true; accessKeyId: string } | { ok: false; name: 'IncompleteSignatureException' | 'InvalidSignatureException' | 'UnrecognizedClientException' | 'ExpiredTokenException'; message: string };

const MAX_SKEW_MS = 5 * 60_000;

/** RFC 3986 percent-encoding as SigV4 specifies it (unreserved characters kept). */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Canonical URI: each segment of the path as sent, encoded once more (non-S3 services). */
function canonicalUri(rawPath: string): string {
  return rawPath.split('/').map(uriEncode).join('/') || '/';
}

function canonicalQuery(rawQuery: string): string {
  if (!rawQuery) return '';
  return rawQuery
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const i = pair.indexOf('=');
      const k = i < 0 ? pair : pair.slice(0, i);
      const v = i < 0 ? '' : pair.slice(i + 1);
      return [uriEncode(safeDecode(k)), uriEncode(safeDecode(v))] as const;
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
const sha256hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** `20250101T000000Z` → epoch ms, or NaN. */
function amzDateMs(v: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : NaN;
}

export function verifySigV4(
  req: http.IncomingMessage,
  body: Buffer,
  expect: { region: string; service: string; keys: AwsKey[]; nowMs: number },
): SigV4Verdict {
  const auth = String(req.headers.authorization ?? '');
  const m = /^AWS4-HMAC-SHA256 Credential=([^/\s]+)\/(\d{8})\/([^/\s]+)\/([^/\s]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { ok: false, name: 'IncompleteSignatureException', message: 'Authorization header is not a SigV4 signature' };
  const [, akid, date, region, service, signedHeaderList, signature] = m as unknown as [string, string, string, string, string, string, string];
  const key = expect.keys.find((k) => k.accessKeyId === akid);
  if (!key) return { ok: false, name: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const at = amzDateMs(amzDate);
  if (Number.isNaN(at)) return { ok: false, name: 'IncompleteSignatureException', message: 'x-amz-date missing or malformed' };
  if (Math.abs(expect.nowMs - at) > MAX_SKEW_MS) return { ok: false, name: 'InvalidSignatureException', message: 'Signature expired: x-amz-date is more than 5 minutes from the server time' };
  if (date !== amzDate.slice(0, 8)) return { ok: false, name: 'InvalidSignatureException', message: 'credential scope date does not match x-amz-date' };
  if (region !== expect.region) return { ok: false, name: 'InvalidSignatureException', message: `credential should be scoped to a valid region (expected ${expect.region})` };
  if (service !== expect.service) return { ok: false, name: 'InvalidSignatureException', message: `credential should be scoped to correct service: '${expect.service}'` };
  const signed = signedHeaderList.split(';');
  if (!signed.includes('host') || !signed.includes('x-amz-date')) return { ok: false, name: 'IncompleteSignatureException', message: 'host and x-amz-date must be signed' };
  if (key.sessionToken !== undefined) {
    if (req.headers['x-amz-security-token'] !== key.sessionToken) return { ok: false, name: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
    if (!signed.includes('x-amz-security-token')) return { ok: false, name: 'IncompleteSignatureException', message: 'x-amz-security-token must be signed' };
  }
  const [rawPath = '/', rawQuery = ''] = (req.url ?? '/').split('?', 2) as [string, string?];
  const headerLines = signed.map((name) => {
    const v = req.headers[name];
    const value = (Array.isArray(v) ? v.join(',') : String(v ?? '')).trim().replace(/\s+/g, ' ');
    return `${name}:${value}\n`;
  });
  const canonicalRequest = [req.method ?? 'GET', canonicalUri(rawPath), canonicalQuery(rawQuery), headerLines.join(''), signedHeaderList, sha256hex(body)].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonicalRequest)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${key.secretAccessKey}`, date), region), service), 'aws4_request');
  const expected = createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest();
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, name: 'InvalidSignatureException', message: 'The request signature we calculated does not match the signature you provided.' };
  return { ok: true, accessKeyId: akid };
}
