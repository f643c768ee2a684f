/**
 * Which UsageRollups object holds a key's rows, and how answers from several are summed.
 * Pure. A key's rows go to shard `fnv1a(keyId) mod usage.shards`; shard 0 keeps the name
 * `global` that the single object had, so its rows stay readable after sharding.
 * Queries ask every shard and merge groups exactly (integer sums; cost in nano-dollars).
 */

/** What `mergeGroups` sums: a query's counts (`rollups-do.ts` UsageGroup), declared here so
 * that this module stays free of the Workers runtime (the scale model imports it). */
type Summed = Record<(typeof SUMS)[number], number>;

/** FNV-1a, 32 bits: cheap, stable across isolates and deploys, spreads ids evenly. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export const shardOf = (keyId: string, shards: number): number => fnv1a(keyId) % shards;

/** The object's name: `global` for shard 0 (the pre-sharding object), `shard:<i>` after. */
export const shardName = (i: number): string => (i === 0 ? 'global' : `shard:${i}`);

const SUMS = ['requests', 'errors', 'inputTokens', 'cachedTokens', 'outputTokens', 'costNano', 'unpriced'] as const;

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
