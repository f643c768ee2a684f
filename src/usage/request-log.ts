/**
 * One record per request, when it is over (the last byte delivered, or the client gone):
 * a JSON line for Workers Logs (`[observability]` in wrangler.toml; every error and slow
 * request, a `logging.successSampleRate` share of the rest: `log-line.ts`), the same fields as an
 * Analytics Engine data point (binding `REQUEST_EVENTS`; absent locally, then skipped), and
 * its counts in this isolate's rollup batch. It names the key by id, never by its secret,
 * and carries no prompt, answer or upstream text.
 */
import type { RouterConfig } from '../config/schema';
import type { Usage } from '../forward/usage';
import { costOf, type RequestUnits } from './cost';
import { requestLogLine, shouldLog } from './log-line';
import { addToRollup } from './rollup-batch';

export interface RequestRecord {
  requestId: string;
  keyId: string;
  /** The model asked for (canonical id). */
  model: string;
  /** The model and node that answered; null when none did. */
  answeredModel: string | null;
  node: string | null;
  colo: string | null;
  endpoint: string;
  attempts: number;
  status: number;
  /** Until the response started (a stream's first byte). */
  ttfbMs: number;
  /** Until its last byte. */
  durationMs: number;
  usage?: Usage | undefined;
  /** What per-request prices count (images, speech characters, audio minutes), for an answer that succeeded; not logged. */
  units?: RequestUnits | undefined;
}

/** The Analytics Engine dataset, when bound (production). */
interface EventsBinding {
  REQUEST_EVENTS?: { writeDataPoint(point: { indexes?: string[]; blobs?: (string | null)[]; doubles?: number[] }): void };
}

/** Log, write and roll up one request; what it cost (USD, null when unknown). */
export function recordRequest(env: EventsBinding, config: RouterConfig, r: RequestRecord, now: number): number | null {
  const cost = r.answeredModel && r.node ? costOf(config, r.answeredModel, r.node, r.usage, r.status < 400 ? r.units : undefined) : null;
  // The line only when sampled (`logging.*`); the data point and the rollup count every request.
  if (shouldLog(r, config.logging)) console.log(requestLogLine(r, cost));
  env.REQUEST_EVENTS?.writeDataPoint({
    indexes: [r.keyId],
    blobs: [r.requestId, r.keyId, r.model, r.answeredModel, r.node, r.colo, r.endpoint],
    doubles: [r.status, r.attempts, r.ttfbMs, r.durationMs, r.usage?.prompt_tokens ?? 0, r.usage?.cached_tokens ?? 0, r.usage?.completion_tokens ?? 0, cost ?? -1],
  });
  // In the hour the request started, not the one its last byte left: a budget counts a request
  // in the day it was admitted, and a stream that crosses midnight must land in the same day here.
  const started = now - (Number.isFinite(r.durationMs) ? Math.max(0, r.durationMs) : 0);
  addToRollup({ at: started, key: r.keyId, model: r.answeredModel ?? r.model, node: r.node ?? '-', error: r.status >= 400, usage: r.usage, cost });
  return cost;
}
