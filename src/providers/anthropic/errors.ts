/**
 * Anthropic errors (docs: "Errors") ↔ the router's outcomes and OpenAI's error shape.
 *
 * | status | Anthropic type          | router outcome                                  |
 * | 400    | invalid_request_error   | caller's error, returned at once                |
 * | 401    | authentication_error    | node fault (the node's key; callers' keys never go upstream) |
 * | 403    | permission_error        | node fault                                      |
 * | 402    | billing_error           | node fault (the node's account), caller sees 502 |
 * | 404    | not_found_error         | node fault (the path is fixed: the node's model name is wrong), 502 |
 * | 413    | request_too_large       | caller's error                                  |
 * | 429    | rate_limit_error        | rate limited: try another node                  |
 * | 500    | api_error               | node fault                                      |
 * | 529    | overloaded_error        | node fault; the caller sees 503                 |
 * Errors inside a 200 stream (`event: error`) carry only the type; its status is looked up.
 */
import { retryAfterMs } from '../../forward/outcome';
import { faultOfStatus as faultOf, openaiErrorType as openaiType } from '../openai/errors';
import type { MappedError } from '../types';
import { ErrorBody } from './wire';

export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'billing_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'overloaded_error';

const STATUS_OF: Record<AnthropicErrorType, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 529,
};

/** Anthropic error type for an HTTP status (what an Anthropic caller expects to see). */
export function anthropicTypeForStatus(status: number): AnthropicErrorType {
  switch (status) {
    case 400: return 'invalid_request_error';
    case 401: return 'authentication_error';
    case 402: return 'billing_error';
    case 403: return 'permission_error';
    case 404: return 'not_found_error';
    case 413: return 'request_too_large';
    case 429: return 'rate_limit_error';
    case 503:
    case 529: return 'overloaded_error';
    default: return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

function isKnown(type: string): type is AnthropicErrorType {
  return Object.hasOwn(STATUS_OF, type);
}

/**
 * An Anthropic error answer → what it means for the router and the OpenAI-shaped error the
 * caller sees. The upstream's message is kept for caller errors (it says what to fix) and
 * replaced for node faults (it would describe the node's credential or load, not the request).
 */
export function mapAnthropicError(status: number, headers: Headers, body: unknown): MappedError {
  const parsed = ErrorBody.safeParse(body);
  const type = parsed.success ? parsed.data.error.type : anthropicTypeForStatus(status);
  // 402/404 on the one fixed Messages path are the node's account or model mapping, not the request.
  const nodeConfig = status === 402 || status === 404;
  const fault = nodeConfig ? 'node' : faultOf(status);
  const callerStatus = status === 529 ? 503 : nodeConfig ? 502 : status;
  const message =
    fault === 'caller' && parsed.success
      ? parsed.data.error.message
      : fault === 'rate-limited'
        ? 'The upstream provider rate-limited this request.'
        : `The upstream provider failed (${type}).`;
  const after = retryAfterMs(headers);
  return {
    status: callerStatus,
    fault,
    ...(after !== undefined ? { retryAfterMs: after } : {}),
    body: { error: { message, type: openaiType(callerStatus), param: null, code: type } },
  };
}

/** An `event: error` inside a stream: its status from the type (unknown types are api errors). */
export function mapAnthropicStreamError(error: { type: string; message: string }): MappedError {
  const status = isKnown(error.type) ? STATUS_OF[error.type] : 500;
  return mapAnthropicError(status, new Headers(), { type: 'error', error });
}
