/**
 * Closing out an isolate's leases (a config change, the admin usage flush) while one of its
 * requests reserves another attempt: the close-out's report, taken before that reservation,
 * must not land after it and undo it (the authority takes a report's tokens as they are).
 */
import { describe, expect, it } from 'vitest';
import { Leases, type Authority, type Subject } from '../../src/limits/leases';
import { Ledger, type SyncRequest, type SyncResult } from '../../src/limits/ledger';
import { usageAt } from '../../src/limits/window';

let ids = 0;
const newId = () => `e${ids++}`;
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setTimeout(resolve, 0));
};

describe('a close-out racing another attempt\'s reservation', () => {
  it('the reservation made after the close-out report was taken still counts once both have landed', async () => {
    const ledger = new Ledger([]);
    // Close-outs (reports only, ttl 0) are held on the link until released; everything else lands at once.
    const held: (() => void)[] = [];
    const authority: Authority = {
      sync: (req: SyncRequest) => {
        const land = () => structuredClone(ledger.sync(structuredClone(req), 0, newId));
        if (req.ttlMs !== 0) return Promise.resolve(land());
        return new Promise<SyncResult>((resolve) => held.push(() => resolve(land())));
      },
      extend: async (id, limits, tokens, cost) => ledger.extend(id, limits, tokens, cost, 0),
    };
    const defer = (work: Promise<unknown>) => void work.catch(() => undefined);
    const leases = new Leases({ now: () => 0, sleep: () => new Promise(() => undefined) });
    const subject: Subject = { name: 'key:k', authority, limits: { tpm: 100_000 }, ttlMs: 10_000, leaseMs: 60_000, leases: true };

    // Enough demand for a lease; every request but the last ends at 1 token.
    let last;
    for (let i = 0; i < 6; i++) {
      const r = await leases.admit(subject, 100, defer);
      if (!r.ok) throw new Error('refused');
      if (i < 5) r.settle({ usage: { prompt_tokens: 1, completion_tokens: 0 } });
      last = r;
      await turns();
    }
    if (!last?.ok || !last.local) throw new Error('the last request should come from a lease');

    const flushing = leases.flush(subject); // its report (the last request in flight at 100) is on its way
    await turns();
    expect(held).toHaveLength(1);
    const extending = last.extend(); // the first attempt hung: another reserves 100 more
    await turns();
    held.shift()!(); // the close-out report lands after the reservation
    await flushing;
    expect(await extending).toEqual({ ok: true });

    // 5 requests at 1 token, the last at two attempts' reservations.
    expect(usageAt(ledger.log, 0).tokens).toBe(5 + 200);
  });
});
