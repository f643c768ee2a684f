/**
 * `npm run sim:scale` — load on the busiest Durable Object of every class at Cloudflare's
 * scale (not a test; a model). For 10⁴ and 10⁵ requests/s spread over 300 colos it prints,
 * per class, the calls/s and rows/s (writes) that the busiest object takes, against a
 * ceiling, and the same for the unsharded UsageRollups (one object) for comparison.
 *
 * Model (every figure a knob below; expected values, no sampling):
 * - Colos: 300, traffic Zipf(0.6) over them (busiest ≈ 4% of all).
 * - Isolates per colo: max(ISOLATES_MIN = 4, colo rps / RPS_PER_ISOLATE = 100), each taking
 *   an equal share of its colo's traffic.
 * - Keys: 10,000 active, traffic Zipf(1.0) over them (busiest ≈ 10%); a key uses
 *   ROWS_PER_KEY = 1.2 (model × node) rows per isolate batch. Keys go to rollup shards by
 *   the router's own `shardOf` (fnv1a of the id), 16 shards.
 * - UsageRollups: an isolate sends a batch every 10 s or at 200 rows, one call per shard
 *   with rows in it; a batch holds one row per key × model × node seen (expected distinct
 *   keys among n requests = Σ 1 − (1 − p_k)ⁿ).
 * - RateLimiter (one object per key, and per capped node), leased (`limits.leases.ttlMs`
 *   10 s): an isolate that sees ≥ 4 requests of the key per ttl holds a lease and calls
 *   about once per 6 s (refill at 60% of the ttl; reports ride on those calls); one that
 *   sees fewer is admitted exactly: 2 calls a request (admit, report). A key with a spend
 *   budget is shown through its day, phase by phase (`budgetPhases`). Keys without
 *   limits send their totals once per 5 s per isolate that saw them.
 * - ColoStats (one per colo): each isolate sends its samples every 5 s or at 200, one
 *   sample per attempt (ATTEMPTS_PER_REQUEST = 1.05).
 * - HealthMonitor (one): the cron once a minute, a colo registering when its ColoStats
 *   object starts (assume each restarts every 10 min), admin reads (1/s); its probes and
 *   table reads are outgoing calls, not load on it.
 * - The live view's fast channel (`routing/live-cue.ts`): the monitor pushes a clear move of a
 *   probe figure to every colo's ColoStats — at worst one push per probe cycle
 *   (`health.probeIntervalMs`, 10 s), one call to each ColoStats — and each isolate hears it in
 *   the answer to the batch it sends anyway: no call of its own. Shown beside it, the
 *   alternative not taken: every isolate asking the HealthMonitor every `ASK_EVERY_S` while it
 *   holds a node slow (all of them, when a node every colo uses slows down).
 * Ceilings: 1,000 calls/s per object (Cloudflare's documented soft limit for one Durable
 * Object); 10,000 row writes/s per object (an assumption, not measured here: single-row
 * SQLite upserts inside one call's implicit transaction).
 */
import { pickShard } from '../src/usage/shards.ts';
import { rng } from './rng.ts';

const COLOS = Number(process.env.SCALE_COLOS ?? 300);
const COLO_SKEW = 0.6;
const ISOLATES_MIN = Number(process.env.SCALE_ISOLATES_MIN ?? 4);
const RPS_PER_ISOLATE = Number(process.env.SCALE_RPS_PER_ISOLATE ?? 100);
const KEYS = Number(process.env.SCALE_KEYS ?? 10_000);
const KEY_SKEW = 1.0;
const ROWS_PER_KEY = 1.2;
const SHARDS = Number(process.env.SCALE_SHARDS ?? 16);
const ROLLUP_FLUSH_S = 10;
const ROLLUP_MAX_ROWS = 200;
const TOTALS_FLUSH_S = 5;
const SAMPLE_FLUSH_S = 5;
const SAMPLE_MAX = 200;
const ATTEMPTS_PER_REQUEST = 1.05;
const LEASE_TTL_S = 10;
const LEASE_CALL_EVERY_S = 0.6 * LEASE_TTL_S;
const LEASE_MIN_REQUESTS = 4;
const NODE_SHARE = 0.3; // the busiest capped node's share of all traffic
const PROBE_INTERVAL_S = 10; // health.probeIntervalMs: at most one push per cycle
const ASK_EVERY_S = 5; // the alternative not taken: each isolate asks the monitor this often
const CALLS_CEILING = 1_000;
const ROWS_CEILING = 10_000;

const zipf = (n: number, s: number) => {
  const w = Array.from({ length: n }, (_, i) => 1 / (i + 1) ** s);
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / sum);
};

const keyShare = zipf(KEYS, KEY_SKEW);

interface Isolate {
  rps: number;
}

function isolates(total: number): { colos: { rps: number; isolates: Isolate[] }[]; all: Isolate[] } {
  const colos = zipf(COLOS, COLO_SKEW).map((share) => {
    const rps = total * share;
    const n = Math.max(ISOLATES_MIN, Math.ceil(rps / RPS_PER_ISOLATE));
    return { rps, isolates: Array.from({ length: n }, () => ({ rps: rps / n })) };
  });
  return { colos, all: colos.flatMap((c) => c.isolates) };
}

/** Expected distinct keys among n requests of one isolate, and per key its chance to appear. */
const seen = (n: number) => keyShare.map((p) => 1 - (1 - p) ** n);
const distinct = (n: number) => seen(n).reduce((a, b) => a + b, 0);

/** An isolate's rollup batch interval (s): 10 s, or sooner when 200 rows fill first. */
function batchSeconds(rps: number): number {
  if (distinct(rps * ROLLUP_FLUSH_S) * ROWS_PER_KEY <= ROLLUP_MAX_ROWS) return ROLLUP_FLUSH_S;
  let lo = 0;
  let hi = ROLLUP_FLUSH_S;
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2;
    if (distinct(rps * mid) * ROWS_PER_KEY > ROLLUP_MAX_ROWS) hi = mid;
    else lo = mid;
  }
  return hi;
}

interface Load {
  what: string;
  calls: number;
  rows: number;
}

/** Per isolate: its batch interval and rows per batch (isolates of equal rps behave alike). */
function batches(all: Isolate[]): { t: number; rows: number; present: number[] }[] {
  const memo = new Map<number, { t: number; rows: number; present: number[] }>();
  return all.map((i) => {
    let b = memo.get(i.rps);
    if (!b) {
      const t = batchSeconds(i.rps);
      const present = seen(i.rps * t);
      b = { t, rows: present.reduce((a, q) => a + q, 0) * ROWS_PER_KEY, present };
      memo.set(i.rps, b);
    }
    return b;
  });
}

/** Each isolate to one shard at random (as the router does): the busiest shard's load. */
function rollupsByIsolate(all: Isolate[], shards: number): Load {
  const draw = rng(7);
  const calls = new Array<number>(shards).fill(0);
  const rows = new Array<number>(shards).fill(0);
  batches(all).forEach((b) => {
    const s = pickShard(shards, draw());
    calls[s]! += 1 / b.t;
    rows[s]! += b.rows / b.t;
  });
  return { what: shards === 1 ? 'UsageRollups (1 object, before)' : `UsageRollups (${shards} shards by isolate, busiest)`, calls: Math.max(...calls), rows: Math.max(...rows) };
}

/** The alternative not taken: shards by key hash. The busiest key's shard is in every batch. */
function rollupsByKey(all: Isolate[], shards: number): Load {
  const shardOfKey = keyShare.map((_, k) => k % shards); // any even spread: the busiest key decides
  const calls = new Array<number>(shards).fill(0);
  const rows = new Array<number>(shards).fill(0);
  for (const b of batches(all)) {
    const absent = new Array<number>(shards).fill(1);
    b.present.forEach((q, k) => {
      absent[shardOfKey[k]!]! *= 1 - q;
      rows[shardOfKey[k]!]! += (q * ROWS_PER_KEY) / b.t;
    });
    for (let s = 0; s < shards; s++) calls[s]! += (1 - absent[s]!) / b.t;
  }
  return { what: `UsageRollups (${shards} shards by key, busiest)`, calls: Math.max(...calls), rows: Math.max(...rows) };
}

function leasedCalls(all: Isolate[], share: number): number {
  return all.reduce((sum, i) => {
    const perTtl = i.rps * share * LEASE_TTL_S;
    return sum + (perTtl >= LEASE_MIN_REQUESTS ? 1 / LEASE_CALL_EVERY_S : 2 * i.rps * share);
  }, 0);
}

/** How long an isolate remembers a budget refusal (`limits/budget-hold.ts`: a quarter of the ttl). */
const BUDGET_HOLD_S = 0.25 * LEASE_TTL_S;

/**
 * A key with a spend budget, through its day (README "Spend budgets"), by phase:
 * - far from it: leased like any key;
 * - near it: each lease's spend cut to an equal share of half of what is left among the
 *   isolates holding one; the busiest moment is the smallest slice, `MIN_GRANT` worst cases,
 *   refilled when half used: a call per 2 requests of each leasing isolate (and how long the
 *   slices are small enough to pass the ceiling);
 * - the last slices: once a share holds fewer than `MIN_GRANT` worst cases, exact (2 calls a
 *   request), until the budget is spent: what is left then is 2 × holders × MIN_GRANT worst
 *   cases, spent at the key's rate × its worst case, so it lasts 2 × holders × MIN_GRANT / rate s;
 * - spent: each isolate asks once per hold (2.5 s), and is refused locally in between.
 */
function budgetPhases(all: Isolate[], share: number): Load[] {
  const rates = all.map((i) => i.rps * share);
  const rate = rates.reduce((a, b) => a + b, 0);
  const leases = (r: number) => r * LEASE_TTL_S >= LEASE_MIN_REQUESTS;
  const holders = rates.filter(leases).length;
  const sum = (f: (r: number) => number) => rates.reduce((n, r) => n + f(r), 0);
  const smallest = sum((r) => (leases(r) ? Math.max(1 / LEASE_CALL_EVERY_S, r / (LEASE_MIN_REQUESTS / 2)) : 2 * r));
  const exactS = (2 * holders * LEASE_MIN_REQUESTS) / rate;
  // Slices of k requests cost about 2 × rate / k calls/s: past the ceiling below k = 2 × rate / ceiling,
  // which lasts while 2 × holders × (that k − MIN_GRANT) worst cases are spent.
  const overK = (2 * rate) / CALLS_CEILING;
  const slicesOverS = overK > LEASE_MIN_REQUESTS ? (2 * holders * (overK - LEASE_MIN_REQUESTS)) / rate : 0;
  const spent = sum((r) => Math.min(r, 1 / BUDGET_HOLD_S));
  return [
    { what: 'RateLimiter (busiest key with a budget, far from it)', calls: leasedCalls(all, share), rows: leasedCalls(all, share) },
    { what: `  near it: smallest slices${slicesOverS ? ` (over for ${slicesOverS.toFixed(1)} s)` : ''}`, calls: smallest, rows: smallest },
    { what: `  last slices: exact, for ${exactS.toFixed(1)} s`, calls: 2 * rate, rows: 2 * rate },
    { what: `  spent: refusals held ${BUDGET_HOLD_S} s per isolate`, calls: spent, rows: 0 },
  ];
}

function model(total: number): Load[] {
  const { colos, all } = isolates(total);
  const top = keyShare[0]!;
  const busiestColo = colos[0]!;
  const coloCalls = busiestColo.isolates.reduce((s, i) => s + Math.max(1 / SAMPLE_FLUSH_S, (i.rps * ATTEMPTS_PER_REQUEST) / SAMPLE_MAX), 0);
  return [
    { what: 'RateLimiter (busiest key, leased limits)', calls: leasedCalls(all, top), rows: leasedCalls(all, top) },
    { what: 'RateLimiter (busiest key, no limits: totals)', calls: all.reduce((s, i) => s + (1 - (1 - top) ** (i.rps * TOTALS_FLUSH_S)) / TOTALS_FLUSH_S, 0), rows: 0 },
    { what: 'RateLimiter (busiest capped node, leased)', calls: leasedCalls(all, NODE_SHARE), rows: leasedCalls(all, NODE_SHARE) },
    ...budgetPhases(all, top),
    { what: `ColoStats (busiest colo, ${busiestColo.isolates.length} isolates)`, calls: coloCalls + 1 / PROBE_INTERVAL_S, rows: coloCalls },
    { what: 'HealthMonitor (the one)', calls: 1 / 60 + COLOS / 600 + 1, rows: 1 / 60 + COLOS / 600 },
    { what: `  its pushes out (${COLOS} colos per cycle, at worst)`, calls: COLOS / PROBE_INTERVAL_S, rows: 0 },
    { what: `  isolates asking it every ${ASK_EVERY_S} s (not taken)`, calls: all.length / ASK_EVERY_S, rows: 0 },
    rollupsByIsolate(all, 1),
    rollupsByKey(all, SHARDS),
    rollupsByIsolate(all, SHARDS),
  ];
}

const fmt = (x: number) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));
for (const total of [10_000, 100_000]) {
  const { all } = isolates(total);
  console.log(`\n${total.toLocaleString('en-US')} requests/s over ${COLOS} colos, ${all.length} isolates, ${KEYS.toLocaleString('en-US')} keys (busiest key ${(keyShare[0]! * 100).toFixed(1)}%)`);
  console.log(`${'object'.padEnd(52)} ${'calls/s'.padStart(9)} ${'rows/s'.padStart(9)}  ceilings ${CALLS_CEILING} calls/s, ${ROWS_CEILING} rows/s`);
  for (const l of model(total)) {
    const over = [l.calls > CALLS_CEILING ? `calls > ${CALLS_CEILING}` : '', l.rows > ROWS_CEILING ? `rows > ${ROWS_CEILING}` : ''].filter(Boolean);
    console.log(`${l.what.padEnd(52)} ${fmt(l.calls).padStart(9)} ${fmt(l.rows).padStart(9)}  ${over.length ? `MISSED (${over.join(', ')})` : 'met'}`);
  }
}
// A key's object decides at most CALLS_CEILING calls/s: the busiest phase of a budgeted key
// is its last slices, exact at 2 calls a request, so a key stays under at every moment up to
// CALLS_CEILING / 2 requests/s; its smallest slices (a call per 2 requests) up to 2 × CALLS_CEILING.
console.log(
  `\nper key: a budgeted key's object stays under ${CALLS_CEILING} calls/s at every moment up to ${CALLS_CEILING / 2} requests/s of that key` +
    ` (its last slices are exact, 2 calls a request); up to ${2 * CALLS_CEILING} requests/s it passes only while those last slices are spent.`,
);
console.log(`\nceilings: ${CALLS_CEILING} calls/s per object (documented soft limit), ${ROWS_CEILING} row writes/s (assumed). Knobs: SCALE_COLOS, SCALE_KEYS, SCALE_SHARDS, SCALE_ISOLATES_MIN, SCALE_RPS_PER_ISOLATE.`);
