/**
 * A report whose call failed is sent again — but the lease may have changed meanwhile: one of
 * its requests reserved another attempt through the authority. The authority takes a report's
 * tokens and cost as they are, so the report sent again must say what the lease holds now, not
 * what it held when first taken, or it undoes that reservation (README "Leased admission").
 */
import { describe, expect, it } from 'vitest';
import { Leases, type Subject } from '../../src/limits/leases';
import { lossyLink, turns } from './lease-link';
import { budgetUse, usageAt } from '../../src/limits/window';


describe('a report sent again after its call failed', () => {
  it('does not undo another attempt\'s reservation made in between: tokens and spend still count it', async () => {
    // The first close-out (reports only, ttl 0) is lost on the link; everything else lands.
    const { ledger, authority } = lossyLink('r');
    const defer = (work: Promise<unknown>) => void work.catch(() => undefined);
    const leases = new Leases({ now: () => 0, sleep: () => new Promise(() => undefined) });
    const limits = { tpm: 100_000, dayNano: 1_000_000 };
    const subject: Subject = { name: 'key:k', authority, limits, ttlMs: 10_000, leaseMs: 60_000, leases: true };

    // Enough demand for a lease; every request but the last ends at 1 token and 1 nano-USD.
    let last;
    for (let i = 0; i < 6; i++) {
      const r = await leases.admit(subject, 100, defer, 50);
      if (!r.ok) throw new Error('refused');
      if (i < 5) r.settle({ usage: { prompt_tokens: 1, completion_tokens: 0 }, costUsd: 1e-9 });
      last = r;
      await turns();
    }
    if (!last?.ok || !last.local) throw new Error('the last request should come from a lease');

    await leases.flush(subject); // its report (the last request in flight at 100 tokens, 50 nano) is lost, re-queued
    expect(await last.extend()).toEqual({ ok: true }); // the first attempt hung: another reserves 100 and 50 more
    await leases.flush(subject); // the re-queued report goes now

    // 5 requests at 1 token and 1 nano, the last at two attempts' reservations and worst cases.
    expect(usageAt(ledger.log, 0).tokens).toBe(5 + 200);
    expect(budgetUse(ledger.log, ledger.spent(0), 0).day).toBe(5 + 100);
  });
});
