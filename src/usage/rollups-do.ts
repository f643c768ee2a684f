/**
 * UsageRollups Durable Object: requests, errors, tokens and cost per key × model × node ×
 * hour, in SQLite. Sharded (`usage.shards`, default 16; `shards.ts`): shard 0 is named
 * `global` (the one object before sharding), the others `shard:<i>`. Each isolate sends its
 * rows in batches to one shard it picked at random (`rollup-batch.ts`, one call every 10 s
 * at most, never one per request), and the admin views query every shard and sum.
 * Every shard runs its own daily retention alarm (armed in its constructor). Rows older than `RETENTION_DAYS` are deleted daily,
 * their counts first folded into `retired` (per key × model × node, no hour): the all-time
 * totals the metrics' counters read (`allTime`) never go down when an hour leaves retention.
 * Cost is kept in integer nano-dollars so that sums are exact.
 *
 * A batch is applied whole or not at all (one transaction), and once: it carries an id the
 * object remembers for `BATCH_IDS_KEEP_MS`, so a batch sent again — after a call whose answer
 * was lost though its write landed, or one sent by two flushes at once — adds nothing.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Bindings } from '../bindings';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
export const RETENTION_DAYS = 90;
/**
 * How long a batch id is remembered: an isolate re-sends a refused batch within seconds (its
 * request's `waitUntil`) or with its next request's flush; an hour covers any isolate that
 * still lives, for about one row per call.
 */
export const BATCH_IDS_KEEP_MS = HOUR_MS;

export interface RollupRow {
  /** Start of the hour (ms since epoch, UTC). */
  hour: number;
  key: string;
  model: string;
  /** The answering node; `-` when none answered. */
  node: string;
  requests: number;
  errors: number;
  inputTokens: number;
  cachedTokens: number;
  outputTokens: number;
  /** USD × 1e9 of the requests whose cost is known. */
  costNano: number;
  /** Requests whose cost is unknown (no price, or no usage reported). */
  unpriced: number;
}

export const GROUPS = ['key', 'model', 'node', 'hour', 'day'] as const;
export type Group = (typeof GROUPS)[number];

export interface UsageQuery {
  from: number;
  to: number;
  key?: string | undefined;
  model?: string | undefined;
  node?: string | undefined;
  groupBy: Group[];
}

export type UsageGroup = Partial<Record<Group, string | number>> & Omit<RollupRow, 'hour' | 'key' | 'model' | 'node'>;

/** The summed columns, named as `UsageGroup` names them. */
const SUMS = `SUM(requests) AS requests, SUM(errors) AS errors, SUM(input_tokens) AS inputTokens, SUM(cached_tokens) AS cachedTokens,
  SUM(output_tokens) AS outputTokens, SUM(cost_nano) AS costNano, SUM(unpriced) AS unpriced`;

/** SQL for each grouping: a column, or the day an hour falls in. */
const GROUP_SQL: Record<Group, string> = { key: 'key', model: 'model', node: 'node', hour: 'hour', day: `hour - (hour % ${DAY_MS})` };

export class UsageRollups extends DurableObject<Bindings> {
  private readonly sql: SqlStorage;
  /** Test switch (`failNextRecords`): how many `record` calls to refuse before taking rows again. */
  private failing = 0;
  /** Test switch (`loseNextReplies`): how many `record` calls to apply and then answer with an error. */
  private losing = 0;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(
        `CREATE TABLE IF NOT EXISTS rollups (hour INTEGER NOT NULL, key TEXT NOT NULL, model TEXT NOT NULL, node TEXT NOT NULL,
         requests INTEGER NOT NULL, errors INTEGER NOT NULL, input_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
         output_tokens INTEGER NOT NULL, cost_nano INTEGER NOT NULL, unpriced INTEGER NOT NULL, PRIMARY KEY (hour, key, model, node))`,
      );
      this.sql.exec(
        `CREATE TABLE IF NOT EXISTS retired (key TEXT NOT NULL, model TEXT NOT NULL, node TEXT NOT NULL, requests INTEGER NOT NULL,
         errors INTEGER NOT NULL, input_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
         cost_nano INTEGER NOT NULL, unpriced INTEGER NOT NULL, PRIMARY KEY (key, model, node))`,
      );
      this.sql.exec(`CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY, at INTEGER NOT NULL)`);
      this.sql.exec(`CREATE INDEX IF NOT EXISTS batches_at ON batches (at)`);
      if ((await ctx.storage.getAlarm()) === null) await ctx.storage.setAlarm(Date.now() + DAY_MS);
    });
  }

  /**
   * Add a batch: each row's counts go onto its hour × key × model × node, all rows or none.
   * With a `batchId` seen in the last `BATCH_IDS_KEEP_MS`, nothing: that batch is already in.
   */
  async record(rows: RollupRow[], batchId?: string): Promise<void> {
    if (this.failing > 0) {
      this.failing--;
      throw new Error('UsageRollups.record refused (failNextRecords)');
    }
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      if (batchId !== undefined) {
        this.sql.exec(`DELETE FROM batches WHERE at < ?`, now - BATCH_IDS_KEEP_MS);
        if (this.sql.exec(`INSERT INTO batches VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, batchId, now).rowsWritten === 0) return;
      }
      for (const r of rows) this.add(r);
    });
    if (this.losing > 0) {
      this.losing--;
      throw new Error('UsageRollups.record answer lost (loseNextReplies)');
    }
  }

  private add(r: RollupRow): void {
    this.sql.exec(
      `INSERT INTO rollups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hour, key, model, node) DO UPDATE SET
       requests = requests + excluded.requests, errors = errors + excluded.errors, input_tokens = input_tokens + excluded.input_tokens,
       cached_tokens = cached_tokens + excluded.cached_tokens, output_tokens = output_tokens + excluded.output_tokens,
       cost_nano = cost_nano + excluded.cost_nano, unpriced = unpriced + excluded.unpriced`,
      r.hour,
      r.key,
      r.model,
      r.node,
      r.requests,
      r.errors,
      r.inputTokens,
      r.cachedTokens,
      r.outputTokens,
      r.costNano,
      r.unpriced,
    );
  }

  /**
   * Tests only: refuse the next `count` batches, as an overloaded or restarting object
   * would, so the isolate's re-queue and retry can be shown against the real object.
   * In memory; nothing in the request path calls it.
   */
  async failNextRecords(count: number): Promise<void> {
    this.failing = count;
  }

  /**
   * Tests only: apply the next `count` batches, then answer each with an error — a call whose
   * write landed but whose answer the isolate never saw (a connection lost on the way back).
   */
  async loseNextReplies(count: number): Promise<void> {
    this.losing = count;
  }

  /**
   * Every count since the first row, per key × model × node: the retained hours plus what
   * retention folded into `retired` — what the Prometheus counters read, so they never go
   * down. `live` is 1 when this shard still holds a retained hour of the group.
   */
  async allTime(): Promise<(UsageGroup & { live: number })[]> {
    const cols = `key, model, node, requests, errors, input_tokens, cached_tokens, output_tokens, cost_nano, unpriced`;
    return this.sql
      .exec(
        `SELECT key, model, node, ${SUMS}, MAX(live) AS live FROM (SELECT ${cols}, 1 AS live FROM rollups UNION ALL SELECT ${cols}, 0 AS live FROM retired)
         GROUP BY key, model, node ORDER BY key, model, node`,
      )
      .toArray() as unknown as (UsageGroup & { live: number })[];
  }

  /** Sums over [from, to) by hour start, filtered, grouped; ordered by the groups. */
  async query(q: UsageQuery): Promise<UsageGroup[]> {
    const where = ['hour >= ?', 'hour < ?'];
    const args: (string | number)[] = [q.from, q.to];
    for (const f of ['key', 'model', 'node'] as const) {
      const v = q[f];
      if (v !== undefined) {
        where.push(`${f} = ?`);
        args.push(v);
      }
    }
    const groups = q.groupBy.map((g) => `${GROUP_SQL[g]} AS ${g}`);
    const by = q.groupBy.length ? ` GROUP BY ${q.groupBy.join(', ')} ORDER BY ${q.groupBy.join(', ')}` : '';
    const rows = this.sql.exec(`SELECT ${[...groups, SUMS].join(', ')} FROM rollups WHERE ${where.join(' AND ')}${by}`, ...args).toArray();
    return rows.filter((r) => r.requests !== null) as unknown as UsageGroup[];
  }

  /** Daily: hours past retention leave `rollups`, their counts kept in `retired` (one transaction). */
  override async alarm(): Promise<void> {
    const before = Date.now() - RETENTION_DAYS * DAY_MS;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        `INSERT INTO retired SELECT key, model, node, SUM(requests), SUM(errors), SUM(input_tokens), SUM(cached_tokens), SUM(output_tokens),
         SUM(cost_nano), SUM(unpriced) FROM rollups WHERE hour < ? GROUP BY key, model, node
         ON CONFLICT (key, model, node) DO UPDATE SET requests = requests + excluded.requests, errors = errors + excluded.errors,
         input_tokens = input_tokens + excluded.input_tokens, cached_tokens = cached_tokens + excluded.cached_tokens,
         output_tokens = output_tokens + excluded.output_tokens, cost_nano = cost_nano + excluded.cost_nano, unpriced = unpriced + excluded.unpriced`,
        before,
      );
      this.sql.exec(`DELETE FROM rollups WHERE hour < ?`, before);
    });
    await this.ctx.storage.setAlarm(Date.now() + DAY_MS);
  }
}
