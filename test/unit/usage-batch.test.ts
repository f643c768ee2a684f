import { beforeEach, describe, expect, it } from 'vitest';
import { recordUsage, resetUsageBatch, takeDueBatch, taken } from '../../src/limits/usage-batch';

const u = (p: number, c: number) => ({ prompt_tokens: p, completion_tokens: c });
beforeEach(resetUsageBatch);

describe('usage batch (keys without limits)', () => {
  it('flushes on the first request of an isolate, then waits for the interval', () => {
    recordUsage('a', u(10, 2));
    const first = takeDueBatch(1_000)!.get('a')!;
    expect(first.delta).toEqual({ requests: 1, promptTokens: 10, completionTokens: 2 });
    taken('a', first);
    recordUsage('a', u(5, 1));
    recordUsage('a', undefined);
    expect(takeDueBatch(3_000)).toBeNull();
    expect(takeDueBatch(6_000)?.get('a')?.delta).toEqual({ requests: 2, promptTokens: 5, completionTokens: 1 });
  });

  it('flushes early when many keys are pending', () => {
    recordUsage('x', u(1, 1));
    taken('x', takeDueBatch(0)!.get('x')!);
    for (let i = 0; i < 100; i++) recordUsage(`k${i}`, u(1, 1));
    expect(takeDueBatch(10)?.size).toBe(100);
  });

  it('has nothing to flush when nothing was recorded', () => {
    expect(takeDueBatch(0)).toBeNull();
  });
});
