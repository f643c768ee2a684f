/**
 * How usage rows are spread over the UsageRollups objects, and how answers from several are
 * summed. Pure. Each isolate sends all its rows to one shard, picked at random when it first
 * flushes: the isolates' calls and rows divide evenly over `usage.shards`, however skewed the
 * traffic over keys is. (Sharding by key would leave the shard of the busiest key one call
 * from every isolate's every batch: `npm run sim:scale`.) A key's rows are therefore spread
 * over shards, and queries ask every shard and merge the groups exactly (integer sums; cost
 * in nano-dollars). Shard 0 keeps the name `global` that the single object had, so its rows
 * stay readable after sharding.
 */

/** A shard index from a uniform draw in [0, 1). */
export const pickShard = (shards: number, draw: number): number => Math.min(shards - 1, Math.floor(draw * shards));

/** The object's name: `global` for shard 0 (the pre-sharding object), `shard:<i>` after. */
export const shardName = (i: number): string => (i === 0 ? 'global' : `shard:${i}`);

const SUMS = ['requests', 'errors', 'inputTokens', 'cachedTokens', 'outputTokens', 'costNano', 'unpriced'] as const;
/** What `mergeGroups` sums: a query's counts (`rollups-do.ts` UsageGroup), declared here so
 * that this module stays free of the Workers runtime (the scale model imports it). */
type Summed = Record<(typeof SUMS)[number], number>;

/** Sum the shards' groups that share every grouped value; ordered by the groups, as one object orders them. */
export function mergeGroups<G extends Summed & Partial<Record<K, string | number>>, K extends string>(parts: G[][], groupBy: readonly K[]): G[] {
  const byId = new Map<string, G>();
  for (const rows of parts) {
    for (const row of rows) {
      const id = JSON.stringify(groupBy.map((g) => row[g]));
      const into = byId.get(id);
      if (!into) byId.set(id, { ...row });
      else for (const f of SUMS) into[f] += row[f];
    }
  }
  const cmp = (a: string | number | undefined, b: string | number | undefined) =>
    typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
  return [...byId.values()].sort((a, b) => {
    for (const g of groupBy) {
      const c = cmp(a[g], b[g]);
      if (c !== 0) return c;
    }
    return 0;
  });
}
