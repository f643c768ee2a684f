/**
 * Azure OpenAI error answers and rate-limit headers → the router's outcomes.
 *
 * - 429 (quota): rate limited; the delay from `retry-after-ms` (Azure sends it, as OpenAI
 *   does), else `retry-after`.
 * - 400 with `code: "content_filter"` (or `innererror.code: "ResponsibleAIPolicyViolation"`):
 *   the prompt was filtered — the caller's, returned with its code and filter detail.
 *   (A filtered *answer* is a 200 with `finish_reason: "content_filter"` and passes through.)
 * - 404 `DeploymentNotFound`: the node's configuration is wrong, not the caller's request:
 *   a node fault, shown to the caller as 502 if it is the last word.
 * - 401/403/408/5xx node faults; other 4xx the caller's.
 * Azure error bodies often lack `type`/`param` and use numeric-string codes (`"429"`); they
 * are completed into OpenAI's shape.
 */
import { retryAfterMs } from '../../forward/outcome';
import { faultOfStatus, openaiErrorType } from '../openai/errors';
import type { MappedError } from '../types';

export interface AzureRateLimit {
  remainingRequests?: number;
  remainingTokens?: number;
  retryAfterMs?: number;
}

function count(headers: Headers, name: string): number | undefined {
  const raw = headers.get(name);
  if (raw === null || raw.trim() === '') return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Azure's quota headers (`x-ratelimit-remaining-requests`/`-tokens`, `retry-after-ms`). */
export function azureRateLimit(headers: Headers): AzureRateLimit {
  const out: AzureRateLimit = {};
  const requests = count(headers, 'x-ratelimit-remaining-requests');
  const tokens = count(headers, 'x-ratelimit-remaining-tokens');
  const after = retryAfterMs(headers);
  if (requests !== undefined) out.remainingRequests = requests;
  if (tokens !== undefined) out.remainingTokens = tokens;
  if (after !== undefined) out.retryAfterMs = after;
  return out;
}

interface AzureErrorShape {
  error?: { message?: unknown; type?: unknown; param?: unknown; code?: unknown; innererror?: { code?: unknown } & Record<string, unknown> };
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : null);

export function mapAzureError(status: number, headers: Headers, body: unknown): MappedError {
  const error = (body as AzureErrorShape | null)?.error;
  const code = str(error?.code);
  const inner = error?.innererror;
  const filtered = status === 400 && (code === 'content_filter' || inner?.code === 'ResponsibleAIPolicyViolation');
  const missingDeployment = status === 404 && code === 'DeploymentNotFound';
  const fault = missingDeployment ? 'node' : faultOfStatus(status);
  const callerStatus = missingDeployment ? 502 : status;
  const upstreamMessage = str(error?.message);
  const message =
    fault === 'caller' && upstreamMessage
      ? upstreamMessage
      : fault === 'rate-limited'
        ? 'The upstream provider rate-limited this request.'
        : `The upstream provider failed (HTTP ${status}${code ? `, ${code}` : ''}).`;
  const after = retryAfterMs(headers);
  return {
    status: callerStatus,
    fault,
    ...(after !== undefined ? { retryAfterMs: after } : {}),
    body: {
      error: {
        message,
        type: str(error?.type) ?? openaiErrorType(callerStatus),
        param: str(error?.param),
        code: filtered ? 'content_filter' : code,
        // The filter's verdict per category tells the caller what to change.
        ...(filtered && inner ? { innererror: inner } : {}),
      },
    },
  };
}
