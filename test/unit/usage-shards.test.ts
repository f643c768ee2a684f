import { describe, expect, it } from 'vitest';
import type { UsageGroup } from '../../src/usage/rollups-do';
import { mergeGroups, pickShard, shardName } from '../../src/usage/shards';

const g = (extra: Partial<UsageGroup>, requests: number): UsageGroup =>
  ({ requests, errors: 0, inputTokens: requests * 10, cachedTokens: 0, outputTokens: requests, costNano: requests * 7, unpriced: 0, ...extra }) as UsageGroup;

describe('usage shards', () => {
  it('maps a uniform draw onto every shard, evenly, and never past the last', () => {
    const hits = new Array<number>(16).fill(0);
    for (let i = 0; i < 1600; i++) hits[pickShard(16, i / 1600)]!++;
    expect(hits).toEqual(new Array<number>(16).fill(100));
    expect(pickShard(16, 0.999999999)).toBe(15);
    expect(pickShard(1, 0.7)).toBe(0);
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
