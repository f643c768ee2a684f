/**
 * The OpenAI-compatible adapter (today's behaviour, the default): `{baseUrl}{path}`,
 * `Authorization: Bearer`, no translation (bytes pass through, only the model spliced).
 */
import { retryAfterMs } from '../../forward/outcome';
import { ok, type CanonicalUsage, type ProviderAdapter } from '../types';
import { canonicalChatUsage, ChatUsage } from './chat-wire';
import { faultOfStatus, openaiErrorType } from './errors';

/** Canonical usage from an OpenAI-style answer's top-level `usage`, if well-formed. */
export function chatUsageOf(body: unknown): CanonicalUsage | undefined {
  const parsed = ChatUsage.safeParse((body as { usage?: unknown } | null)?.usage);
  if (!parsed.success) return undefined;
  return canonicalChatUsage(parsed.data);
}

export const openaiAdapter: ProviderAdapter = {
  name: 'openai',
  target: (node, _model, path) => ok(`${node.baseUrl}${path}`),
  authHeaders: (credential) => ({ authorization: `Bearer ${credential}` }),
  usage: chatUsageOf,
  mapError(status, headers, body) {
    const after = retryAfterMs(headers);
    const error = (body as { error?: { message?: unknown; type?: unknown; param?: unknown; code?: unknown } } | null)?.error;
    const s = (v: unknown): string | null => (typeof v === 'string' ? v : null);
    return {
      status,
      fault: faultOfStatus(status),
      ...(after !== undefined ? { retryAfterMs: after } : {}),
      body: { error: { message: s(error?.message) ?? `Upstream error (HTTP ${status}).`, type: s(error?.type) ?? openaiErrorType(status), param: s(error?.param), code: s(error?.code) } },
    };
  },
  probe: (node) => ({ url: `${node.baseUrl}/models`, method: 'GET' }),
};
