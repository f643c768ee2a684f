/**
 * Sends the isolate's batch of unlimited keys' totals (`limits/usage-batch.ts`) from the
 * request's own `waitUntil`, as the rollups do: at once when due, else after sleeping until
 * it is (at most the batch's 5 s interval), so the last request before an isolate goes idle
 * still sends it. A key whose call fails is sent again, as it was, with the next batch, tried
 * again in this `waitUntil` while within `WAIT_BUDGET_MS`, then left for the next request.
 * One request's `waitUntil` holds the timer; a request that adds to a batch already scheduled
 * keeps nothing alive (the scheduled run loops until nothing is due, so it sends that too).
 */
import { onIsolateReset } from '../isolate';
import { HeldFlush } from './held-flush';
import type { RateLimiter } from '../limits/limiter-do';
import { msUntilDue, takeDueBatch, taken } from '../limits/usage-batch';

const WAIT_BUDGET_MS = 25_000;
const scheduled = new HeldFlush(WAIT_BUDGET_MS);
onIsolateReset(() => scheduled.reset());

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Undefined when a flush is already scheduled that sends what is pending (the request that
 * scheduled it holds it); a batch that falls due after that run's budget ends gets its own.
 */
export function flushTotalsWhenDue(ns: DurableObjectNamespace<RateLimiter>): Promise<void> | undefined {
  const now = Date.now();
  if (scheduled.covers(now + (msUntilDue(now) ?? 0))) return undefined;
  return scheduled.start(async (started) => {
    for (;;) {
      const wait = msUntilDue(Date.now());
      if (wait === null) return;
      if (Date.now() + wait - started > WAIT_BUDGET_MS) return; // still pending: the next request's flush sends it
      if (wait > 0) await sleep(wait);
      const batch = takeDueBatch(Date.now());
      if (!batch) continue;
      const entries = [...batch];
      const sent = await Promise.allSettled(entries.map(([id, b]) => ns.getByName(`key:${id}`).addTotals(b.delta, b.from)));
      entries.forEach(([id, b], i) => sent[i]!.status === 'fulfilled' && taken(id, b));
      if (msUntilDue(Date.now()) === null) return;
    }
  });
}
