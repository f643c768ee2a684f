/**
 * A request's end as `Leases` settles it: whatever a provider's usage reader let through, a
 * malformed figure (negative, NaN, a string) is no usage and a malformed cost no cost — the
 * request stays at its reservation and worst case — and a second end changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { Leases, type Authority, type SettleResult, type Subject } from '../../src/limits/leases';
import { Ledger } from '../../src/limits/ledger';
import { budgetUse, usageAt } from '../../src/limits/window';

let ids = 0;
const newId = () => `s${ids++}`;

/** One request of 100 tokens and worst case 50 nano-USD, admitted exactly (leases off), ended with `result`. */
async function endedWith(...results: SettleResult[]) {
  const ledger = new Ledger([]);
  const authority: Authority = {
    sync: async (req) => structuredClone(ledger.sync(structuredClone(req), 0, newId)),
    extend: async (id, limits, tokens, cost) => ledger.extend(id, limits, tokens, cost, 0),
  };
  const work: Promise<unknown>[] = [];
  const defer = (p: Promise<unknown>) => void work.push(p.catch(() => undefined));
  const leases = new Leases({ now: () => 0, sleep: () => Promise.resolve() });
  const subject: Subject = { name: 'key:k', authority, limits: { tpm: 10_000, concurrency: 5, dayNano: 1_000 }, ttlMs: 10_000, leaseMs: 60_000, leases: false };
  const r = await leases.admit(subject, 100, defer, 50);
  if (!r.ok) throw new Error('refused');
  for (const result of results) r.settle(result);
  for (let i = 0; i < work.length; i++) await work[i];
  return { tokens: usageAt(ledger.log, 0).tokens, inFlight: usageAt(ledger.log, 0).inFlight, spent: budgetUse(ledger.log, ledger.spent(0), 0).day };
}

describe('settling a request', () => {
  it('at its usage and cost when they are sound', async () => {
    expect(await endedWith({ usage: { prompt_tokens: 7, completion_tokens: 3 }, costUsd: 20e-9 })).toEqual({ tokens: 10, inFlight: 0, spent: 20 });
  });

  it('at its reservation and worst case when a figure is negative, not a number, or not finite', async () => {
    const bad = [
      { usage: { prompt_tokens: -1_000_000, completion_tokens: 3 }, costUsd: -0.001 },
      { usage: { prompt_tokens: Number.NaN, completion_tokens: 3 }, costUsd: Number.NaN },
      { usage: { prompt_tokens: '7', completion_tokens: 3 } as unknown as { prompt_tokens: number; completion_tokens: number }, costUsd: Infinity },
    ];
    for (const result of bad) expect(await endedWith(result)).toEqual({ tokens: 100, inFlight: 0, spent: 50 });
  });

  it('once: a second end of a leased request gives its slot back only once', async () => {
    const ledger = new Ledger([]);
    const authority: Authority = {
      sync: async (req) => structuredClone(ledger.sync(structuredClone(req), 0, newId)),
      extend: async (id, limits, tokens, cost) => ledger.extend(id, limits, tokens, cost, 0),
    };
    const defer = (p: Promise<unknown>) => void p.catch(() => undefined);
    const leases = new Leases({ now: () => 0, sleep: () => new Promise(() => undefined) });
    const subject: Subject = { name: 'key:k', authority, limits: { concurrency: 100 }, ttlMs: 10_000, leaseMs: 60_000, leases: true };
    const admitted = [];
    for (let i = 0; i < 6; i++) {
      const r = await leases.admit(subject, 1, defer);
      if (!r.ok) throw new Error('refused');
      admitted.push(r);
    }
    const last = admitted.at(-1)!;
    if (!last.ok || !last.local) throw new Error('the last request should come from a lease');
    last.settle({ usage: { prompt_tokens: 1, completion_tokens: 0 } });
    last.settle({ unserved: true }); // a second end, from any path
    await leases.flush(subject);
    expect(usageAt(ledger.log, 0).inFlight).toBe(5);
  });
});
