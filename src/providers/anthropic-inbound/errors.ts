/**
 * Errors for an Anthropic-format caller: an OpenAI-shaped error (the router's own, or an
 * OpenAI node's) → Anthropic's `{"type":"error","error":{"type","message"}}`, its type chosen
 * by HTTP status as Anthropic's docs ("Errors") list them; and a translation failure → the
 * 400 such a caller sees.
 */
import { anthropicTypeForStatus, type AnthropicErrorType } from '../anthropic/errors';
import type { TranslationFailure } from '../types';

export interface AnthropicErrorOut {
  type: 'error';
  error: { type: AnthropicErrorType; message: string };
}

/** Status and body for an Anthropic caller (503 from the router reads as `overloaded_error`). */
export function openaiErrorToAnthropic(status: number, body: unknown): AnthropicErrorOut {
  const error = (body as { error?: { message?: unknown } } | null)?.error;
  const message = typeof error?.message === 'string' && error.message.length > 0 ? error.message : `Upstream error (HTTP ${status}).`;
  return { type: 'error', error: { type: anthropicTypeForStatus(status), message } };
}

/** A request that could not be translated: a 400 `invalid_request_error` naming the field. */
export function translationFailureToAnthropic(failure: TranslationFailure): { status: 400; body: AnthropicErrorOut } {
  const where = failure.param ? ` (${failure.param})` : '';
  return { status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message: `${failure.message}${where}` } } };
}
