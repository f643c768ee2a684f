import { beforeEach, describe, expect, it } from 'vitest';
import { msUntilDue, recordUsage, requeue, resetUsageBatch, takeDueBatch } from '../../src/limits/usage-batch';

const u = (p: number, c: number) => ({ prompt_tokens: p, completion_tokens: c });
beforeEach(resetUsageBatch);

describe('usage batch: when due, and re-queued', () => {
  it('says how long until the pending totals are due, and nothing when none are pending', () => {
    expect(msUntilDue(0)).toBeNull();
    recordUsage('a', u(1, 1));
    expect(msUntilDue(1_000)).toBe(0); // an isolate's first batch is due at once
    takeDueBatch(1_000);
    recordUsage('a', u(1, 1));
    expect(msUntilDue(3_000)).toBe(3_000); // the 5 s interval from the last flush
  });

  it('puts a failed batch back onto what arrived meanwhile, so the next batch carries both', () => {
    recordUsage('a', u(10, 2));
    const failed = takeDueBatch(0)!;
    recordUsage('a', u(5, 1));
    recordUsage('b', u(1, 1));
    requeue(failed);
    const next = takeDueBatch(10_000)!;
    expect(next.get('a')).toEqual({ requests: 2, promptTokens: 15, completionTokens: 3 });
    expect(next.get('b')).toEqual({ requests: 1, promptTokens: 1, completionTokens: 1 });
  });
});
