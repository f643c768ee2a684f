/**
 * Vertex AI errors → the router's outcomes. Google APIs answer
 * `{"error":{"code","message","status"}}` (AIP-193; the OpenAI-compatible endpoint sometimes
 * wraps it in a one-element array); Claude's rawPredict answers Anthropic's own error body.
 *
 * | status | Google status                       | outcome                                        |
 * | 400    | INVALID_ARGUMENT, FAILED_PRECONDITION | caller's error (message kept)                 |
 * | 401/403| UNAUTHENTICATED, PERMISSION_DENIED  | node fault (the node's token or project)       |
 * | 404    | NOT_FOUND                           | node fault (model not in that region/project), 502 |
 * | 429    | RESOURCE_EXHAUSTED                  | rate limited (quota), cooldown                 |
 * | 5xx    | INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED | node fault                                |
 * A token that cannot be minted never reaches Vertex: `tokenFailure` is the node fault the
 * router records (its reason shows in `/admin/status`), and the caller only ever sees a
 * generic 502 if no other node answers.
 */
import { retryAfterMs } from '../../forward/outcome';
import { mapAnthropicError } from '../anthropic/errors';
import { faultOfStatus, openaiErrorType } from '../openai/errors';
import type { MappedError } from '../types';

/** Cooldown after a 429 that names no delay (Vertex quota errors rarely do). */
export const VERTEX_QUOTA_COOLDOWN_MS = 5_000;

function googleError(body: unknown): { message?: string; status?: string } | undefined {
  const b = Array.isArray(body) ? body[0] : body;
  const e = (b as { error?: unknown } | null)?.error;
  if (!e || typeof e !== 'object') return undefined;
  const { message, status } = e as { message?: unknown; status?: unknown };
  return { ...(typeof message === 'string' ? { message } : {}), ...(typeof status === 'string' ? { status } : {}) };
}

export function mapVertexError(status: number, headers: Headers, body: unknown): MappedError {
  if ((body as { type?: unknown } | null)?.type === 'error') {
    const mapped = mapAnthropicError(status, headers, body);
    return mapped.fault === 'rate-limited' && mapped.retryAfterMs === undefined ? { ...mapped, retryAfterMs: VERTEX_QUOTA_COOLDOWN_MS } : mapped;
  }
  const g = googleError(body);
  const fault = status === 404 ? 'node' : faultOfStatus(status);
  const callerStatus = fault === 'node' ? (status === 503 ? 503 : 502) : status;
  const message =
    fault === 'caller' ? (g?.message ?? 'The upstream provider refused the request.') : fault === 'rate-limited' ? 'The upstream provider rate-limited this request.' : `The upstream provider failed (${g?.status ?? status}).`;
  const after = fault === 'rate-limited' ? (retryAfterMs(headers) ?? VERTEX_QUOTA_COOLDOWN_MS) : undefined;
  return {
    status: callerStatus,
    fault,
    ...(after !== undefined ? { retryAfterMs: after } : {}),
    body: { error: { message, type: openaiErrorType(callerStatus), param: null, code: g?.status ?? null } },
  };
}

/** A token that could not be minted: a node fault; `reason` is for the operator, not the caller. */
export function tokenFailure(reason: string): MappedError & { reason: string } {
  return {
    status: 502,
    fault: 'node',
    reason: `Vertex token: ${reason}`,
    body: { error: { message: 'The upstream provider failed (credential).', type: 'server_error', param: null, code: 'upstream_credential' } },
  };
}
