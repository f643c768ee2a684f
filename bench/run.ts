/**
 * `npm run bench` — not part of the tests. Every figure is measured in this one run on
 * loopback, and compared as a ratio against a baseline measured beside it.
 *
 *   1. Overhead (`overhead.ts`): direct to a node, a bare pass-through Worker, the router
 *      (auth, validation, routing, retry engine on) and Portkey's gateway (in Node), JSON
 *      latency and stream TTFB at concurrency 1 and 8, CPU per request of each serving
 *      process, checked against the targets.
 *   2. Failover: the router under load with one of three nodes failing each way,
 *      against the all-healthy run: success rate and the p50/p99 that failover adds.
 *   3. Limits (`limits.ts`): keys with limits (rpm+tpm+concurrency; a spend budget) vs
 *      one without on the same router, at concurrency 1 and 8, leased and exact per
 *      request: p50, throughput and CPU ratios against the ≤ 1.1× target, limiter calls
 *      per request (the router's `/admin/metrics`); over-admissions in bursts of 200
 *      concurrent requests against rpm 50, overspend in bursts against a small budget.
 *
 * Bounded: each load phase stops at its request count or its time cap.
 * Knobs: BENCH_N (requests per phase, default 400), BENCH_C (concurrency of the failover
 * section, default 4), BENCH_OVERHEAD_C (default 1,8), BENCH_LOG_RATE (the router's
 * logging.successSampleRate in the overhead section, default 1), BENCH_ONLY (comma list of
 * sections: overhead, failover, limits).
 */
import { gzipSync } from 'node:zlib';
import { bundleRouter, chatBody, fmt, load, postAs, NODE_SECRET, percentile, routerConfig, startBenchFleet, startWorkers, type LoadResult } from './harness.ts';
import { limits } from './limits.ts';
import { overhead } from './overhead.ts';

const N = Number(process.env.BENCH_N ?? 400);
const C = Number(process.env.BENCH_C ?? 4);
/** The overhead section's concurrencies (the targets are at 1 and 8). */
const OVERHEAD_C = (process.env.BENCH_OVERHEAD_C ?? '1,8').split(',').map(Number);
/** The router's `logging.successSampleRate` in the overhead section (default 1: every request logged). */
const LOG_RATE = Number(process.env.BENCH_LOG_RATE ?? 1);
const ROUNDS = 3;
const WARM_UP = 200;
const only = process.env.BENCH_ONLY?.split(',');
const section = (name: string) => !only || only.includes(name);


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
    const r = await load(`${w.routerUrl}/v1/chat/completions`, postAs(w.routerKey, chatBody()), { count: N, concurrency: C, maxSeconds: 60 });
    await w.close();
    healthy ??= r;
    const added = (p: number) => percentile(r.latencies, p) - percentile(healthy!.latencies, p);
    console.log(
      `  ${name.padEnd(34)} success ${fmt((100 * r.ok) / (r.ok + r.failed), 1).padStart(5)}%  p50 ${fmt(percentile(r.latencies, 50)).padStart(6)} ms (+${fmt(added(50))})  p99 ${fmt(percentile(r.latencies, 99)).padStart(7)} ms (+${fmt(added(99))})`,
    );
  }
}

// 3. Limits ------------------------------------------------------------------------------
if (section('limits')) {
  await fetch(`${fleet.controlUrl}/reset`, { method: 'POST' }); // the failover section leaves n-us failing
  await limits(fleet, bundle, { n: N, rounds: ROUNDS, warmUp: WARM_UP });
}

await fleet.close();
