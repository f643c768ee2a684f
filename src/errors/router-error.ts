/**
 * The one error type of the router and the one place that turns it into a response.
 *
 * Every failure leaves as OpenAI's error shape `{"error":{"message","type","param","code"}}`
 * so the official SDKs raise their usual typed exceptions. Internal detail (stack traces,
 * secrets, raw exceptions) never reaches the message: callers build messages on purpose.
 */

/** Error `type` values, as OpenAI uses them (plus `server_error` for the router's own). */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'requests'
  | 'tokens'
  | 'insufficient_quota'
  | 'server_error';

export interface RouterErrorOptions {
  type?: ErrorType;
  code?: string | null;
  param?: string | null;
  /** Extra response headers (retry-after, x-should-retry, …). */
  headers?: Record<string, string>;
  /** Operator-only detail, appended to the message only on authenticated admin requests. */
  adminDetail?: string;
}

export class RouterError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly code: string | null;
  readonly param: string | null;
  readonly headers: Record<string, string>;
  readonly adminDetail: string | undefined;

  constructor(status: number, message: string, options: RouterErrorOptions = {}) {
    super(message);
    this.name = 'RouterError';
    this.status = status;
    this.type = options.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
    this.code = options.code ?? null;
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
    this.adminDetail = options.adminDetail;
  }
}

/** The OpenAI-shaped body for an error (also used inside SSE error events). */
export function errorBody(err: RouterError, forAdmin = false) {
  const message = forAdmin && err.adminDetail ? `${err.message} ${err.adminDetail}` : err.message;
  return { error: { message, type: err.type, param: err.param, code: err.code } };
}

/**
 * Build the response for any thrown value; unknown throwables become an opaque 500.
 * `headers`: what every answer on the request carries (its admission's rate-limit state, the
 * request id); the error's own headers win over them — a refusal's `x-ratelimit-*` and
 * `retry-after` are the window it saw, newer than the admission's.
 * `forAdmin`: the request carried a valid admin token, so operator detail may be shown.
 */
export function errorResponse(thrown: unknown, headers: Record<string, string> = {}, forAdmin = false): Response {
  const err =
    thrown instanceof RouterError
      ? thrown
      : new RouterError(500, 'The router failed to handle this request. It has been logged with its request id.', {
          code: 'internal_error',
        });
  return new Response(JSON.stringify(errorBody(err, forAdmin)), {
    status: err.status,
    headers: { 'content-type': 'application/json', ...headers, ...err.headers },
  });
}
