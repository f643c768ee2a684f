/**
 * `GET /admin/usage`: requests, errors, tokens and cost from the rollups, over a time range,
 * filtered by key, model and node, grouped by any of key, model, node, hour, day; JSON, or
 * CSV with `format=csv`. The answering isolate sends its pending rows first.
 */
import { Hono } from 'hono/tiny';
import * as z from 'zod';
import type { AppEnv } from '../bindings';
import { formatIssues, loadConfig } from '../config/load';
import { RouterError } from '../errors/router-error';
import { queryUsage } from '../usage/query';
import { DAY_MS, GROUPS, HOUR_MS, RETENTION_DAYS, type UsageGroup } from '../usage/rollups-do';

/**
 * A time: ms since epoch, or an ISO 8601 date(-time). A `+` offset typed into a URL unencoded
 * (`…T00:00:00+05:30`) arrives as a space (form decoding): read as the `+` it was.
 */
const time = z
  .string()
  .transform((s) => s.replace(/^(\d{4}-\d\d-\d\d[T ][\d:.]+) (\d\d:?\d\d)$/, '$1+$2'))
  .transform((s) => (/^\d+$/.test(s) ? Number(s) : /^\d{4}-\d\d-\d\d([T ][\d:.]+(Z|[+-]\d\d:?\d\d)?)?$/.test(s) ? Date.parse(s) : NaN))
  .refine((t) => Number.isFinite(t), 'ms since epoch, or an ISO 8601 date or date-time')
  .refine((t) => t >= 0 && t < 253_402_300_800_000, 'a time from 1970-01-01 to 9999-12-31 (a larger one cannot be shown as a date)');

const QuerySchema = z
  .strictObject({
    from: time.optional(),
    to: time.optional(),
    key: z.string().min(1).optional(),
    model: z.string().min(1).optional(),
    node: z.string().min(1).optional(),
    groupBy: z
      .string()
      .transform((s) => s.split(',').filter(Boolean))
      .pipe(z.array(z.enum(GROUPS)).refine((g) => new Set(g).size === g.length, 'each group once'))
      .optional(),
    format: z.enum(['json', 'csv']).default('json'),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, { message: 'from must be before to', path: ['from'] });

const COLUMNS = ['requests', 'errors', 'inputTokens', 'cachedTokens', 'outputTokens', 'costUsd', 'unpriced'] as const;

function present(g: UsageGroup) {
  const out: Record<string, string | number> = {};
  for (const k of ['key', 'model', 'node'] as const) if (g[k] !== undefined) out[k] = g[k];
  for (const k of ['hour', 'day'] as const) if (g[k] !== undefined) out[k] = new Date(Number(g[k])).toISOString();
  return { ...out, requests: g.requests, errors: g.errors, inputTokens: g.inputTokens, cachedTokens: g.cachedTokens, outputTokens: g.outputTokens, costUsd: g.costNano / 1e9, unpriced: g.unpriced };
}

const floorHour = (t: number) => t - (((t % HOUR_MS) + HOUR_MS) % HOUR_MS);
const ceilHour = (t: number) => floorHour(t - 1) + HOUR_MS;

/** RFC 4180: quote a field that holds a comma, quote or line break; double its quotes. */
const csvField = (v: unknown) => {
  const s = String(v ?? '');
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export const usageRoutes = new Hono<AppEnv>().get('/usage', async (c) => {
  const parsed = QuerySchema.safeParse(c.req.query());
  if (!parsed.success) throw new RouterError(400, `Invalid usage query: ${formatIssues(parsed.error)}`, { code: 'invalid_query' });
  const q = parsed.data;
  const now = Date.now();
  // Rows are hourly: the answer covers whole hours, from the start of the hour that holds
  // `from` to the end of the hour that holds the instant before `to`, and says so.
  const to = q.to === undefined ? floorHour(now) + HOUR_MS : ceilHour(q.to);
  const from = floorHour(q.from ?? to - DAY_MS);
  // `from` alone may pass the default `to`: refused as a range given whole is.
  if (from >= to) throw new RouterError(400, 'Invalid usage query: from: from must be before to (default: the end of this hour)', { code: 'invalid_query', param: 'from' });
  const groupBy = q.groupBy ?? [];
  const shards = loadConfig(c.env).usage.shards;
  const rows = (await queryUsage(c.env.USAGE_ROLLUPS, shards, { from, to, key: q.key, model: q.model, node: q.node, groupBy })).map(present);
  if (q.format === 'csv') {
    const header = [...groupBy, ...COLUMNS];
    const lines = [header.join(','), ...rows.map((r) => header.map((h) => csvField((r as Record<string, unknown>)[h])).join(','))];
    return c.body(lines.join('\r\n') + '\r\n', 200, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': 'attachment; filename="usage.csv"' });
  }
  return c.json({ object: 'usage', granularity: 'hour', from: new Date(from).toISOString(), to: new Date(to).toISOString(), groupBy, retentionDays: RETENTION_DAYS, data: rows });
});
