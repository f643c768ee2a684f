/**
 * `npm run bench` — not part of the tests. Every figure is measured in this one run on
 * loopback, and compared as a ratio against a baseline measured beside it.
 *
 *   1. Overhead (`overhead.ts`): direct to a node, a bare pass-through Worker, the router
 *      (auth, validation, routing, retry engine on) and Portkey's gateway (in Node), JSON
 *      latency and stream TTFB at concurrency 1 and 8, CPU per request of each serving
 *      process, checked against the issue's targets.
 *   2. Failover: the router under load with one of three nodes failing each way,
 *      against the all-healthy run: success rate and the p50/p99 that failover adds.
 *   3. Limits: one key with limits vs one without on the same router, at concurrency 1
 *      and 8, leased and exact per request: p50 and throughput ratios, limiter calls per
 *      request (the router's `/admin/metrics`); over-admissions in bursts of 200
 *      concurrent requests against rpm 50.
 *
 * Bounded: each load phase stops at its request count or its time cap.
 * Knobs: BENCH_N (requests per phase, default 400), BENCH_C (concurrency of the failover
 * section, default 4), BENCH_OVERHEAD_C (default 1,8), BENCH_LOG_RATE (the router's
 * logging.successSampleRate in the overhead section, default 1), BENCH_ONLY (comma list of
 * sections: overhead, failover, limits).
 */
import { gzipSync } from 'node:zlib';
import { ADMIN_TOKEN, bundleRouter, fmt, load, mintKey, NODE_SECRET, percentile, routerConfig, startBenchFleet, startWorkers, type LoadResult } from './harness.ts';
import { merge, overhead } from './overhead.ts';

const N = Number(process.env.BENCH_N ?? 400);
const C = Number(process.env.BENCH_C ?? 4);
/** The overhead section's concurrencies (the issue's targets are at 1 and 8). */
const OVERHEAD_C = (process.env.BENCH_OVERHEAD_C ?? '1,8').split(',').map(Number);
/** The router's `logging.successSampleRate` in the overhead section (default 1: every request logged). */
const LOG_RATE = Number(process.env.BENCH_LOG_RATE ?? 1);
const ROUNDS = 3;
const WARM_UP = 200;
const only = process.env.BENCH_ONLY?.split(',');
const section = (name: string) => !only || only.includes(name);

const chat = (stream: boolean) => JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }], ...(stream ? { stream: true } : {}) });
const post = (key: string, body: string) => () => ({
  method: 'POST',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body,
});

function row(name: string, r: LoadResult, base?: LoadResult) {
  const p50 = percentile(r.latencies, 50);
  const p99 = percentile(r.latencies, 99);
  const ratio = base ? ` ${fmt(p50 / percentile(base.latencies, 50))}x` : '';
  console.log(`  ${name.padEnd(26)} p50 ${fmt(p50).padStart(7)} ms  p99 ${fmt(p99).padStart(7)} ms  ${fmt(r.ok / r.seconds, 0).padStart(6)} req/s  n=${r.latencies.length}${ratio ? `  p50 vs pass-through:${ratio}` : ''}`);
}

const fleet = await startBenchFleet();
const bundle = bundleRouter();
console.log(`llm-edge-router benchmark — N=${N} per phase × ${ROUNDS} interleaved rounds, concurrency ${C}, loopback`);
console.log(`bundle (wrangler, minified): ${fmt(bundle.length / 1024, 1)} KiB, gzip ${fmt(gzipSync(bundle).length / 1024, 1)} KiB\n`);

// 1. Overhead ----------------------------------------------------------------------------
if (section('overhead')) {
  await overhead(fleet, bundle, { n: N, rounds: ROUNDS, warmUp: WARM_UP, concurrencies: OVERHEAD_C, successSampleRate: LOG_RATE });
}

// 2. Failover ----------------------------------------------------------------------------
if (section('failover')) {
  const faults: [string, Record<string, unknown>][] = [
    ['all healthy', {}],
    ['refusing connections', { refuse: true }],
    ['resetting connections', { reset: true }],
    ['answering 500', { status: 500 }],
    ['answering 503', { status: 503 }],
    ['answering 429 (Retry-After 1)', { status: 429, retryAfter: 1 }],
    ['answering 429 (no Retry-After)', { status: 429 }],
    ['bad credential (401)', { requireKey: 'rotated' }],
    ['hanging (1 s first-byte timeout)', { hang: true }],
  ];
  console.log(`Failover: n-us (nearest) failing, n-eu and n-ap healthy; ${N} requests each, concurrency ${C}:`);
  let healthy: LoadResult | undefined;
  for (const [name, knobs] of faults) {
    await fetch(`${fleet.controlUrl}/reset`, { method: 'POST' });
    await fetch(`${fleet.controlUrl}/nodes/n-us`, { method: 'PUT', body: JSON.stringify({ ...knobs, requireKey: knobs.requireKey ?? NODE_SECRET }) });
    const w = await startWorkers(fleet, bundle, routerConfig(fleet)); // fresh isolate: fresh breaker
    const r = await load(`${w.routerUrl}/v1/chat/completions`, post(w.routerKey, chat(false)), { count: N, concurrency: C, maxSeconds: 60 });
    await w.close();
    healthy ??= r;
    const added = (p: number) => percentile(r.latencies, p) - percentile(healthy!.latencies, p);
    console.log(
      `  ${name.padEnd(34)} success ${fmt((100 * r.ok) / (r.ok + r.failed), 1).padStart(5)}%  p50 ${fmt(percentile(r.latencies, 50)).padStart(6)} ms (+${fmt(added(50))})  p99 ${fmt(percentile(r.latencies, 99)).padStart(7)} ms (+${fmt(added(99))})`,
    );
  }
}

// 3. Limits ------------------------------------------------------------------------------
/** The router's own count of limiter calls (`/admin/metrics`). */
async function limiterCalls(routerUrl: string) {
  const text = await (await fetch(`${routerUrl}/admin/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
  const read = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  return { awaited: read(/^llm_router_limiter_calls_total\{wait="awaited"\} (\d+)/m), background: read(/^llm_router_limiter_calls_total\{wait="background"\} (\d+)/m) };
}

if (section('limits')) {
  await fetch(`${fleet.controlUrl}/reset`, { method: 'POST' }); // the failover section leaves n-us failing
  const LIMITS = { rpm: 1_000_000, tpm: 1_000_000_000, concurrency: 1_000 };
  console.log('Limits: one key, limits off vs on (rpm+tpm+concurrency far from reached), same router; leased (now) and exact per request (leases off):');
  for (const leases of [true, false]) {
    const w = await startWorkers(fleet, bundle, routerConfig(fleet, { limits: { leases: { enabled: leases } } }));
    const mint = (limits?: object) => mintKey(w.routerUrl, limits);
    const url = `${w.routerUrl}/v1/chat/completions`;
    for (const c of [1, 8]) {
      const off = await mint();
      const on = await mint(LIMITS);
      const before = await limiterCalls(w.routerUrl);
      await load(url, post(off, chat(false)), { count: WARM_UP, concurrency: c, maxSeconds: 20 });
      await load(url, post(on, chat(false)), { count: WARM_UP, concurrency: c, maxSeconds: 20 });
      const steady = await limiterCalls(w.routerUrl);
      const cpu = { off: 0, on: 0 };
      const offRuns: LoadResult[] = [];
      const onRuns: LoadResult[] = [];
      // Off-on, then on-off (ABBA), in half-size rounds: a drift in the machine's speed
      // during the section weighs on both sides alike.
      for (let round = 0; round < 2 * ROUNDS; round++) {
        const order = round % 2 === 0 ? [off, on] : [on, off];
        for (const key of order) {
          const before = w.cpuMs().router;
          const r = await load(url, post(key, chat(false)), { count: Math.ceil(N / 2), concurrency: c, maxSeconds: 60 });
          (key === off ? offRuns : onRuns).push(r);
          cpu[key === off ? 'off' : 'on'] += w.cpuMs().router - before;
        }
      }
      const after = await limiterCalls(w.routerUrl);
      const a = merge(offRuns);
      const b = merge(onRuns);
      const served = b.ok + b.failed;
      const perRequest = (x: number, n: number) => fmt(x / n, 3);
      console.log(`  ${leases ? 'leased' : 'exact '} concurrency ${c}:`);
      row('limits off', a);
      row('limits on', b);
      const cpuOff = cpu.off / (a.ok + a.failed);
      const cpuOn = cpu.on / served;
      console.log(
        `    on/off: p50 ${fmt(percentile(b.latencies, 50) / percentile(a.latencies, 50))}x, throughput ${fmt(b.ok / b.seconds / (a.ok / a.seconds))}x;` +
          ` router CPU/request ${fmt(cpuOff, 3)} → ${fmt(cpuOn, 3)} ms (${fmt(cpuOn / cpuOff)}x${leases ? `, target ≤ 1.1: ${cpuOn / cpuOff <= 1.1 ? 'met' : 'MISSED'}` : ''});` +
          ` limiter calls per request: awaited ${perRequest(after.awaited - steady.awaited, served)} steady, ${perRequest(after.awaited - before.awaited, served + WARM_UP)} with warm-up;` +
          ` all ${perRequest(after.awaited + after.background - steady.awaited - steady.background, served)} steady, ${perRequest(after.awaited + after.background - before.awaited - before.background, served + WARM_UP)} with warm-up`,
      );
    }
    if (!leases) {
      await w.close();
      continue;
    }
    const admitted: number[] = [];
    let invalid = 0;
    for (let rep = 0; rep < 10; rep++) {
      const key = await mint({ rpm: 50 });
      const burst = await load(url, post(key, chat(false)), { count: 200, concurrency: 200, maxSeconds: 30 });
      admitted.push(burst.ok);
      // Every answer must be a 200 or a 429; anything else makes the count meaningless.
      if (burst.ok + (burst.statuses[429] ?? 0) !== 200) {
        invalid++;
        console.log(`  burst ${rep}: INVALID, statuses ${JSON.stringify(burst.statuses)}, transport failures ${burst.failed - (burst.statuses[429] ?? 0)}`);
      }
    }
    const over = admitted.reduce((sum, n) => sum + Math.max(0, n - 50), 0);
    console.log(`  leased: bursts of 200 concurrent vs rpm 50, 10 reps: admitted ${admitted.join(',')}; over-admissions ${over}${invalid ? `; ${invalid} INVALID run(s)` : ''}`);
    await w.close();
  }
  console.log();
}

await fleet.close();
