/**
 * The close-out of an isolate's leases when the key's limits change: the old leases stop
 * admitting and report what they did not use, so it returns to the key at once. The old
 * client is then forgotten, so no later request would ever carry a report whose call failed:
 * it is sent again, as other reports are (README "Leased admission": after 0.1 s, 1 s, 5 s).
 */
import { describe, expect, it } from 'vitest';
import { Leases, type Authority, type Subject } from '../../src/limits/leases';
import { Ledger, type SyncRequest } from '../../src/limits/ledger';

let ids = 0;
const newId = () => `c${ids++}`;
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setTimeout(resolve, 0));
};

describe('a close-out whose call failed', () => {
  it('is sent again: the old lease gives back what it did not use without waiting for its expiry', async () => {
    const ledger = new Ledger([]);
    // The first close-out (reports only, ttl 0) is lost on the link; everything else lands.
    let lose = 1;
    const authority: Authority = {
      sync: async (req: SyncRequest) => {
        if (req.ttlMs === 0 && lose > 0) {
          lose--;
          throw new Error('link lost');
        }
        return structuredClone(ledger.sync(structuredClone(req), 0, newId));
      },
      extend: async (id, limits, tokens, cost) => ledger.extend(id, limits, tokens, cost, 0),
    };
    const work: Promise<unknown>[] = [];
    const defer = (p: Promise<unknown>) => void work.push(p.catch(() => undefined));
    const leases = new Leases({ now: () => 0, sleep: () => Promise.resolve() });
    const before: Subject = { name: 'key:k', authority, limits: { tpm: 100_000 }, ttlMs: 10_000, leaseMs: 60_000, leases: true };

    // Enough demand for a lease, every request ended.
    for (let i = 0; i < 6; i++) {
      const r = await leases.admit(before, 100, defer);
      if (!r.ok) throw new Error('refused');
      r.settle({ usage: { prompt_tokens: 1, completion_tokens: 0 } });
      await turns();
    }
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
    const ledger = new Ledger([]);
    let lose = 1;
    const authority: Authority = {
      sync: async (req: SyncRequest) => {
        if (req.ttlMs === 0 && lose > 0) {
          lose--;
          throw new Error('link lost');
        }
        return structuredClone(ledger.sync(structuredClone(req), 0, newId));
      },
      extend: async (id, limits, tokens, cost) => ledger.extend(id, limits, tokens, cost, 0),
    };
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
    for (let i = 0; i < work.length; i++) await work[i];
    work.length = 0;
    const lease = ledger.log.find((e) => e.requests > 1);
    expect(lease?.end).toBeNull();

    await leases.flush(subject, defer); // lost: its leases admit no more, and no request follows
    for (let i = 0; i < work.length; i++) await work[i];

    expect(ledger.log.filter((e) => e.end === null)).toHaveLength(0);
  });
});
