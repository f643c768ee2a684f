/**
 * RateLimiter Durable Object: exact RPM / TPM / concurrency for one subject — one object
 * per API key (`key:<id>`) and one per capped node (`node:<id>`), never a global one.
 *
 * Exactness: a Durable Object runs one request at a time, and `admit` does its check and
 * its write with no `await` in between, so concurrent callers from any colo are decided
 * one after another against the same state. State that must survive eviction (the
 * window's entries with their leases, totals) is written through to SQLite; memory is a
 * mirror loaded in the constructor. Leases whose holder died are ended by an alarm.
 * The window's rules are in `window.ts`.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Bindings } from '../bindings';
import type { TotalsDelta } from './usage-batch';
import { canExtend, decide, expired, settledTokens, usageAt, WINDOW_MS, type Decision, type LimitSet, type LogEntry } from './window';

export interface AdmitRequest {
  limits: LimitSet;
  /** Tokens to reserve for one upstream attempt (estimate + cap), replaced by real usage on settle. */
  tokens: number;
  /** How long the concurrency slot is held if nobody releases it. */
  leaseMs: number;
}

export type AdmitResult = Decision & { id: string };

export interface SettleRequest {
  /** Real usage of the attempt that answered, when it arrived; otherwise its reservation stands. */
  usage?: { prompt_tokens: number; completion_tokens: number } | undefined;
  /** No upstream answered: the final attempt used no tokens. */
  unserved?: boolean;
  /** Attempts abandoned after they were sent (timed out): each is charged its reservation. */
  abandoned?: number;
}

export interface UsageReport {
  window: { requests: number; tokens: number; windowMs: number };
  inFlight: number;
  /** `estimatedTokens`: tokens charged at a reservation because no usage arrived. */
  totals: { requests: number; promptTokens: number; completionTokens: number; estimatedTokens: number };
}

interface EntryRow {
  id: string;
  at: number;
  tokens: number;
  reserved: number;
  end_at: number | null;
  expires: number;
  [column: string]: SqlStorageValue;
}

export class RateLimiter extends DurableObject<Bindings> {
  /** Entries in admission order: a mirror of the `entries` table. */
  private log: LogEntry[] = [];
  private alarmAt: number | null = null;
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      // v1 kept `log` and `leases` apart; one row per request now carries both (in flight = end_at NULL).
      this.sql.exec(`DROP TABLE IF EXISTS log`);
      this.sql.exec(`DROP TABLE IF EXISTS leases`);
      this.sql.exec(
        `CREATE TABLE IF NOT EXISTS entries (id TEXT PRIMARY KEY, at INTEGER NOT NULL, tokens INTEGER NOT NULL,
         reserved INTEGER NOT NULL, end_at INTEGER, expires INTEGER NOT NULL)`,
      );
      this.sql.exec(`CREATE TABLE IF NOT EXISTS totals (name TEXT PRIMARY KEY, value INTEGER NOT NULL)`);
      this.log = this.sql
        .exec<EntryRow>(`SELECT id, at, tokens, reserved, end_at, expires FROM entries ORDER BY at`)
        .toArray()
        .map((r) => ({ id: r.id, at: r.at, tokens: r.tokens, reserved: r.reserved, end: r.end_at, expires: r.expires }));
      this.tidy(Date.now());
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  /** End leases whose holder died, drop entries that count for nothing; the next lease expiry. */
  private tidy(now: number): number | undefined {
    let next: number | undefined;
    for (const e of this.log) {
      if (e.end !== null) continue;
      if (e.expires <= now) this.end(e, e.tokens, e.expires);
      else if (next === undefined || e.expires < next) next = e.expires;
    }
    if (this.log.some((e) => expired(e, now))) {
      this.log = this.log.filter((e) => !expired(e, now));
      this.sql.exec(`DELETE FROM entries WHERE at <= ?1 AND end_at IS NOT NULL AND end_at <= ?1`, now - WINDOW_MS);
    }
    return next;
  }

  private end(entry: LogEntry, tokens: number, at: number): void {
    entry.tokens = tokens;
    entry.end = at;
    this.sql.exec(`UPDATE entries SET tokens = ?, end_at = ? WHERE id = ?`, tokens, at, entry.id);
  }

  private add(name: string, value: number): void {
    if (value === 0) return;
    this.sql.exec(
      `INSERT INTO totals (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value`,
      name,
      value,
    );
  }

  /** Admit or refuse one request; when admitted, its reservation and lease are recorded. */
  async admit(request: AdmitRequest): Promise<AdmitResult> {
    const now = Date.now();
    this.tidy(now);
    const id = crypto.randomUUID();
    const decision = decide(this.log, request.limits, request.tokens, now, request.leaseMs, id);
    if (!decision.ok) return { ...decision, id };
    const expires = now + request.leaseMs;
    this.log.push({ id, at: now, tokens: request.tokens, reserved: request.tokens, end: null, expires });
    this.sql.exec(
      `INSERT INTO entries (id, at, tokens, reserved, end_at, expires) VALUES (?, ?, ?, ?, NULL, ?)`,
      id,
      now,
      request.tokens,
      request.tokens,
      expires,
    );
    this.add('requests', 1);
    if (this.alarmAt === null || this.alarmAt > expires) {
      this.alarmAt = expires;
      await this.ctx.storage.setAlarm(expires);
    }
    return { ...decision, id };
  }

  /**
   * Reserve one more attempt's worth for an in-flight request whose previous attempt was
   * abandoned (it may have been billed). False when the key's `tpm` has no room for it.
   */
  async extend(id: string, limits: LimitSet): Promise<boolean> {
    const now = Date.now();
    this.tidy(now);
    const entry = this.log.find((e) => e.id === id && e.end === null);
    if (!entry || !canExtend(this.log, limits, entry.reserved, now)) return false;
    entry.tokens += entry.reserved;
    this.sql.exec(`UPDATE entries SET tokens = ? WHERE id = ?`, entry.tokens, id);
    return true;
  }

  /** The request is over: free its slot and replace its reservation with what it cost. */
  async settle(id: string, result: SettleRequest): Promise<void> {
    const now = Date.now();
    const entry = this.log.find((e) => e.id === id);
    // A request is settled once; an entry already ended (its lease ran out) keeps its charge.
    if (!entry || entry.end !== null) return;
    const used = result.usage ? result.usage.prompt_tokens + result.usage.completion_tokens : undefined;
    const tokens = settledTokens(entry, { used, unserved: result.unserved, abandoned: result.abandoned });
    this.end(entry, tokens, now);
    if (result.usage) {
      this.add('prompt_tokens', result.usage.prompt_tokens);
      this.add('completion_tokens', result.usage.completion_tokens);
    }
    this.add('estimated_tokens', tokens - (used ?? 0));
  }

  /** Totals of a key without limits, flushed in batches by the isolates that served it. */
  async addTotals(delta: TotalsDelta): Promise<void> {
    this.add('requests', delta.requests);
    this.add('prompt_tokens', delta.promptTokens);
    this.add('completion_tokens', delta.completionTokens);
  }

  /** Counts for the admin usage endpoint. */
  async usage(): Promise<UsageReport> {
    const now = Date.now();
    this.tidy(now);
    const totals = Object.fromEntries(
      this.sql.exec<{ name: string; value: number }>(`SELECT name, value FROM totals`).toArray().map((r) => [r.name, r.value]),
    );
    const u = usageAt(this.log, now);
    return {
      window: { requests: u.requests, tokens: u.tokens, windowMs: WINDOW_MS },
      inFlight: u.inFlight,
      totals: {
        requests: totals.requests ?? 0,
        promptTokens: totals.prompt_tokens ?? 0,
        completionTokens: totals.completion_tokens ?? 0,
        estimatedTokens: totals.estimated_tokens ?? 0,
      },
    };
  }

  override async alarm(): Promise<void> {
    const next = this.tidy(Date.now());
    this.alarmAt = next ?? null;
    if (next !== undefined) await this.ctx.storage.setAlarm(next);
  }
}
