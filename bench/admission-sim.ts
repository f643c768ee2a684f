/**
 * `npm run sim:admission` — what admission adds to each request, by the caller's colo,
 * when the key's RateLimiter object lives in one colo (where the key was first used:
 * Ashburn here). Before: every request waits one round trip to the object (exact per
 * request, `limits.leases.enabled: false`). After: leased admission. Both run the
 * router's own admission code (`Leases`, `Ledger`) in the simulated world of
 * `admission-world.ts`, with the same arrivals.
 *
 * Round trips to Ashburn are typical public figures (WonderNetwork's city-to-city ping
 * medians, rounded); each message takes half, ±15% jitter.
 * Knobs: SIM_SEED (default 42), SIM_MINUTES (default 5), SIM_RPM (the key's rpm, default
 * 20,000: far from reached; try 3,000 for a key near its limit), SIM_DAILY_USD (a spend
 * budget per UTC day; each request's worst case $0.001–$0.01, its real cost below it).
 */
import { overAdmission, overSpend, runWorld, type Colo } from './admission-world.ts';
import { percentile, fmt } from './harness.ts';

const SEED = Number(process.env.SIM_SEED ?? 42);
const MINUTES = Number(process.env.SIM_MINUTES ?? 5);
const RPM = Number(process.env.SIM_RPM ?? 20_000);

/** Colo, round trip to IAD (ms), requests per second arriving there. */
const COLOS: Colo[] = [
  ['IAD', 2, 8],
  ['ORD', 18, 5],
  ['DFW', 32, 5],
  ['LAX', 62, 5],
  ['SEA', 68, 2],
  ['GRU', 115, 2],
  ['LHR', 76, 5],
  ['FRA', 88, 5],
  ['AMS', 82, 3],
  ['BOM', 185, 2],
  ['SIN', 215, 3],
  ['NRT', 150, 4],
  ['SYD', 200, 2],
  ['JNB', 225, 1],
].map(([name, rttMs, ratePerS]) => ({ name: name as string, rttMs: rttMs as number, ratePerS: ratePerS as number, isolates: 2 }));

const DAILY_USD = process.env.SIM_DAILY_USD === undefined ? undefined : Number(process.env.SIM_DAILY_USD);
const limits = { rpm: RPM, tpm: RPM * 2_000, ...(DAILY_USD === undefined ? {} : { dayNano: Math.round(DAILY_USD * 1e9) }) };
const cost: [number, number] | undefined = DAILY_USD === undefined ? undefined : [1e6, 1e7];
const total = COLOS.reduce((n, c) => n + c.ratePerS, 0);
console.log(`Admission latency by colo — key's object in IAD, ${MINUTES} simulated min, ${total} req/s over ${COLOS.length} colos × 2 isolates, rpm ${RPM} (demand ${total * 60}/min), seed ${SEED}\n`);
const world = (leases: boolean) => runWorld({ seed: SEED, limits, colos: COLOS, durationMs: MINUTES * 60_000, leases, ...(cost ? { cost } : {}) });
const [before, after] = [await world(false), await world(true)];

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(`${'colo'.padEnd(5)} ${'RTT'.padStart(5)}   ${'before: mean'.padStart(12)} ${'p50'.padStart(6)} ${'p99'.padStart(6)}   ${'after: mean'.padStart(11)} ${'p50'.padStart(6)} ${'p99'.padStart(6)}  no wait`);
for (const c of COLOS) {
  const b = before.latency.get(c.name) ?? [];
  const a = after.latency.get(c.name) ?? [];
  const noWait = a.filter((x) => x === 0).length / a.length;
  console.log(
    `${c.name.padEnd(5)} ${String(c.rttMs).padStart(5)}   ${fmt(mean(b), 1).padStart(12)} ${fmt(percentile(b, 50), 1).padStart(6)} ${fmt(percentile(b, 99), 1).padStart(6)}   ` +
      `${fmt(mean(a), 1).padStart(11)} ${fmt(percentile(a, 50), 1).padStart(6)} ${fmt(percentile(a, 99), 1).padStart(6)}  ${fmt(100 * noWait, 1).padStart(6)}%`,
  );
}
const all = (r: typeof before) => [...r.latency.values()].flat();
console.log(`\nall   mean before ${fmt(mean(all(before)), 1)} ms → after ${fmt(mean(all(after)), 1)} ms`);
for (const [name, r] of [['before', before], ['after', after]] as const) {
  const over = overAdmission(r.admitted, limits);
  const spend = overSpend(r.admitted, limits);
  const calls = (r.calls.awaited + r.calls.background) / r.requests;
  const perS = Array.from(r.callsPerS, (n) => n ?? 0).slice(0, MINUTES * 60);
  console.log(
    `${name.padEnd(6)} admitted ${r.admitted.length}/${r.requests}, refused ${r.refused}; object calls per request: awaited ${fmt(r.calls.awaited / r.requests, 3)}, all ${fmt(calls, 3)}` +
      ` (per second: mean ${fmt(perS.reduce((a, b) => a + b, 0) / perS.length, 1)}, busiest ${Math.max(...perS)}); ` +
      `over-admission: ${Math.max(0, over.requests, over.tokens)}` +
      (DAILY_USD === undefined ? '' : `; spent $${fmt(r.admitted.reduce((n, a) => n + a.cost, 0) / 1e9, 3)} of $${DAILY_USD}, overspend $${fmt(Math.max(0, spend.day) / 1e9, 6)}`),
  );
}
