/**
 * AuthThrottle Durable Object: the failed admin authentications of one subject — one object
 * per client address (`addr:<IPv4 or IPv6 /64>`) and one for all of them (`global`). A
 * failure is counted only while the subject is under its limit, so an object holds at most
 * `limit` rows and a refused flood writes nothing. Rows are in SQLite (an attacker who pauses
 * until the object is evicted finds his count where he left it); an alarm deletes them
 * once the last has left the window. The rules are `throttle-policy.ts` (pure).
 */
import { DurableObject } from 'cloudflare:workers';
import type { Bindings } from '../bindings';
import { throttleState, type ThrottleState } from './throttle-policy';

export interface FailResult extends ThrottleState {
  /** Whether this failure was counted: false when the subject was already refusing. */
  counted: boolean;
}

export class AuthThrottle extends DurableObject<Bindings> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(`CREATE TABLE IF NOT EXISTS failures (at INTEGER NOT NULL)`);
    });
  }

  private times(): number[] {
    return this.sql.exec<{ at: number }>(`SELECT at FROM failures ORDER BY at`).toArray().map((r) => r.at);
  }

  /** Count one failure unless the subject is already refusing; where it stands after. */
  async fail(limit: number, windowMs: number): Promise<FailResult> {
    const now = Date.now();
    const before = throttleState(this.times(), now, limit, windowMs);
    if (before.retryAfterMs > 0) return { ...before, counted: false };
    this.sql.exec(`DELETE FROM failures WHERE at <= ?`, now - windowMs);
    this.sql.exec(`INSERT INTO failures (at) VALUES (?)`, now);
    await this.ctx.storage.setAlarm(now + windowMs);
    return { ...throttleState(this.times(), now, limit, windowMs), counted: true };
  }

  /** Where the subject stands, counting nothing (the right token, checked before it is let in). */
  async status(limit: number, windowMs: number): Promise<ThrottleState> {
    return throttleState(this.times(), Date.now(), limit, windowMs);
  }

  /** The last failure has left the window: nothing to keep. */
  override async alarm(): Promise<void> {
    this.sql.exec(`DELETE FROM failures`);
  }
}
