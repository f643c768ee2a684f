/**
 * The link between an isolate's leases and the key's object, as the lease unit tests need it:
 * an authority over a `Ledger` whose first close-out (a reports-only sync, ttl 0) is lost, and
 * a wait for the event loop to run what was queued.
 */
import type { Authority } from '../../src/limits/leases';
import { Ledger, type SyncRequest } from '../../src/limits/ledger';

/** Lets `n` rounds of queued callbacks run. */
export async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

/** A ledger and an authority over it that loses the first close-out on the link; everything else lands. Ids are `prefix` + a count. */
export function lossyLink(prefix: string): { ledger: Ledger; authority: Authority } {
  const ledger = new Ledger([]);
  let ids = 0;
  let lose = 1;
  const authority: Authority = {
    sync: async (req: SyncRequest) => {
      if (req.ttlMs === 0 && lose > 0) {
        lose--;
        throw new Error('link lost');
      }
      return structuredClone(ledger.sync(structuredClone(req), 0, () => `${prefix}${ids++}`));
    },
    extend: async (id, limits, tokens, cost) => ledger.extend(id, limits, tokens, cost, 0),
  };
  return { ledger, authority };
}
