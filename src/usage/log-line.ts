/**
 * The request log line: whether a finished request gets one (`logging.*`), and its text.
 * Pure. Built field by field into one string, the same keys in the same order as ever, so
 * a request that is not sampled costs one comparison and one random number, and one that
 * is costs no object spread or generic `JSON.stringify` walk of a record.
 */
import type { LoggingConfig } from '../config/schema';
import type { RequestRecord } from './request-log';

/**
 * Errors (status ≥ 400) and slow requests (first byte after `slowMs`) always; the rest with
 * probability `successSampleRate`. `random` is `Math.random` outside tests.
 */
export function shouldLog(r: Pick<RequestRecord, 'status' | 'ttfbMs'>, logging: LoggingConfig, random: () => number = Math.random): boolean {
  if (r.status >= 400 || r.ttfbMs >= logging.slowMs) return true;
  const rate = logging.successSampleRate;
  return rate >= 1 || (rate > 0 && random() < rate);
}

const text = (v: string | null) => (v === null ? 'null' : JSON.stringify(v));
/** JSON has no NaN or Infinity: they are written as null, as `JSON.stringify` would. */
const num = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? 'null' : String(v));

/**
 * `{"event":"request","requestId",…,"costUsd"}` (README "Request log"). Strings go through
 * `JSON.stringify` (a request id can come from the caller); numbers are numbers or null.
 */
export function requestLogLine(r: RequestRecord, costUsd: number | null): string {
  const u = r.usage;
  return (
    `{"event":"request","requestId":${text(r.requestId)},"keyId":${text(r.keyId)},"model":${text(r.model)}` +
    `,"answeredModel":${text(r.answeredModel)},"node":${text(r.node)},"colo":${text(r.colo)},"endpoint":${text(r.endpoint)}` +
    `,"attempts":${num(r.attempts)},"status":${num(r.status)},"ttfbMs":${num(r.ttfbMs)},"durationMs":${num(r.durationMs)}` +
    `,"promptTokens":${num(u?.prompt_tokens)},"cachedTokens":${num(u?.cached_tokens)},"completionTokens":${num(u?.completion_tokens)}` +
    `,"costUsd":${num(costUsd)}}`
  );
}
