/**
 * Bedrock errors (Runtime API reference, "Errors" of `Converse` / `InvokeModel`, and the
 * exception events of `ConverseStream`) → the router's outcomes and OpenAI's error shape.
 * The error's name comes from the `x-amzn-ErrorType` header (`Name:namespace…`), else the
 * body's `__type`, else the status.
 *
 * | name                                   | status | router outcome                                     |
 * | ValidationException                    | 400    | caller's error (message kept: it says what to fix) |
 * | ThrottlingException                    | 429    | rate limited: try another node, cool this one down |
 * | ServiceQuotaExceededException          | 400/429| rate limited (the account's quota)                 |
 * | ModelNotReadyException                 | 429    | node fault (the model is not loaded in that region)|
 * | ModelTimeoutException, ModelErrorException, ModelStreamErrorException | 408/424 | node fault |
 * | AccessDeniedException, UnrecognizedClientException, InvalidSignatureException, ExpiredTokenException | 403 | node fault (the node's credential) |
 * | ResourceNotFoundException              | 404    | node fault (the node's model mapping), caller sees 502 |
 * | InternalServerException, ServiceUnavailableException, other 5xx | 500/503 | node fault |
 * Node faults never show the upstream message (it describes the node's account).
 */
import { retryAfterMs } from '../../forward/outcome';
import { faultOfStatus, openaiErrorType } from '../openai/errors';
import type { ErrorFault, MappedError } from '../types';

/** Cooldown after a throttle when Bedrock names no delay (it never sends Retry-After). */
export const BEDROCK_THROTTLE_COOLDOWN_MS = 5_000;

const NODE_FAULTS = new Set([
  'ModelNotReadyException',
  'ModelTimeoutException',
  'ModelErrorException',
  'ModelStreamErrorException',
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'ExpiredTokenException',
  'ResourceNotFoundException',
  'InternalServerException',
  'ServiceUnavailableException',
]);
const RATE_LIMITED = new Set(['ThrottlingException', 'ServiceQuotaExceededException', 'TooManyRequestsException']);
const CALLER = new Set(['ValidationException', 'SerializationException']);

/** The error's name: `x-amzn-ErrorType: ThrottlingException:http://…` → `ThrottlingException`. */
export function bedrockErrorName(headers: Headers, body: unknown): string | undefined {
  const header = headers.get('x-amzn-errortype');
  if (header) return header.split(':')[0]!.trim();
  const t = (body as { __type?: unknown } | null)?.__type;
  return typeof t === 'string' ? t.split('#').at(-1) : undefined;
}

function messageOf(body: unknown): string | undefined {
  const b = body as { message?: unknown; Message?: unknown } | null;
  const m = b?.message ?? b?.Message;
  return typeof m === 'string' ? m : undefined;
}

/** Exception names are PascalCase over HTTP and camelCase in event streams. */
function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function faultOf(name: string | undefined, status: number): ErrorFault {
  if (name && RATE_LIMITED.has(name)) return 'rate-limited';
  if (name && NODE_FAULTS.has(name)) return 'node';
  if (name && CALLER.has(name)) return 'caller';
  return faultOfStatus(status);
}

export function mapBedrockError(status: number, headers: Headers, body: unknown): MappedError {
  const name = bedrockErrorName(headers, body);
  const fault = faultOf(name, status);
  const callerStatus = fault === 'node' ? (status === 503 || name === 'ServiceUnavailableException' ? 503 : 502) : fault === 'rate-limited' ? 429 : status;
  const message =
    fault === 'caller'
      ? (messageOf(body) ?? 'The upstream provider refused the request.')
      : fault === 'rate-limited'
        ? 'The upstream provider rate-limited this request.'
        : `The upstream provider failed (${name ?? status}).`;
  const after = fault === 'rate-limited' ? (retryAfterMs(headers) ?? BEDROCK_THROTTLE_COOLDOWN_MS) : undefined;
  return {
    status: callerStatus,
    fault,
    ...(after !== undefined ? { retryAfterMs: after } : {}),
    body: { error: { message, type: openaiErrorType(callerStatus), param: null, code: name ?? null } },
  };
}

/** A stream the router cannot read (corrupt frame, unparsable payload, cut short): the node's fault, 502. */
export function mapBedrockMalformedStream(what: string): MappedError {
  return mapBedrockError(502, new Headers({ 'x-amzn-errortype': 'ModelStreamErrorException' }), { message: what });
}

/** Status Bedrock documents for each exception that can arrive inside a stream. */
const STREAM_STATUS: Record<string, number> = {
  ThrottlingException: 429,
  ServiceUnavailableException: 503,
  ValidationException: 400,
  ModelStreamErrorException: 424,
  InternalServerException: 500,
};

/** An exception frame inside a ConverseStream / InvokeModelWithResponseStream (`:exception-type`). */
export function mapBedrockStreamException(type: string, body: unknown): MappedError {
  const name = pascal(type);
  return mapBedrockError(STREAM_STATUS[name] ?? 500, new Headers({ 'x-amzn-errortype': name }), body);
}
