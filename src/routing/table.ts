/**
 * The request path's view of routing: the caller colo's table from KV (`route:<COLO>`),
 * read with `cacheTtl` and memoised in the isolate, so a request makes at most one KV read
 * and usually none. A colo the HealthMonitor has not published yet (no samples seen there
 * before the last publish) uses `route:_default` (health only; the geo prior is computed
 * from the caller's own coordinates) — a second read, once per memo period.
 */
import { routeKey } from '../health/monitor-do';
import type { RouteTable } from './scores';

const MEMO_MS = 10_000;
const MEMO_MAX = 500;
/** Seconds KV may serve a cached copy at the edge (KV's minimum is 30). */
const CACHE_TTL_S = 30;
const memo = new Map<string, { table: RouteTable | null; expires: number }>();

export async function loadRouteTable(kv: KVNamespace, colo: string | undefined): Promise<RouteTable | null> {
  const key = colo ?? '_default';
  const now = Date.now();
  const hit = memo.get(key);
  if (hit && hit.expires > now) return hit.table;
  let table = await kv.get<RouteTable>(routeKey(key), { type: 'json', cacheTtl: CACHE_TTL_S });
  if (!table && colo) table = await kv.get<RouteTable>(routeKey('_default'), { type: 'json', cacheTtl: CACHE_TTL_S });
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(key, { table, expires: now + MEMO_MS });
  return table;
}

/** Test hook: forget memoised tables. */
export function clearRouteMemo(): void {
  memo.clear();
}
