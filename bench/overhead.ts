/**
 * The benchmark's overhead section: direct to a node, a bare pass-through Worker, the
 * router, and Portkey's gateway side by side in one run, for JSON (whole answer) and
 * streams (time to first byte), at concurrency 1 and 8. Per target: p50, p99, throughput,
 * and CPU per request of its serving process (workerd for the Workers, Node for Portkey),
 * with the targets checked against figures measured beside each other.
 */
import type { Fleet } from '../test/fleet/fleet.ts';
import { chatBody, check, fmt, load, NODE_SECRET, percentile, processCpuMs, routerConfig, startWorkers, type LoadResult } from './harness.ts';
import { startPortkey } from './portkey.ts';


export function merge(results: LoadResult[]): LoadResult {
  return results.reduce((a, b) => ({
    latencies: [...a.latencies, ...b.latencies],
    ok: a.ok + b.ok,
    failed: a.failed + b.failed,
    seconds: a.seconds + b.seconds,
    statuses: { ...a.statuses, ...b.statuses },
  }));
}

interface Target {
  url: string;
  headers: Record<string, string>;
  /** CPU (ms) its serving process has used so far; undefined: not measured (the fleet node). */
  cpu?: () => number;
}

interface Measured {
  runs: LoadResult[];
  cpuMs: number;
  requests: number;
}


export interface OverheadOptions {
  n: number;
  rounds: number;
  warmUp: number;
  concurrencies: number[];
  /** `logging.successSampleRate` for the router (default 1: every request logged). */
  successSampleRate: number;
}

export async function overhead(fleet: Fleet, bundle: string, o: OverheadOptions): Promise<void> {
  const w = await startWorkers(fleet, bundle, routerConfig(fleet, { logging: { successSampleRate: o.successSampleRate } }));
  const portkey = await startPortkey();
  const upstream = fleet.nodes[0]!.url;
  const json = { 'content-type': 'application/json' };
  const targets: Record<string, Target> = {
    direct: { url: `${upstream}/chat/completions`, headers: { ...json, authorization: `Bearer ${NODE_SECRET}` } },
    'pass-through Worker': { url: `${w.passUrl}/v1/chat/completions`, headers: { ...json, authorization: `Bearer ${NODE_SECRET}` }, cpu: () => w.cpuMs().pass },
    router: { url: `${w.routerUrl}/v1/chat/completions`, headers: { ...json, authorization: `Bearer ${w.routerKey}` }, cpu: () => w.cpuMs().router },
    'Portkey (Node)': { url: `${portkey.url}/v1/chat/completions`, headers: { ...json, ...portkey.headers(upstream, NODE_SECRET) }, cpu: () => processCpuMs(portkey.pid) },
  };
  const entries = Object.entries(targets);
  console.log(`Overhead: router logging.successSampleRate ${o.successSampleRate}; Portkey ${portkey.version} in Node, the Workers in workerd (Miniflare)`);
  try {
    for (const stream of [false, true]) {
      for (const c of o.concurrencies) {
        const body = chatBody(stream ? { stream: true } : {});
        const measured: Record<string, Measured> = Object.fromEntries(entries.map(([name]) => [name, { runs: [], cpuMs: 0, requests: 0 }]));
        // Warm-up long enough for V8 (and Node's JIT for Portkey) to have optimised the hot paths.
        for (const [, t] of entries) await load(t.url, () => ({ method: 'POST', headers: t.headers, body }), { count: o.warmUp, concurrency: c, maxSeconds: 20 });
        for (let round = 0; round < o.rounds; round++) {
          // Each round starts with a different target, so none always runs first (or last).
          for (let i = 0; i < entries.length; i++) {
            const [name, t] = entries[(i + round) % entries.length]!;
            const before = t.cpu?.() ?? NaN;
            const r = await load(t.url, () => ({ method: 'POST', headers: t.headers, body }), { count: o.n, concurrency: c, maxSeconds: 60, firstByte: stream });
            const m = measured[name]!;
            m.runs.push(r);
            m.cpuMs += (t.cpu?.() ?? NaN) - before;
            m.requests += r.ok + r.failed;
          }
        }
        console.log(`${stream ? 'Stream, time to first byte' : 'JSON chat completion, whole answer'}, concurrency ${c}:`);
        const p50 = (name: string) => percentile(merge(measured[name]!.runs).latencies, 50);
        const cpu = (name: string) => measured[name]!.cpuMs / measured[name]!.requests;
        for (const [name] of entries) {
          const r = merge(measured[name]!.runs);
          const cpuText = Number.isFinite(cpu(name)) ? `  CPU/request ${fmt(cpu(name), 3).padStart(6)} ms` : '';
          console.log(`  ${name.padEnd(20)} p50 ${fmt(p50(name)).padStart(7)} ms  p99 ${fmt(percentile(r.latencies, 99)).padStart(7)} ms  ${fmt(r.ok / r.seconds, 0).padStart(6)} req/s  failed ${r.failed}${cpuText}`);
        }
        const cpuRatio = cpu('router') / cpu('pass-through Worker');
        const perRound = (a: string, b: string) => measured[a]!.runs.map((r, i) => fmt(percentile(r.latencies, 50) / percentile(measured[b]!.runs[i]!.latencies, 50))).join(', ');
        console.log(`  p50 router/pass-through per round: ${perRound('router', 'pass-through Worker')}; router/Portkey per round: ${perRound('router', 'Portkey (Node)')}`);
        const targetsLine = [`router CPU/request ${fmt(cpuRatio)}x pass-through (target ≤ ${stream ? '1.5' : '1.3'}: ${check(cpuRatio <= (stream ? 1.5 : 1.3))})`];
        const vsPortkey = p50('router') / p50('Portkey (Node)');
        if (!stream && c === 8) targetsLine.push(`p50 ${fmt(vsPortkey)}x Portkey (target ≤ 1: ${check(vsPortkey <= 1)})`);
        else targetsLine.push(`p50 ${fmt(vsPortkey)}x Portkey`);
        if (stream && c === 1) {
          const added = p50('router') - p50('pass-through Worker');
          targetsLine.push(`TTFB added ${fmt(added, 3)} ms (target ≤ 0.5: ${check(added <= 0.5)})`);
        }
        targetsLine.push(`Portkey CPU/request ${fmt(cpu('Portkey (Node)') / cpu('pass-through Worker'))}x pass-through`);
        console.log(`  ${targetsLine.join('; ')}`);
        console.log();
      }
    }
  } finally {
    await Promise.all([w.close(), portkey.close()]);
  }
}
