/**
 * A translation failure as the error an OpenAI-format caller sees: 400,
 * `invalid_request_error`, the failing field as `param` and the reason as `code`.
 */
import type { OpenAIErrorBody, TranslationFailure } from '../types';

export function translationFailureToOpenAI(failure: TranslationFailure): { status: 400; body: OpenAIErrorBody } {
  return { status: 400, body: { error: { message: failure.message, type: 'invalid_request_error', param: failure.param, code: failure.reason } } };
}

/** OpenAI `error.type` for an HTTP status, as the router's own errors use them. */
export function openaiErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'requests';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}

/** What an error status means for the router (as `forward/outcome.ts` classifies OpenAI nodes). */
export function faultOfStatus(status: number): 'caller' | 'node' | 'rate-limited' {
  if (status === 429) return 'rate-limited';
  if (status === 401 || status === 403 || status === 408 || status >= 500) return 'node';
  return 'caller';
}
