import { beforeEach, describe, expect, it } from 'vitest';
import { msUntilDue, recordUsage, resetUsageBatch, takeDueBatch, taken } from '../../src/limits/usage-batch';

const u = (p: number, c: number) => ({ prompt_tokens: p, completion_tokens: c });
beforeEach(resetUsageBatch);

describe('usage batch: when due, and sent again', () => {
  it('says how long until the pending totals are due, and nothing when none are pending', () => {
    expect(msUntilDue(0)).toBeNull();
    recordUsage('a', u(1, 1));
    expect(msUntilDue(1_000)).toBe(0); // an isolate's first batch is due at once
    const first = takeDueBatch(1_000)!;
    taken('a', first.get('a')!);
    recordUsage('a', u(1, 1));
    expect(msUntilDue(3_000)).toBe(3_000); // the 5 s interval from the last flush
  });

  it('sends a batch whose call failed again as it was, same number, and holds what came meanwhile for the next', () => {
    recordUsage('a', u(10, 2));
    const failed = takeDueBatch(0)!.get('a')!;
    // Its reply was lost: the object may have taken it. Not taken here, so it is sent again.
    recordUsage('a', u(5, 1));
    recordUsage('b', u(1, 1));
    expect(msUntilDue(1_000)).toBe(4_000); // a batch sent again waits the interval: an outage is no busy loop
    const again = takeDueBatch(10_000)!;
    expect(again.get('a')).toEqual(failed);
    expect(again.get('a')!.delta).toEqual({ requests: 1, promptTokens: 10, completionTokens: 2 });
    expect(again.get('b')!.delta).toEqual({ requests: 1, promptTokens: 1, completionTokens: 1 });
    expect(again.get('b')!.from.seq).toBeGreaterThan(failed.from.seq);
    taken('a', again.get('a')!);
    taken('b', again.get('b')!);
    const next = takeDueBatch(20_000)!;
    expect(next.get('a')!.delta).toEqual({ requests: 1, promptTokens: 5, completionTokens: 1 });
    expect(next.get('a')!.from.seq).toBeGreaterThan(again.get('b')!.from.seq);
    expect(next.has('b')).toBe(false);
  });
});
