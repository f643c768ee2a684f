/**
 * Limiter arithmetic, pure: a sliding log over the last minute, and concurrency leases.
 *
 * Why a log and not GCRA/token bucket: a bucket of size L refilled at L/min admits up to
 * ~2L in the first rolling minute (a full burst, then the refill). The log admits a request
 * of cost c at time t iff  Σ{cost(e) : e.at > t − W} + c ≤ L  — so no window of length W,
 * wherever it starts, ever holds more than L. Cost is 1 per request for RPM and the token
 * reservation for TPM (replaced by the real usage on settle). Memory is one entry per
 * admitted request in the window, which is bounded by the RPM limit itself.
 */

export const WINDOW_MS = 60_000;

export interface LogEntry {
  id: string;
  at: number;
  tokens: number;
}

export interface LimitSet {
  rpm?: number | undefined;
  tpm?: number | undefined;
  concurrency?: number | undefined;
}

export interface WindowState {
  limit: number;
  remaining: number;
  /** Ms until the window holds nothing (OpenAI's "reset to its initial state"). */
  resetMs: number;
}

export interface Snapshot {
  requests?: WindowState;
  tokens?: WindowState;
  concurrency?: { limit: number; inFlight: number };
}

export type Decision =
  | { ok: true; snapshot: Snapshot }
  | { ok: false; limit: 'requests' | 'tokens' | 'concurrency'; retryAfterMs: number; used: number; max: number; snapshot: Snapshot };

/** Entries still inside the window ending at `now` (the log is kept in time order). */
export function live(log: readonly LogEntry[], now: number): LogEntry[] {
  const from = now - WINDOW_MS;
  let i = 0;
  while (i < log.length && log[i]!.at <= from) i++;
  return i === 0 ? (log as LogEntry[]) : log.slice(i);
}

/** Ms until enough of the window expires that `need` more fits under `limit`. */
function waitFor(log: readonly LogEntry[], cost: (e: LogEntry) => number, used: number, need: number, limit: number, now: number): number {
  let freed = 0;
  for (const e of log) {
    freed += cost(e);
    if (used - freed + need <= limit) return Math.max(1, e.at + WINDOW_MS - now);
  }
  return WINDOW_MS; // `need` alone exceeds the limit: a full window is the honest answer
}

function windowState(log: readonly LogEntry[], used: number, limit: number, now: number): WindowState {
  const last = log[log.length - 1];
  return { limit, remaining: Math.max(0, limit - used), resetMs: last ? Math.max(0, last.at + WINDOW_MS - now) : 0 };
}

export function snapshot(log: readonly LogEntry[], inFlight: number, limits: LimitSet, now: number): Snapshot {
  const current = live(log, now);
  const tokens = current.reduce((s, e) => s + e.tokens, 0);
  return {
    ...(limits.rpm ? { requests: windowState(current, current.length, limits.rpm, now) } : {}),
    ...(limits.tpm ? { tokens: windowState(current, tokens, limits.tpm, now) } : {}),
    ...(limits.concurrency ? { concurrency: { limit: limits.concurrency, inFlight } } : {}),
  };
}

/**
 * Would a request costing `tokens` be admitted now? Checks requests, then tokens, then
 * concurrency; the snapshot describes the state *after* admission when admitted.
 */
export function decide(log: readonly LogEntry[], inFlight: number, limits: LimitSet, tokens: number, now: number, id: string): Decision {
  const current = live(log, now);
  const usedTokens = current.reduce((s, e) => s + e.tokens, 0);
  const before = () => snapshot(current, inFlight, limits, now);
  if (limits.rpm !== undefined && current.length + 1 > limits.rpm) {
    const retryAfterMs = waitFor(current, () => 1, current.length, 1, limits.rpm, now);
    return { ok: false, limit: 'requests', retryAfterMs, used: current.length, max: limits.rpm, snapshot: before() };
  }
  if (limits.tpm !== undefined && usedTokens + tokens > limits.tpm) {
    const retryAfterMs = waitFor(current, (e) => e.tokens, usedTokens, tokens, limits.tpm, now);
    return { ok: false, limit: 'tokens', retryAfterMs, used: usedTokens, max: limits.tpm, snapshot: before() };
  }
  if (limits.concurrency !== undefined && inFlight + 1 > limits.concurrency) {
    return { ok: false, limit: 'concurrency', retryAfterMs: 1_000, used: inFlight, max: limits.concurrency, snapshot: before() };
  }
  return { ok: true, snapshot: snapshot([...current, { id, at: now, tokens }], inFlight + 1, limits, now) };
}

/** OpenAI's reset format: `20ms`, `1s`, `6m0s`, `1h2m3s`. */
export function formatReset(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const total = Math.ceil(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** Tokens to reserve: a prompt estimate (≈4 characters a token) plus the completion allowance. */
export function estimateTokens(body: Record<string, unknown>, defaultMaxTokens: number): number {
  const prompt = body.messages ?? body.input ?? '';
  const promptTokens = Math.ceil(JSON.stringify(prompt).length / 4);
  if (body.input !== undefined && body.messages === undefined) return promptTokens; // embeddings
  const max = Number(body.max_completion_tokens ?? body.max_tokens ?? defaultMaxTokens);
  const n = Number(body.n ?? 1);
  return promptTokens + (Number.isFinite(max) ? max : defaultMaxTokens) * (Number.isFinite(n) && n > 0 ? n : 1);
}
