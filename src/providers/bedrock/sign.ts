/**
 * Bedrock request authentication: AWS Signature Version 4 with `aws4fetch` (made for
 * Workers: WebCrypto, no Node APIs), or a Bedrock API key sent as a Bearer token
 * (AWS "Bedrock API keys", the `AWS_BEARER_TOKEN_BEDROCK` credential).
 *
 * SigV4 signs the exact body bytes that will be sent (the `x-amz-content-sha256`-free
 * form Bedrock uses: the payload hash is inside the canonical request), the host, the
 * date and — with temporary credentials — `x-amz-security-token`. The signing name of
 * both `bedrock-runtime` (inference) and `bedrock` (control plane) is `bedrock`.
 */
import { AwsV4Signer } from 'aws4fetch';

/** The SigV4 service name Bedrock's endpoints are signed for. */
export const BEDROCK_SIGNING_NAME = 'bedrock';

export type BedrockCredentials =
  | { kind: 'sigv4'; accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  | { kind: 'apiKey'; apiKey: string };

export interface SignOptions {
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  /** The exact bytes that will be sent (signed by hash); omit for GET. */
  body?: Uint8Array | string;
  /** Headers that travel with the request and are signed (content-type, accept). */
  headers?: Record<string, string>;
  region: string;
  credentials: BedrockCredentials;
  /** `YYYYMMDD'T'HHMMSS'Z'`; defaults to now (tests inject it). */
  datetime?: string;
}

/** Headers to send: the given ones plus the credential (Authorization, X-Amz-Date, token). */
export async function bedrockAuthHeaders(opts: SignOptions): Promise<Record<string, string>> {
  const base = { ...(opts.headers ?? {}) };
  if (opts.credentials.kind === 'apiKey') return { ...base, authorization: `Bearer ${opts.credentials.apiKey}` };
  const signer = new AwsV4Signer({
    method: opts.method,
    url: opts.url,
    headers: base,
    body: opts.body ?? null,
    accessKeyId: opts.credentials.accessKeyId,
    secretAccessKey: opts.credentials.secretAccessKey,
    ...(opts.credentials.sessionToken ? { sessionToken: opts.credentials.sessionToken } : {}),
    service: BEDROCK_SIGNING_NAME,
    region: opts.region,
    ...(opts.datetime ? { datetime: opts.datetime } : {}),
  });
  const signed = await signer.sign();
  const out: Record<string, string> = {};
  signed.headers.forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

/**
 * Credentials from the Worker's secrets, named by the node's config. A Bedrock API key wins
 * when its secret is set; otherwise both access key id and secret are needed.
 * Returns a reason (never the secret) when they are missing.
 */
export function bedrockCredentials(
  env: Record<string, unknown>,
  names: { accessKeyIdEnv?: string; secretAccessKeyEnv?: string; sessionTokenEnv?: string; apiKeyEnv?: string },
): { ok: true; value: BedrockCredentials } | { ok: false; reason: string } {
  const read = (name: string | undefined) => (name && typeof env[name] === 'string' && env[name] !== '' ? (env[name] as string) : undefined);
  const apiKey = read(names.apiKeyEnv);
  if (apiKey) return { ok: true, value: { kind: 'apiKey', apiKey } };
  const accessKeyId = read(names.accessKeyIdEnv);
  const secretAccessKey = read(names.secretAccessKeyEnv);
  if (!accessKeyId || !secretAccessKey) {
    const missing = [names.apiKeyEnv, names.accessKeyIdEnv, names.secretAccessKeyEnv].filter((n) => n && !read(n));
    return { ok: false, reason: `Bedrock credentials missing: secret(s) ${missing.join(', ') || '(none configured)'} not set` };
  }
  const sessionToken = read(names.sessionTokenEnv);
  return { ok: true, value: { kind: 'sigv4', accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } };
}
