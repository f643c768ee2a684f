/**
 * Limiter arithmetic, pure: a sliding log over the last minute, with concurrency held by
 * open entries. An entry is one admitted request, or a lease: a slice of the key's
 * requests, tokens and slots handed to one isolate (`ledger.ts`, `lease-client.ts`).
 *
 * Why a log and not GCRA/token bucket: a bucket of size L refilled at L/min admits up to
 * ~2L in the first rolling minute (a full burst, then the refill). The log admits a request
 * at t iff what the window ending at t already holds, plus the request, is ≤ L — so no
 * window of length W, wherever it starts, ever holds more than L.
 *
 * Each entry counts (a lease counts all it may hold, until it reports what it used):
 * - **requests** count until W after the last admission (`last > t − W`): RPM is about
 *   starts; a single request's `last` is its admission, an open lease's is the end of the
 *   time it may admit in;
 * - **tokens** count from admission until W after the request *ended* (`end > t − W`, or
 *   still in flight). A request produces its tokens somewhere between admission and end,
 *   so every window that overlaps that span must hold them — otherwise a 90-second
 *   generation's tokens would fall out of the window before they were even known. While in
 *   flight the entry holds its reservation (prompt estimate + the completion cap sent
 *   upstream); at the end, the real usage replaces it. With reservations that bound what an
 *   upstream can write, tokens produced in any 60 s never exceed `tpm`.
 * - **concurrency** is the slots of entries still open (`end` null); an entry whose holder
 *   died is ended at its expiry (`expires`).
 *
 * Memory is one entry per exact admission or lease of the last minute or still open.
 */

export const WINDOW_MS = 60_000;

export interface LogEntry {
  id: string;
  /** Admission (or grant) time. */
  at: number;
  /** Requests counted: 1 for a single request; a lease's grant, then what it used. */
  requests: number;
  /** Last admission it may hold: `at` for a single request; a lease's end of admitting, then its real last one. */
  last: number;
  /** Reserved tokens while in flight; used tokens once ended. A lease: its grant, then used + in flight. */
  tokens: number;
  /** Reservation of one upstream attempt (re-charged for each abandoned attempt); 0 for a lease. */
  reserved: number;
  /** Concurrency slots held while open: 1 for a single request. */
  slots: number;
  /** When it ended (settled, or reclaimed); null while open. */
  end: number | null;
  /** An entry still open then is reclaimed (its holder died). */
  expires: number;
  /** Nano-USD: the worst case while open, what it cost once ended; counts toward the budgets of its admission's UTC day and month. */
  cost: number;
}

/** The entry of one exactly admitted request. */
export function singleEntry(id: string, at: number, tokens: number, expires: number, cost = 0): LogEntry {
  return { id, at, requests: 1, last: at, tokens, reserved: tokens, slots: 1, end: null, expires, cost };
}

/** UTC calendar periods of the spend budgets: `2026-11-22`, `2026-11`. */
export const dayOf = (t: number) => new Date(t).toISOString().slice(0, 10);
export const monthOf = (t: number) => new Date(t).toISOString().slice(0, 7);
export function periodEnd(kind: 'day' | 'month', t: number): number {
  const d = new Date(t);
  return kind === 'day' ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) : Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** Nano-USD of ended requests admitted in the current UTC day and month (the object keeps them past the window). */
export interface Spent {
  day: number;
  month: number;
}
export const NOTHING_SPENT: Spent = { day: 0, month: 0 };

/** What counts against each budget now: spent, plus the worst case of open entries admitted in the period. */
export function budgetUse(log: readonly LogEntry[], spent: Spent, now: number): Spent {
  const day = dayOf(now);
  const month = monthOf(now);
  const use = { ...spent };
  for (const e of log) {
    if (e.end !== null || e.cost === 0) continue;
    if (dayOf(e.at) === day) use.day += e.cost;
    if (monthOf(e.at) === month) use.month += e.cost;
  }
  return use;
}

export interface LimitSet {
  rpm?: number | undefined;
  tpm?: number | undefined;
  concurrency?: number | undefined;
  /** Spend caps per UTC day and month, in nano-USD. */
  dayNano?: number | undefined;
  monthNano?: number | undefined;
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
  /** Budgets in nano-USD; `resetMs` until the period ends. */
  day?: WindowState;
  month?: WindowState;
}

export type LimitKind = 'requests' | 'tokens' | 'concurrency' | 'day' | 'month';

export type Decision =
  | { ok: true; snapshot: Snapshot }
  | {
      ok: false;
      limit: LimitKind;
      retryAfterMs: number;
      used: number;
      max: number;
      snapshot: Snapshot;
      /** The request alone exceeds the limit: no wait can admit it. */
      tooLarge?: boolean;
    };

export const countsRequest = (e: LogEntry, now: number) => e.last > now - WINDOW_MS;
export const countsTokens = (e: LogEntry, now: number) => e.end === null || e.end > now - WINDOW_MS;
/** An entry that counts for nothing any more may be dropped. */
export const expired = (e: LogEntry, now: number) => !countsRequest(e, now) && !countsTokens(e, now);

/** When an entry stops counting tokens; an in-flight one is assumed to end now (a guess for retry-after). */
const tokensFreeAt = (e: LogEntry, now: number) => (e.end ?? now) + WINDOW_MS;

export interface Usage {
  requests: number;
  tokens: number;
  inFlight: number;
}

export function usageAt(log: readonly LogEntry[], now: number): Usage {
  let requests = 0;
  let tokens = 0;
  let inFlight = 0;
  for (const e of log) {
    if (countsRequest(e, now)) requests += e.requests;
    if (countsTokens(e, now)) tokens += e.tokens;
    if (e.end === null) inFlight += e.slots;
  }
  return { requests, tokens, inFlight };
}

/** Ms until enough of the window frees that `need` more fits under `limit`. */
function waitFor(frees: { at: number; amount: number }[], used: number, need: number, limit: number, now: number): number {
  frees.sort((a, b) => a.at - b.at);
  let freed = 0;
  for (const f of frees) {
    freed += f.amount;
    if (used - freed + need <= limit) return Math.max(1, f.at - now);
  }
  return WINDOW_MS;
}

export function snapshot(log: readonly LogEntry[], limits: LimitSet, now: number, spent: Spent = NOTHING_SPENT): Snapshot {
  const u = usageAt(log, now);
  const b = limits.dayNano || limits.monthNano ? budgetUse(log, spent, now) : spent;
  const budget = (kind: 'day' | 'month', limit: number) => ({ limit, remaining: Math.max(0, limit - b[kind]), resetMs: periodEnd(kind, now) - now });
  let requestsReset = 0;
  let tokensReset = 0;
  for (const e of log) {
    if (countsRequest(e, now)) requestsReset = Math.max(requestsReset, e.last + WINDOW_MS - now);
    if (countsTokens(e, now)) tokensReset = Math.max(tokensReset, tokensFreeAt(e, now) - now);
  }
  return {
    ...(limits.rpm ? { requests: { limit: limits.rpm, remaining: Math.max(0, limits.rpm - u.requests), resetMs: requestsReset } } : {}),
    ...(limits.tpm ? { tokens: { limit: limits.tpm, remaining: Math.max(0, limits.tpm - u.tokens), resetMs: tokensReset } } : {}),
    ...(limits.concurrency ? { concurrency: { limit: limits.concurrency, inFlight: u.inFlight } } : {}),
    ...(limits.dayNano ? { day: budget('day', limits.dayNano) } : {}),
    ...(limits.monthNano ? { month: budget('month', limits.monthNano) } : {}),
  };
}

/**
 * Would a request reserving `tokens` be admitted now? Checks requests, then tokens, then
 * concurrency; the snapshot describes the state *after* admission when admitted.
 */
export function decide(
  log: readonly LogEntry[],
  limits: LimitSet,
  tokens: number,
  now: number,
  leaseMs: number,
  id: string,
  cost = 0,
  spent: Spent = NOTHING_SPENT,
): Decision {
  const u = usageAt(log, now);
  const before = () => snapshot(log, limits, now, spent);
  if (limits.tpm !== undefined && tokens > limits.tpm) {
    return { ok: false, limit: 'tokens', tooLarge: true, retryAfterMs: 0, used: u.tokens, max: limits.tpm, snapshot: before() };
  }
  if (limits.rpm !== undefined && u.requests + 1 > limits.rpm) {
    const frees = log.filter((e) => countsRequest(e, now)).map((e) => ({ at: e.last + WINDOW_MS, amount: e.requests }));
    const retryAfterMs = waitFor(frees, u.requests, 1, limits.rpm, now);
    return { ok: false, limit: 'requests', retryAfterMs, used: u.requests, max: limits.rpm, snapshot: before() };
  }
  if (limits.tpm !== undefined && u.tokens + tokens > limits.tpm) {
    const frees = log.filter((e) => countsTokens(e, now)).map((e) => ({ at: tokensFreeAt(e, now), amount: e.tokens }));
    const retryAfterMs = waitFor(frees, u.tokens, tokens, limits.tpm, now);
    return { ok: false, limit: 'tokens', retryAfterMs, used: u.tokens, max: limits.tpm, snapshot: before() };
  }
  if (limits.dayNano !== undefined || limits.monthNano !== undefined) {
    const b = budgetUse(log, spent, now);
    for (const kind of ['day', 'month'] as const) {
      const max = kind === 'day' ? limits.dayNano : limits.monthNano;
      if (max === undefined || b[kind] + cost <= max) continue;
      // Spend only returns when the period ends (or open requests settle below their worst case).
      return { ok: false, limit: kind, tooLarge: cost > max, retryAfterMs: periodEnd(kind, now) - now, used: b[kind], max, snapshot: before() };
    }
  }
  if (limits.concurrency !== undefined && u.inFlight + 1 > limits.concurrency) {
    return { ok: false, limit: 'concurrency', retryAfterMs: 1_000, used: u.inFlight, max: limits.concurrency, snapshot: before() };
  }
  return { ok: true, snapshot: snapshot([...log, singleEntry(id, now, tokens, now + leaseMs, cost)], limits, now, spent) };
}

/**
 * May an in-flight entry admitted at `at` reserve `tokens` and `cost` more (another attempt
 * after an abandoned one)? Tokens against the window now; cost against the budgets of the
 * day and month of its admission (`spent.at`: spent in those periods), where its cost belongs.
 * Requests and slots are not asked again: a retry is the same request in the same slot.
 */
export function decideMore(
  log: readonly LogEntry[],
  limits: LimitSet,
  tokens: number,
  cost: number,
  at: number,
  now: number,
  spent: { at: Spent; now: Spent } = { at: NOTHING_SPENT, now: NOTHING_SPENT },
): Decision {
  const u = usageAt(log, now);
  const before = () => snapshot(log, limits, now, spent.now);
  if (limits.tpm !== undefined && u.tokens + tokens > limits.tpm) {
    const frees = log.filter((e) => countsTokens(e, now)).map((e) => ({ at: tokensFreeAt(e, now), amount: e.tokens }));
    const retryAfterMs = waitFor(frees, u.tokens, tokens, limits.tpm, now);
    return { ok: false, limit: 'tokens', tooLarge: tokens > limits.tpm, retryAfterMs, used: u.tokens, max: limits.tpm, snapshot: before() };
  }
  if (cost > 0 && (limits.dayNano !== undefined || limits.monthNano !== undefined)) {
    const b = budgetUse(log, spent.at, at);
    for (const kind of ['day', 'month'] as const) {
      const max = kind === 'day' ? limits.dayNano : limits.monthNano;
      if (max === undefined || b[kind] + cost <= max) continue;
      // A fresh request belongs to the current period: once the admission's period is over, it may try at once.
      const retryAfterMs = Math.max(1_000, periodEnd(kind, at) - now);
      return { ok: false, limit: kind, tooLarge: cost > max, retryAfterMs, used: b[kind], max, snapshot: before() };
    }
  }
  return { ok: true, snapshot: before() };
}

/**
 * Tokens a finished request really cost: each abandoned attempt at its reservation (the
 * upstream may have generated and billed it), plus the final attempt's usage — or its
 * reservation when no usage arrived, or nothing when no upstream served it.
 */
export function settledTokens(
  entry: Pick<LogEntry, 'reserved'>,
  result: { used?: number | undefined; unserved?: boolean | undefined; abandoned?: number | undefined },
): number {
  const final = result.used ?? (result.unserved ? 0 : entry.reserved);
  return (result.abandoned ?? 0) * entry.reserved + final;
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
