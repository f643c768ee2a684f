/**
 * Usage as the admin views read it: this isolate's pending rows sent first, then every
 * UsageRollups shard asked in parallel and their groups summed (`shards.ts`). Each shard
 * holds whole keys, so per-key figures come from one shard; groups without the key (a
 * model, an hour) are sums over shards, exact because every count is an integer.
 */
import { flushRollups } from './rollup-batch';
import type { UsageGroup, UsageQuery, UsageRollups } from './rollups-do';
import { mergeGroups, shardName } from './shards';

export async function queryUsage(ns: DurableObjectNamespace<UsageRollups>, shards: number, q: UsageQuery): Promise<UsageGroup[]> {
  await flushRollups(ns, shards, Date.now(), true);
  // A key filter still reads every shard: rows written under an earlier, smaller shard
  // count live where that count put them (README "Usage and cost").
  const parts = await Promise.all(Array.from({ length: shards }, (_, i) => ns.getByName(shardName(i)).query(q)));
  return mergeGroups(parts, q.groupBy);
}
