/**
 * Node credentials beyond one Bearer secret (issue 21): Bedrock's access key id, secret and
 * optional session token (or a Bedrock API key in `apiKeyEnv`), Vertex's service-account key
 * file. They are read from the Worker's secrets the node's config names and handed to the
 * adapter as one string, as every other credential is; nothing here is ever logged or shown.
 *
 * `CredentialError`: an adapter could not turn its credential into headers (a Vertex token
 * mint failed). The attempt is skipped as the node's fault, with the reason in the request
 * log and, from probes, in `/admin/status`.
 */
import type { NodeConfig } from '../config/schema';

export class CredentialError extends Error {
  override name = 'CredentialError';
}

const read = (env: Record<string, unknown>, name: string | undefined) => (name && typeof env[name] === 'string' && env[name] !== '' ? (env[name] as string) : undefined);

/** The credential of a Bedrock or Vertex node; undefined for other providers (their `apiKeyEnv` applies). */
export function cloudCredential(node: NodeConfig, env: Record<string, unknown>): { credential?: string; missing?: string } | undefined {
  if (node.provider === 'vertex') {
    const name = node.vertex?.serviceAccountEnv;
    if (!name) return {};
    const json = read(env, name);
    return json ? { credential: json } : { missing: name };
  }
  if (node.provider === 'bedrock' && node.bedrock?.accessKeyIdEnv) {
    const { accessKeyIdEnv, secretAccessKeyEnv, sessionTokenEnv } = node.bedrock;
    const accessKeyId = read(env, accessKeyIdEnv);
    const secretAccessKey = read(env, secretAccessKeyEnv);
    if (!accessKeyId) return { missing: accessKeyIdEnv };
    if (!secretAccessKey) return { missing: secretAccessKeyEnv };
    const sessionToken = read(env, sessionTokenEnv);
    if (sessionTokenEnv && !sessionToken) return { missing: sessionTokenEnv };
    return { credential: JSON.stringify({ accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) }) };
  }
  return undefined;
}
