/**
 * RateLimiter Durable Object: exact RPM / TPM / concurrency for one subject — one object
 * per API key (`key:<id>`) and one per capped node (`node:<id>`), never a global one.
 *
 * Exactness: a Durable Object runs one request at a time, and `admit` does its check and
 * its write with no `await` in between, so concurrent callers from any colo are decided
 * one after another against the same state. State that must survive eviction (the
 * window's log, live leases, totals) is written through to SQLite; memory is a mirror
 * loaded in the constructor. Leases whose holder died are reclaimed by an alarm.
 */
import { DurableObject } from 'cloudflare:workers';
import type { TotalsDelta } from './usage-batch';
import { decide, live, WINDOW_MS, type Decision, type LimitSet, type LogEntry } from './window';

export interface AdmitRequest {
  limits: LimitSet;
  /** Tokens to reserve (estimate), replaced by real usage on settle. */
  tokens: number;
  /** How long the concurrency slot is held if nobody releases it. */
  leaseMs: number;
}

export type AdmitResult = Decision & { id: string };

export interface SettleRequest {
  /** Real usage, when it arrived; otherwise the reservation stands. */
  usage?: { prompt_tokens: number; completion_tokens: number } | undefined;
  /** The request never reached an upstream that answered: no tokens were used. */
  unserved?: boolean;
}

export interface UsageReport {
  window: { requests: number; tokens: number; windowMs: number };
  inFlight: number;
  /** `estimatedTokens`: tokens of requests settled at their reservation (no usage arrived). */
  totals: { requests: number; promptTokens: number; completionTokens: number; estimatedTokens: number };
}

export class RateLimiter extends DurableObject {
  private log: LogEntry[] = [];
  private leases = new Map<string, number>();
  private alarmAt: number | null = null;
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(`CREATE TABLE IF NOT EXISTS log (id TEXT PRIMARY KEY, at INTEGER NOT NULL, tokens INTEGER NOT NULL)`);
      this.sql.exec(`CREATE TABLE IF NOT EXISTS leases (id TEXT PRIMARY KEY, expires INTEGER NOT NULL)`);
      this.sql.exec(`CREATE TABLE IF NOT EXISTS totals (name TEXT PRIMARY KEY, value INTEGER NOT NULL)`);
      const now = Date.now();
      this.sql.exec(`DELETE FROM log WHERE at <= ?`, now - WINDOW_MS);
      this.log = this.sql.exec<{ id: string; at: number; tokens: number }>(`SELECT id, at, tokens FROM log ORDER BY at`).toArray();
      for (const row of this.sql.exec<{ id: string; expires: number }>(`SELECT id, expires FROM leases`)) {
        this.leases.set(row.id, row.expires);
      }
      this.reclaim(now);
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  private prune(now: number): void {
    const kept = live(this.log, now);
    if (kept.length !== this.log.length) {
      this.sql.exec(`DELETE FROM log WHERE at <= ?`, now - WINDOW_MS);
      this.log = kept;
    }
  }

  /** Drop leases past their expiry; returns the earliest remaining expiry. */
  private reclaim(now: number): number | undefined {
    let next: number | undefined;
    for (const [id, expires] of this.leases) {
      if (expires <= now) {
        this.leases.delete(id);
        this.sql.exec(`DELETE FROM leases WHERE id = ?`, id);
      } else if (next === undefined || expires < next) next = expires;
    }
    return next;
  }

  private add(name: string, value: number): void {
    this.sql.exec(
      `INSERT INTO totals (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value`,
      name,
      value,
    );
  }

  /** Admit or refuse one request; when admitted, its reservation and lease are recorded. */
  async admit(request: AdmitRequest): Promise<AdmitResult> {
    const now = Date.now();
    this.prune(now);
    this.reclaim(now);
    const id = crypto.randomUUID();
    const decision = decide(this.log, this.leases.size, request.limits, request.tokens, now, id);
    if (!decision.ok) return { ...decision, id };
    this.log.push({ id, at: now, tokens: request.tokens });
    this.sql.exec(`INSERT INTO log (id, at, tokens) VALUES (?, ?, ?)`, id, now, request.tokens);
    const expires = now + request.leaseMs;
    this.leases.set(id, expires);
    this.sql.exec(`INSERT INTO leases (id, expires) VALUES (?, ?)`, id, expires);
    this.add('requests', 1);
    if (this.alarmAt === null || this.alarmAt > expires) {
      this.alarmAt = expires;
      await this.ctx.storage.setAlarm(expires);
    }
    return { ...decision, id };
  }

  /** The request is over: free its slot and replace its reservation with what it used. */
  async settle(id: string, result: SettleRequest): Promise<void> {
    this.leases.delete(id);
    this.sql.exec(`DELETE FROM leases WHERE id = ?`, id);
    const entry = this.log.find((e) => e.id === id);
    const used = result.usage
      ? result.usage.prompt_tokens + result.usage.completion_tokens
      : result.unserved
        ? 0
        : undefined;
    if (entry && used !== undefined) {
      entry.tokens = used;
      this.sql.exec(`UPDATE log SET tokens = ? WHERE id = ?`, used, id);
    }
    if (result.usage) {
      this.add('prompt_tokens', result.usage.prompt_tokens);
      this.add('completion_tokens', result.usage.completion_tokens);
    } else if (!result.unserved && entry) {
      this.add('estimated_tokens', entry.tokens);
    }
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
    this.prune(now);
    this.reclaim(now);
    const totals = Object.fromEntries(
      this.sql.exec<{ name: string; value: number }>(`SELECT name, value FROM totals`).toArray().map((r) => [r.name, r.value]),
    );
    return {
      window: { requests: this.log.length, tokens: this.log.reduce((s, e) => s + e.tokens, 0), windowMs: WINDOW_MS },
      inFlight: this.leases.size,
      totals: {
        requests: totals.requests ?? 0,
        promptTokens: totals.prompt_tokens ?? 0,
        completionTokens: totals.completion_tokens ?? 0,
        estimatedTokens: totals.estimated_tokens ?? 0,
      },
    };
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    this.prune(now);
    const next = this.reclaim(now);
    this.alarmAt = next ?? null;
    if (next !== undefined) await this.ctx.storage.setAlarm(next);
  }
}
