/**
 * RateLimiter Durable Object: exact RPM / TPM / concurrency for one subject — one object
 * per API key (`key:<id>`) and one per capped node (`node:<id>`), never a global one.
 *
 * Exactness: a Durable Object runs one request at a time, and each method does its check
 * and its write with no `await` in between, so concurrent callers from any colo are
 * decided one after another against the same state. The decisions are `ledger.ts` (pure);
 * this class writes what they changed through to SQLite, so the window, its leases and the
 * totals survive eviction; memory is a mirror loaded in the constructor. Entries whose
 * holder died are ended by an alarm. The window's rules are in `window.ts`.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Bindings } from '../bindings';
import type { BatchOrigin, TotalsDelta } from './usage-batch';
import { Ledger, type SyncRequest, type SyncResult } from './ledger';
import { budgetUse, usageAt, WINDOW_MS, type Decision, type LimitSet, type LogEntry } from './window';

export interface UsageReport {
  window: { requests: number; tokens: number; windowMs: number };
  inFlight: number;
  /** `estimatedTokens`: tokens charged at a reservation because no usage arrived. */
  totals: { requests: number; promptTokens: number; completionTokens: number; estimatedTokens: number };
  /** Spend budgets: USD spent this UTC day and month, and held at worst case by requests in flight. */
  spend: { dayUsd: number; monthUsd: number; heldUsd: number };
}

interface EntryRow {
  id: string;
  at: number;
  requests: number;
  last_at: number | null;
  tokens: number;
  reserved: number;
  slots: number;
  end_at: number | null;
  expires: number;
  cost: number;
  [column: string]: SqlStorageValue;
}

const COLUMNS = 'id, at, requests, last_at, tokens, reserved, slots, end_at, expires, cost';
/** Spend is kept for the periods a budget can still ask about: this month and the last. */
const SPEND_KEEP_MS = 62 * 24 * 3_600_000;
/** How long an isolate's last totals batch number is kept, and how often the old ones are swept. */
const ORIGIN_KEEP_MS = 24 * 3_600_000;
const ORIGIN_PRUNE_MS = 3_600_000;

export class RateLimiter extends DurableObject<Bindings> {
  private ledger = new Ledger([]);
  private alarmAt: number | null = null;
  private prunedAt = 0;
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
      // v3: an entry may be a lease of many requests and slots (a single request: 1 and 1, last_at = at).
      const columns = new Set(this.sql.exec<{ name: string }>(`PRAGMA table_info(entries)`).toArray().map((c) => c.name));
      if (!columns.has('requests')) this.sql.exec(`ALTER TABLE entries ADD COLUMN requests INTEGER NOT NULL DEFAULT 1`);
      if (!columns.has('slots')) this.sql.exec(`ALTER TABLE entries ADD COLUMN slots INTEGER NOT NULL DEFAULT 1`);
      if (!columns.has('last_at')) this.sql.exec(`ALTER TABLE entries ADD COLUMN last_at INTEGER`);
      // v4: spend budgets — an entry's cost (nano-USD), and what ended entries cost per day and month.
      if (!columns.has('cost')) this.sql.exec(`ALTER TABLE entries ADD COLUMN cost INTEGER NOT NULL DEFAULT 0`);
      this.sql.exec(`CREATE TABLE IF NOT EXISTS spend (period TEXT PRIMARY KEY, nano INTEGER NOT NULL, updated INTEGER NOT NULL)`);
      this.sql.exec(`DELETE FROM spend WHERE updated < ?`, Date.now() - SPEND_KEEP_MS);
      this.sql.exec(`CREATE TABLE IF NOT EXISTS totals (name TEXT PRIMARY KEY, value INTEGER NOT NULL)`);
      // v5: the last totals batch taken from each isolate, so a batch sent again is counted once.
      this.sql.exec(`CREATE TABLE IF NOT EXISTS totals_from (isolate TEXT PRIMARY KEY, seq INTEGER NOT NULL, at INTEGER NOT NULL)`);
      const entries = this.sql
        .exec<EntryRow>(`SELECT ${COLUMNS} FROM entries ORDER BY at`)
        .toArray()
        .map((r): LogEntry => ({
          id: r.id,
          at: r.at,
          requests: r.requests,
          last: r.last_at ?? r.at,
          tokens: r.tokens,
          reserved: r.reserved,
          slots: r.slots,
          end: r.end_at,
          expires: r.expires,
          cost: r.cost,
        }));
      const spend = new Map(this.sql.exec<{ period: string; nano: number }>(`SELECT period, nano FROM spend`).toArray().map((r) => [r.period, r.nano]));
      this.ledger = new Ledger(entries, spend);
      this.ledger.tidy(Date.now());
      this.persist();
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  /** Write what the ledger changed through to SQLite; arm the alarm for the next expiry. */
  private persist(): Promise<void> | undefined {
    const { upserts, removed, totals, spend } = this.ledger.takeChanges();
    for (const [period, nano] of spend) {
      this.sql.exec(
        `INSERT INTO spend (period, nano, updated) VALUES (?, ?, ?) ON CONFLICT(period) DO UPDATE SET nano = nano + excluded.nano, updated = excluded.updated`,
        period,
        nano,
        Date.now(),
      );
    }
    for (const e of upserts) {
      this.sql.exec(
        `INSERT OR REPLACE INTO entries (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        e.id,
        e.at,
        e.requests,
        e.last,
        e.tokens,
        e.reserved,
        e.slots,
        e.end,
        e.expires,
        e.cost,
      );
    }
    for (const id of removed) this.sql.exec(`DELETE FROM entries WHERE id = ?`, id);
    this.add('requests', totals.requests);
    this.add('prompt_tokens', totals.promptTokens);
    this.add('completion_tokens', totals.completionTokens);
    this.add('estimated_tokens', totals.estimatedTokens);
    const next = this.ledger.log.reduce<number | null>((n, e) => (e.end === null && (n === null || e.expires < n) ? e.expires : n), null);
    if (next !== null && (this.alarmAt === null || this.alarmAt > next)) {
      this.alarmAt = next;
      return this.ctx.storage.setAlarm(next);
    }
    return undefined;
  }

  private add(name: string, value: number): void {
    if (value === 0) return;
    this.sql.exec(
      `INSERT INTO totals (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value`,
      name,
      value,
    );
  }

  /** An isolate's round trip: its reports, its request at hand (exact), and a lease if there is room (`ledger.ts`). */
  async sync(request: SyncRequest): Promise<SyncResult> {
    const result = this.ledger.sync(request, Date.now(), () => crypto.randomUUID());
    await this.persist();
    return result;
  }

  /**
   * Reserve another attempt after an abandoned one for an open entry: `tokens` (default: one
   * attempt's reservation) and `cost`, its worst case in nano-USD (`ledger.ts`). The refusal
   * names the limit with no room; null when the entry is no longer open.
   */
  async extend(id: string, limits: LimitSet, tokens?: number, cost?: number): Promise<(Decision & { at: number }) | null> {
    const result = this.ledger.extend(id, limits, tokens, cost, Date.now());
    await this.persist();
    return result;
  }

  /**
   * Totals of a key without limits, flushed in batches by the isolates that served it. A
   * batch whose reply was lost is sent again with the same `seq` (`usage-batch.ts`): taken
   * once. An isolate sends a key's next batch only once the last is taken, so its numbers rise.
   */
  async addTotals(delta: TotalsDelta, from?: BatchOrigin): Promise<void> {
    const now = Date.now();
    if (from) {
      const last = this.sql.exec<{ seq: number }>(`SELECT seq FROM totals_from WHERE isolate = ?`, from.isolate).toArray()[0];
      if (last && last.seq >= from.seq) return;
      this.sql.exec(`INSERT OR REPLACE INTO totals_from (isolate, seq, at) VALUES (?, ?, ?)`, from.isolate, from.seq, now);
      // Isolates come and go: forget those silent for a day (a batch is re-sent within seconds).
      if (now - this.prunedAt > ORIGIN_PRUNE_MS) {
        this.prunedAt = now;
        this.sql.exec(`DELETE FROM totals_from WHERE at < ?`, now - ORIGIN_KEEP_MS);
      }
    }
    this.add('requests', delta.requests);
    this.add('prompt_tokens', delta.promptTokens);
    this.add('completion_tokens', delta.completionTokens);
  }

  /** Counts for the admin usage endpoint. */
  async usage(): Promise<UsageReport> {
    const now = Date.now();
    this.ledger.tidy(now);
    await this.persist();
    const totals = Object.fromEntries(
      this.sql.exec<{ name: string; value: number }>(`SELECT name, value FROM totals`).toArray().map((r) => [r.name, r.value]),
    );
    const u = usageAt(this.ledger.log, now);
    const spent = this.ledger.spent(now);
    const use = budgetUse(this.ledger.log, spent, now);
    return {
      spend: { dayUsd: spent.day / 1e9, monthUsd: spent.month / 1e9, heldUsd: (use.month - spent.month) / 1e9 },
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
    this.alarmAt = null;
    this.ledger.tidy(Date.now());
    await this.persist();
  }
}
