import { describe, expect, it } from 'vitest';
import { decide, decideMore, formatReset, settledTokens, singleEntry, usageAt, WINDOW_MS, type LimitSet, type LogEntry } from '../../src/limits/window';

const LEASE = 600_000;
const entry = (id: string, at: number, tokens: number, end: number | null = at): LogEntry => ({ ...singleEntry(id, at, tokens, at + LEASE), end });

function admitMany(count: number, limits: LimitSet, at: (i: number) => number, tokens = 1) {
  const log: LogEntry[] = [];
  let admitted = 0;
  for (let i = 0; i < count; i++) {
    const d = decide(log, limits, tokens, at(i), LEASE, `r${i}`);
    if (d.ok) {
      log.push(entry(`r${i}`, at(i), tokens));
      admitted++;
    }
  }
  return { log, admitted };
}

describe('sliding-log limiter', () => {
  it('admits exactly L of a simultaneous burst', () => {
    expect(admitMany(200, { rpm: 50 }, () => 1_000).admitted).toBe(50);
  });

  it('has no 2x burst at a window boundary', () => {
    // 50 at the end of one minute, 50 more tried right after the "boundary".
    const at = (i: number) => (i < 50 ? 59_000 : 61_000);
    const { admitted } = admitMany(100, { rpm: 50 }, at);
    expect(admitted).toBe(50);
  });

  it('slides: capacity returns exactly as old entries leave the window', () => {
    const log = [entry('a', 0, 1), entry('b', 30_000, 1)];
    expect(decide(log, { rpm: 2 }, 1, 59_999, LEASE, 'c').ok).toBe(false);
    expect(decide(log, { rpm: 2 }, 1, WINDOW_MS, LEASE, 'c').ok).toBe(true);
  });

  it('never holds more than L in any 60 s window under a random arrival pattern', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const times = Array.from({ length: 3000 }, () => Math.floor(rand() * 300_000)).sort((a, b) => a - b);
    const { log } = admitMany(times.length, { rpm: 40 }, (i) => times[i]!);
    for (const e of log) {
      const inWindow = log.filter((o) => o.at > e.at - WINDOW_MS && o.at <= e.at).length;
      expect(inWindow).toBeLessThanOrEqual(40);
    }
  });

  it('says how long until a request fits', () => {
    const log = [entry('a', 10_000, 1), entry('b', 20_000, 1)];
    expect(decide(log, { rpm: 2 }, 1, 25_000, LEASE, 'c')).toMatchObject({ ok: false, limit: 'requests', retryAfterMs: 45_000 });
  });

  it('counts tokens for TPM, by cost', () => {
    const log = [entry('a', 0, 700)];
    expect(decide(log, { tpm: 1000 }, 300, 1, LEASE, 'b').ok).toBe(true);
    expect(decide(log, { tpm: 1000 }, 301, 1, LEASE, 'b')).toMatchObject({ ok: false, limit: 'tokens', retryAfterMs: 59_999 });
  });

  it('refuses a request larger than the whole TPM limit as too large, not "try again later"', () => {
    expect(decide([], { tpm: 1000 }, 1001, 0, LEASE, 'x')).toMatchObject({ ok: false, limit: 'tokens', tooLarge: true });
  });

  it('refuses past the concurrency limit: in-flight entries are the slots', () => {
    const flying = (n: number) => Array.from({ length: n }, (_, i) => entry(`f${i}`, 0, 1, null));
    expect(decide(flying(3), { concurrency: 3 }, 1, 0, LEASE, 'x')).toMatchObject({ ok: false, limit: 'concurrency' });
    expect(decide(flying(2), { concurrency: 3 }, 1, 0, LEASE, 'x').ok).toBe(true);
  });

  it('reports remaining after admission, and nothing for unset limits', () => {
    const d = decide([], { rpm: 10 }, 5, 0, LEASE, 'x');
    expect(d.snapshot).toEqual({ requests: { limit: 10, remaining: 9, resetMs: WINDOW_MS } });
  });
});

describe('tokens of long requests', () => {
  it('an in-flight request holds its tokens however old it is; its requests count still slides', () => {
    const log = [entry('long', 0, 900, null)];
    expect(usageAt(log, 10 * WINDOW_MS)).toEqual({ requests: 0, tokens: 900, inFlight: 1 });
    expect(decide(log, { tpm: 1000 }, 101, 10 * WINDOW_MS, LEASE, 'b').ok).toBe(false);
  });

  it('a settled request holds its real usage for a full window after it ended', () => {
    const log = [entry('long', 0, 2_000, 90_000)]; // admitted at 0, ended at 90 s
    expect(usageAt(log, 90_000 + WINDOW_MS - 1).tokens).toBe(2_000);
    expect(usageAt(log, 90_000 + WINDOW_MS).tokens).toBe(0);
  });

  it('keeps what upstreams produce in any 60 s under the limit when requests run longer than the window', () => {
    // Requests arrive every 5 s, each runs 100 s and produces exactly its reservation.
    const tpm = 5_000;
    const log: LogEntry[] = [];
    for (let t = 0; t < 600_000; t += 5_000) {
      for (const e of log) if (e.end === null && e.at + 100_000 <= t) e.end = e.at + 100_000;
      if (decide(log, { tpm }, 1_000, t, LEASE, `r${t}`).ok) log.push(entry(`r${t}`, t, 1_000, null));
    }
    for (let s = 0; s < 600_000; s += 1_000) {
      // Every request active at some point in (s, s + W] produced its tokens inside that span, at worst.
      const active = log.filter((e) => e.at <= s + WINDOW_MS && (e.end ?? Infinity) > s);
      expect(active.reduce((sum, e) => sum + e.tokens, 0)).toBeLessThanOrEqual(tpm);
    }
  });

  it('another attempt may reserve again only while the limit has room', () => {
    const log = [entry('a', 0, 400, null)];
    expect(decideMore(log, { tpm: 1000 }, 400, 0, 0, 1).ok).toBe(true);
    expect(decideMore(log, { tpm: 700 }, 400, 0, 0, 1)).toMatchObject({ ok: false, limit: 'tokens', used: 400, max: 700 });
    expect(decideMore(log, {}, 400, 0, 0, 1).ok).toBe(true);
  });

  it("another attempt reserves its worst-case cost again, against the budget of its admission's day", () => {
    const midnight = Date.UTC(2026, 10, 23);
    const open = { ...entry('a', midnight - 1_000, 1, null), cost: 40 };
    const spent = (day: number) => ({ at: { day, month: day }, now: { day: 0, month: 0 } });
    expect(decideMore([open], { dayNano: 100 }, 1, 40, open.at, open.at + 10, spent(20)).ok).toBe(true); // 20 + 40 + 40
    expect(decideMore([open], { dayNano: 100 }, 1, 40, open.at, open.at + 10, spent(21))).toMatchObject({ ok: false, limit: 'day', used: 61, max: 100 });
    // Past midnight it still counts in the day it was admitted in, not in the empty new one.
    expect(decideMore([open], { dayNano: 100 }, 1, 40, open.at, midnight + 10, spent(21))).toMatchObject({ ok: false, limit: 'day' });
  });

  it('settles abandoned attempts at their reservation, the final one at its usage', () => {
    const e = { reserved: 500 };
    expect(settledTokens(e, { used: 120 })).toBe(120);
    expect(settledTokens(e, { used: 120, abandoned: 1 })).toBe(620);
    expect(settledTokens(e, { unserved: true, abandoned: 2 })).toBe(1000);
    expect(settledTokens(e, {})).toBe(500); // no usage arrived: the reservation stands
    expect(settledTokens(e, { unserved: true })).toBe(0);
  });
});

describe('formatReset', () => {
  it.each([
    [20, '20ms'],
    [1000, '1s'],
    [1001, '2s'],
    [360_000, '6m0s'],
    [3_723_000, '1h2m3s'],
  ])('%i ms → %s', (ms, text) => expect(formatReset(ms)).toBe(text));
});
