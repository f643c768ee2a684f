import { describe, expect, it } from 'vitest';
import type { UsageGroup } from '../../src/usage/rollups-do';
import { mergeGroups, shardName, shardOf } from '../../src/usage/shards';

const g = (extra: Partial<UsageGroup>, requests: number): UsageGroup =>
  ({ requests, errors: 0, inputTokens: requests * 10, cachedTokens: 0, outputTokens: requests, costNano: requests * 7, unpriced: 0, ...extra }) as UsageGroup;

describe('usage shards', () => {
  it('puts a key in the same shard every time, and spreads many keys over every shard', () => {
    expect(shardOf('key_abc', 16)).toBe(shardOf('key_abc', 16));
    const used = new Set(Array.from({ length: 1000 }, (_, i) => shardOf(`key_${i.toString(16).padStart(20, '0')}`, 16)));
    expect(used.size).toBe(16);
  });

  it("keeps the single object's name for shard 0, so rows written before sharding stay readable", () => {
    expect(shardName(0)).toBe('global');
    expect(shardName(3)).toBe('shard:3');
  });

  it('sums the groups the shards share and orders them as one object would', () => {
    const merged = mergeGroups(
      [
        [g({ model: 'b', hour: 2 }, 1), g({ model: 'a', hour: 1 }, 2)],
        [g({ model: 'a', hour: 1 }, 3)],
        [],
      ],
      ['model', 'hour'],
    );
    expect(merged.map((r) => [r.model, r.hour, r.requests, r.inputTokens, r.costNano])).toEqual([
      ['a', 1, 5, 50, 35],
      ['b', 2, 1, 10, 7],
    ]);
  });

  it('sums the ungrouped totals of every shard into one row', () => {
    expect(mergeGroups([[g({}, 2)], [g({}, 5)]], [])).toEqual([g({}, 7)]);
  });
});
