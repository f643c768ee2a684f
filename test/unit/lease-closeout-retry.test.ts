/**
 * The close-out of an isolate's leases when the key's limits change: the old leases stop
 * admitting and report what they did not use, so it returns to the key at once. The old
 * client is then forgotten, so no later request would ever carry a report whose call failed:
 * it is sent again, as other reports are (README "Leased admission": after 0.1 s, 1 s, 5 s).
 */
import { describe, expect, it } from 'vitest';
import { Leases, type Subject } from '../../src/limits/leases';
import { lossyLink, turns } from './lease-link';

/**
 * An isolate's leases on a key with tpm 100,000, over a link that loses the first close-out
 * (reports only, ttl 0; everything else lands), after enough demand for a lease — every request
 * ended. `work` collects what was deferred.
 */
async function leaseGranted() {
  const { ledger, authority } = lossyLink('c');
  const work: Promise<unknown>[] = [];
  const defer = (p: Promise<unknown>) => void work.push(p.catch(() => undefined));
  const leases = new Leases({ now: () => 0, sleep: () => Promise.resolve() });
  const subject: Subject = { name: 'key:k', authority, limits: { tpm: 100_000 }, ttlMs: 10_000, leaseMs: 60_000, leases: true };
  for (let i = 0; i < 6; i++) {
    const r = await leases.admit(subject, 100, defer);
    if (!r.ok) throw new Error('refused');
    r.settle({ usage: { prompt_tokens: 1, completion_tokens: 0 } });
    await turns();
  }
  return { ledger, work, defer, leases, subject };
}

describe('a close-out whose call failed', () => {
  it('is sent again: the old lease gives back what it did not use without waiting for its expiry', async () => {
    const { ledger, work, defer, leases, subject: before } = await leaseGranted();
    const lease = ledger.log.find((e) => e.requests > 1);
    expect(lease?.end).toBeNull(); // granted and still held

    // An operator lowers tpm: the next request closes the old lease out.
    const after: Subject = { ...before, limits: { tpm: 50_000 } };
    const r = await leases.admit(after, 100, defer);
    if (!r.ok) throw new Error('refused');
    for (let i = 0; i < work.length; i++) await work[i];
    await turns();

    // Ended (its unused tokens back with the key), or already dropped from the window.
    const now = ledger.log.find((e) => e.id === lease!.id);
    expect(now === undefined || now.end !== null).toBe(true);
    expect(ledger.log.filter((e) => e.end === null)).toHaveLength(1); // the request at hand alone
  });
});

describe('an admin flush whose call failed', () => {
  it('is sent again in the background: the closed leases give back what they did not use with no later request', async () => {
    const { ledger, work, defer, leases, subject } = await leaseGranted();
    for (let i = 0; i < work.length; i++) await work[i];
    work.length = 0;
    const lease = ledger.log.find((e) => e.requests > 1);
    expect(lease?.end).toBeNull();

    await leases.flush(subject, defer); // lost: its leases admit no more, and no request follows
    for (let i = 0; i < work.length; i++) await work[i];

    expect(ledger.log.filter((e) => e.end === null)).toHaveLength(0);
  });
});
