/**
 * The request path's view of routing: the caller colo's table from KV (`route:<COLO>`),
 * read with `cacheTtl` and memoised in the isolate, so a request makes at most one KV read
 * and usually none. A colo the HealthMonitor has not published yet (no samples seen there
 * before the last publish) uses `route:_default` (health only; the geo prior is computed
 * from the caller's own coordinates) — a second read, once per memo period.
 */
import type { RouteTable } from './scores';
import { onIsolateReset } from '../isolate';

/** KV key of a colo's published table (`_default` for colos without one). */
export const routeKey = (colo: string) => `route:${colo}`;

const MEMO_MS = 10_000;
const MEMO_MAX = 500;
/** After a failed read, the geo prior alone is used this long before KV is asked again. */
const FAILED_MEMO_MS = 1_000;
/** Seconds KV may serve a cached copy at the edge (KV's minimum is 30). */
const CACHE_TTL_S = 30;
const memo = new Map<string, { table: RouteTable | null; expires: number }>();

/**
 * Never throws: a table is an optimisation, so a KV failure or a corrupt value routes on the
 * geo prior alone (logged, and retried after `FAILED_MEMO_MS`) rather than failing a request
 * that has already been admitted.
 */
export async function loadRouteTable(kv: KVNamespace, colo: string | undefined): Promise<RouteTable | null> {
  const key = colo ?? '_default';
  const now = Date.now();
  const hit = memo.get(key);
  if (hit && hit.expires > now) return hit.table;
  let table: RouteTable | null = null;
  let ttl = MEMO_MS;
  try {
    table = await kv.get<RouteTable>(routeKey(key), { type: 'json', cacheTtl: CACHE_TTL_S });
    if (!table && colo) table = await kv.get<RouteTable>(routeKey('_default'), { type: 'json', cacheTtl: CACHE_TTL_S });
  } catch (err) {
    console.error(JSON.stringify({ event: 'route_table_unreadable', colo: key, error: String(err) }));
    ttl = FAILED_MEMO_MS;
  }
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(key, { table, expires: now + ttl });
  return table;
}

/** The tables of these colos as published, not through the request path's memo (admin views want the newest). */
export async function publishedTables(kv: KVNamespace, colos: string[]): Promise<RouteTable[]> {
  const tables = await Promise.all(colos.map((colo) => kv.get<RouteTable>(routeKey(colo), 'json').catch(() => null)));
  return tables.filter((t) => t !== null);
}

/** Forget memoised tables (the routing tests read a table just published). */
export function clearRouteMemo(): void {
  memo.clear();
}
onIsolateReset(clearRouteMemo);
