/**
 * Benchmark harness: the router and a bare pass-through Worker, each in its own Miniflare
 * (the same workerd build wrangler and the tests use), against the simulated fleet on
 * loopback; plus a bounded closed-loop load generator and percentile maths.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { convertV4MiniflareOptions, Miniflare } from 'miniflare';
import { startFleet, type Fleet } from '../test/fleet/fleet.ts';

export const ADMIN_TOKEN = 'bench-admin-token';
export const NODE_SECRET = 'bench-node-secret';
/** Callers in Dallas: n-us (Ashburn) is nearest, then n-eu, then n-ap. */
export const CALLER_CF = { colo: 'DFW', latitude: '32.90', longitude: '-97.04', country: 'US', continent: 'NA' };

export const BENCH_NODES = [
  { id: 'n-us', lat: 39.04, lon: -77.49 },
  { id: 'n-eu', lat: 50.11, lon: 8.68 },
  { id: 'n-ap', lat: 35.68, lon: 139.69 },
];

/**
 * `chunks`: content chunks per streamed answer (3 unless a bench says otherwise: real answers
 * have hundreds); `usageNull`: each carries `"usage":null` once usage is asked for, as OpenAI's do.
 */
export function startBenchFleet(chunks = 3, usageNull = false): Promise<Fleet> {
  return startFleet(BENCH_NODES.map((n) => ({ id: n.id, knobs: { requireKey: NODE_SECRET, chunks, usageNull } })));
}

export function routerConfig(fleet: Fleet, extra: Record<string, unknown> = {}) {
  return {
    nodes: BENCH_NODES.map((n) => ({
      id: n.id,
      baseUrl: fleet.nodes.find((f) => f.id === n.id)!.url,
      region: n.id,
      lat: n.lat,
      lon: n.lon,
      models: ['gpt-4o-mini'],
      apiKeyEnv: 'NODE_KEY',
    })),
    // The fleet answers in milliseconds: a JSON answer not complete in 1 s is a hung node here.
    timeouts: { firstByteMs: 1000, responseMs: 1000, idleMs: 5000, totalMs: 10000 },
    ...extra,
  };
}

/**
 * Bundle the router exactly as `wrangler deploy` would; `minify: false` keeps function
 * names (the profiler's view).
 */
export function bundleRouter(options: { minify?: boolean } = {}): string {
  const outdir = options.minify === false ? '.wrangler/bench-bundle-unminified' : '.wrangler/bench-bundle';
  execFileSync('wrangler', ['deploy', '--dry-run', ...(options.minify === false ? ['--minify=false'] : []), '--outdir', outdir], { stdio: 'ignore' });
  return readFileSync(`${outdir}/index.js`, 'utf8');
}

const PASS_THROUGH = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const headers = new Headers({ 'content-type': 'application/json', authorization: 'Bearer ' + env.NODE_KEY });
    const upstream = await fetch(env.UPSTREAM + url.pathname.replace(/^\\/v1/, ''), { method: request.method, headers, body: await request.arrayBuffer() });
    return new Response(upstream.body, { status: upstream.status, headers: { 'content-type': upstream.headers.get('content-type') ?? 'application/json' } });
  },
};`;

/**
 * The router writes a request log line per request: printed by this process (which is also
 * the load generator) they would charge its CPU to the router's latency and bury the figures.
 * Errors are still shown (the warnings are the failover section's injected faults).
 */
function keepErrors(log: { level: string; message: string }) {
  if (log.level === 'error') process.stderr.write(`${log.message}\n`);
}

export interface Workers {
  routerUrl: string;
  passUrl: string;
  routerKey: string;
  /** CPU (ms, user + system, all threads) each workerd process has used so far; NaN off Linux. */
  cpuMs(): { router: number; pass: number };
  close(): Promise<void>;
}

/** This process's workerd children (Linux /proc); empty elsewhere. */
export function workerdChildren(): Set<number> {
  const found = new Set<number>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [, comm = '', rest = ''] = /^\d+ \((.*)\) (.*)$/s.exec(stat) ?? [];
      if (comm === 'workerd' && rest.split(' ')[1] === String(process.pid)) found.add(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** utime + stime of a process, ms (clock ticks are 10 ms on Linux). */
export function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

const COMMON = { compatibilityDate: '2026-11-01', compatibilityFlags: ['enable_request_signal'] as string[], cf: CALLER_CF, host: '127.0.0.1', port: 0, handleStructuredLogs: keepErrors } as const;

/** The router's Miniflare: its bundle, bindings and objects, as `wrangler.toml` declares them. */
export function startRouter(bundle: string, config: object, extra: { inspectorPort?: number } = {}): Miniflare {
  // Miniflare 5 takes a new option shape; the classic (v4) one converts to it.
  return new Miniflare(convertV4MiniflareOptions({
    ...COMMON,
    ...extra,
    modules: true,
    script: bundle,
    kvNamespaces: ['ROUTER_KV'],
    durableObjects: {
      RATE_LIMITER: { className: 'RateLimiter', useSQLite: true },
      COLO_STATS: { className: 'ColoStats', useSQLite: true },
      HEALTH_MONITOR: { className: 'HealthMonitor', useSQLite: true },
      USAGE_ROLLUPS: { className: 'UsageRollups', useSQLite: true },
      AUTH_THROTTLE: { className: 'AuthThrottle', useSQLite: true },
    },
    bindings: { ROUTER_CONFIG: JSON.stringify(config), ADMIN_TOKEN, NODE_KEY: NODE_SECRET },
  }));
}

/** A new key on a running router, with `limits` when given: the key and its id (for the admin API). */
export async function newKey(routerUrl: string, limits?: object): Promise<{ key: string; id: string }> {
  const res = await fetch(`${routerUrl}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', ...(limits ? { limits } : {}) }),
  });
  return (await res.json()) as { key: string; id: string };
}

/** A new key on a running router, with `limits` when given. */
export async function mintKey(routerUrl: string, limits?: object): Promise<string> {
  return (await newKey(routerUrl, limits)).key;
}

/** GET an admin route of a running router, as JSON or text. */
export async function adminGet(routerUrl: string, path: string): Promise<Response> {
  return fetch(`${routerUrl}/admin${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
}

/** The benches' chat request ("Hello" to gpt-4o-mini), with `extra` members (`stream`, `max_tokens`). */
export const chatBody = (extra: object = {}) => JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }], ...extra });

/** A target's verdict as the benches print it. */
export const check = (ok: boolean) => (ok ? 'met' : 'MISSED');

/** `load`'s request: `body` POSTed as JSON with `key`. */
export const postAs = (key: string, body: string) => (): RequestInit => ({
  method: 'POST',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body,
});

export async function startWorkers(fleet: Fleet, bundle: string, config: object): Promise<Workers> {
  // Started one after the other, so each workerd process is known by when it appeared.
  const before = workerdChildren();
  const router = startRouter(bundle, config);
  const routerUrl = (await router.ready).origin;
  const routerPid = [...workerdChildren()].find((pid) => !before.has(pid));
  const withRouter = workerdChildren();
  const pass = new Miniflare(convertV4MiniflareOptions({
    ...COMMON,
    modules: true,
    script: PASS_THROUGH,
    bindings: { UPSTREAM: fleet.nodes[0]!.url, NODE_KEY: NODE_SECRET },
  }));
  const passUrl = (await pass.ready).origin;
  const passPid = [...workerdChildren()].find((pid) => !withRouter.has(pid));
  return {
    routerUrl,
    passUrl,
    routerKey: await mintKey(routerUrl),
    cpuMs: () => ({ router: processCpuMs(routerPid), pass: processCpuMs(passPid) }),
    close: async () => void (await Promise.all([router.dispose(), pass.dispose()])),
  };
}

export interface LoadResult {
  latencies: number[];
  ok: number;
  failed: number;
  seconds: number;
  statuses: Record<number, number>;
}

/**
 * Closed-loop load: `concurrency` workers send until `count` requests are done or
 * `maxSeconds` pass. `firstByte`: latency is time to the first body chunk (streams).
 */
export async function load(
  url: string,
  init: () => RequestInit,
  opts: { count: number; concurrency: number; maxSeconds: number; firstByte?: boolean },
): Promise<LoadResult> {
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  let sent = 0;
  let ok = 0;
  let failed = 0;
  const started = performance.now();
  const stopAt = started + opts.maxSeconds * 1000;
  async function worker() {
    while (sent < opts.count && performance.now() < stopAt) {
      sent++;
      const t0 = performance.now();
      try {
        const res = await fetch(url, init());
        let t1 = 0;
        const reader = res.body!.getReader();
        for (;;) {
          const { done } = await reader.read();
          if (!t1) t1 = performance.now();
          if (done) break;
        }
        const t2 = performance.now();
        latencies.push((opts.firstByte ? t1 : t2) - t0);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status === 200) ok++;
        else failed++;
      } catch {
        failed++;
      }
    }
  }
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  return { latencies, ok, failed, seconds: (performance.now() - started) / 1000, statuses };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
