/**
 * Usage as the admin views read it: this isolate's pending rows sent first, then every
 * UsageRollups shard asked in parallel and their groups summed (`shards.ts`): a group's
 * rows may sit in several shards (one per isolate that served it), and the sum is exact
 * because every count is an integer.
 */
import { flushRollups } from './rollup-batch';
import type { UsageGroup, UsageQuery, UsageRollups } from './rollups-do';
import { mergeGroups, shardName } from './shards';

export async function queryUsage(ns: DurableObjectNamespace<UsageRollups>, shards: number, q: UsageQuery): Promise<UsageGroup[]> {
  await flushRollups(ns, shards, Date.now(), true);
  // A key filter reads every shard too: a key's rows are wherever the isolates that served
  // it sent them (README "Usage and cost").
  const parts = await Promise.all(Array.from({ length: shards }, (_, i) => ns.getByName(shardName(i)).query(q)));
  return mergeGroups(parts, q.groupBy);
}

/** The labels the usage counters may carry. */
export type CounterLabel = 'key' | 'model' | 'node';

/**
 * Every count since the first row, over every shard, summed by `labels` (default key × model
 * × node): what the metrics' counters read, so they never go down. A group with no retained
 * hour left in any shard (nothing for 90 days: a revoked key, a removed model) is left out,
 * as it was before retention kept totals — its series ends rather than the scrape growing
 * with every key ever made; should it come back, it comes back at its whole total, never lower.
 */
export async function allTimeUsage(ns: DurableObjectNamespace<UsageRollups>, shards: number, labels: readonly CounterLabel[] = ['key', 'model', 'node']): Promise<UsageGroup[]> {
  await flushRollups(ns, shards, Date.now(), true);
  const parts = await Promise.all(Array.from({ length: shards }, (_, i) => ns.getByName(shardName(i)).allTime()));
  const id = (g: UsageGroup) => JSON.stringify(labels.map((l) => g[l]));
  const live = new Set(parts.flat().flatMap((g) => (g.live ? [id(g)] : [])));
  return mergeGroups(parts, labels).filter((g) => live.has(id(g)));
}
