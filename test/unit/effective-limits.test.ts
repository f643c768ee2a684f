import { describe, expect, it } from 'vitest';
import { effectiveLimits } from '../../src/admin/effective-limits';

describe('effectiveLimits', () => {
  it('shows a budget inherited from limits.defaults as the default, not as unset', () => {
    expect(effectiveLimits(undefined, { dailyUsd: 50, monthlyUsd: 900 })).toEqual({
      dailyUsd: { value: 50, from: 'default' },
      monthlyUsd: { value: 900, from: 'default' },
    });
  });

  it("takes the key's own field over the default, field by field, as admission does", () => {
    expect(effectiveLimits({ rpm: 10, dailyUsd: 5 }, { rpm: 600, tpm: 1000, dailyUsd: 50 })).toEqual({
      rpm: { value: 10, from: 'key' },
      tpm: { value: 1000, from: 'default' },
      dailyUsd: { value: 5, from: 'key' },
    });
  });

  it('leaves out what neither sets (unlimited)', () => {
    expect(effectiveLimits({}, {})).toEqual({});
  });
});
