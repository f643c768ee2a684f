/**
 * `npm run bench:profile` — where the router's CPU goes under load (not part of the tests).
 *
 * Runs the router, bundled without minifying so functions keep their names, against the
 * bench fleet; warms it up; then takes a V8 CPU profile of its isolate over a bounded load
 * through the inspector, and prints the isolate's busy time per request, the functions with
 * the most self time, and the call tree down to 1%. The profile itself is written to
 * `test-output/router.cpuprofile` (open it in Chrome DevTools' Performance panel).
 *
 * The inspector adds its own cost (console calls are sent to it, for one), so the figures
 * rank work against each other; the benchmark's CPU per request is the absolute measure.
 * Knobs: PROFILE_STREAM (1 = streams, the default; 0 = JSON), PROFILE_N (requests, default
 * 1500), PROFILE_C (concurrency, default 4), PROFILE_CHUNKS (content chunks per stream, default 3),
 * PROFILE_LIMITS (the key's limits as JSON, e.g. `{"dailyUsd":1000000}`; the model is then
 * priced as in the limits bench, so a budget has a cost to hold).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { bundleRouter, chatBody, fmt, postAs, load, mintKey, percentile, routerConfig, startBenchFleet, startRouter } from './harness.ts';

const STREAM = process.env.PROFILE_STREAM !== '0';
const N = Number(process.env.PROFILE_N ?? 1500);
const C = Number(process.env.PROFILE_C ?? 4);
const INSPECTOR_PORT = 9239;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  startTime: number;
  endTime: number;
}

/** The smallest Chrome DevTools Protocol client: one socket, numbered calls. */
async function inspect(url: string) {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve);
    socket.addEventListener('error', reject);
  });
  let id = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) waiting.get(message.id)?.(message.result);
  });
  return {
    call: <T>(method: string, params: object = {}) =>
      new Promise<T>((resolve) => {
        waiting.set(++id, resolve as (result: unknown) => void);
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}

const name = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'}:${n.callFrame.lineNumber + 1}`;

function report(profile: Profile, requests: number): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const hits = new Map<number, number>();
  for (const s of profile.samples) hits.set(s, (hits.get(s) ?? 0) + 1);
  const total = profile.samples.length;
  const idle = [...hits].filter(([id]) => byId.get(id)!.callFrame.functionName === '(idle)').reduce((sum, [, n]) => sum + n, 0);
  const seconds = (profile.endTime - profile.startTime) / 1e6;
  console.log(`${requests} requests in ${fmt(seconds, 1)} s; the isolate was busy ${fmt((100 * (total - idle)) / total, 0)}% of it: ${fmt((1000 * seconds * (1 - idle / total)) / requests, 3)} ms per request\n`);

  const self = new Map<string, number>();
  for (const [id, n] of hits) self.set(name(byId.get(id)!), (self.get(name(byId.get(id)!)) ?? 0) + n);
  console.log('Self time (native work shows as the runtime\'s own names, line 0):');
  for (const [fn, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${fmt((100 * n) / total, 1).padStart(5)}%  ${fn}`);

  interface Tree { n: number; kids: Map<string, Tree> }
  const root: Tree = { n: 0, kids: new Map() };
  for (const [id, n] of hits) {
    const path: string[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) path.unshift(name(byId.get(at)!));
    let tree = root;
    for (const fn of path.slice(1)) {
      let next = tree.kids.get(fn);
      if (!next) tree.kids.set(fn, (next = { n: 0, kids: new Map() }));
      next.n += n;
      tree = next;
    }
  }
  console.log('\nCall tree (inclusive, 1% and over):');
  const print = (tree: Tree, depth: number) => {
    for (const [fn, kid] of [...tree.kids].sort((a, b) => b[1].n - a[1].n)) {
      if (kid.n / total < 0.01) continue;
      console.log(`  ${fmt((100 * kid.n) / total, 1).padStart(5)}%  ${'  '.repeat(depth)}${fn}`);
      print(kid, depth + 1);
    }
  };
  print(root, 0);
}

const fleet = await startBenchFleet(Number(process.env.PROFILE_CHUNKS ?? 3));
const LIMITS = process.env.PROFILE_LIMITS ? (JSON.parse(process.env.PROFILE_LIMITS) as object) : undefined;
const priced = LIMITS ? { models: { 'gpt-4o-mini': { price: { input: 1, output: 1_000 } } } } : {};
const router = startRouter(bundleRouter({ minify: false }), routerConfig(fleet, priced), { inspectorPort: INSPECTOR_PORT });
try {
  const url = `${(await router.ready).origin}/v1/chat/completions`;
  const key = await mintKey(new URL(url).origin, LIMITS);
  const init = postAs(key, chatBody(STREAM ? { stream: true } : {}));
  await load(url, init, { count: 300, concurrency: C, maxSeconds: 30 });

  const targets = (await (await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json`)).json()) as { title: string; webSocketDebuggerUrl: string }[];
  const target = targets.find((t) => t.title.includes('core:user:'));
  if (!target) throw new Error(`no router isolate among the inspector's targets: ${targets.map((t) => t.title).join(', ')}`);
  const inspector = await inspect(target.webSocketDebuggerUrl);
  await inspector.call('Profiler.enable');
  await inspector.call('Profiler.setSamplingInterval', { interval: 100 });
  await inspector.call('Profiler.start');
  const result = await load(url, init, { count: N, concurrency: C, maxSeconds: 60, firstByte: STREAM });
  const { profile } = await inspector.call<{ profile: Profile }>('Profiler.stop');
  inspector.close();

  console.log(`${STREAM ? 'Streams (time to first byte)' : 'JSON (whole answer)'}, concurrency ${C}: p50 ${fmt(percentile(result.latencies, 50))} ms, ${result.failed} failed`);
  report(profile, result.ok + result.failed);
  mkdirSync('test-output', { recursive: true });
  writeFileSync('test-output/router.cpuprofile', JSON.stringify(profile));
  console.log('\nProfile written to test-output/router.cpuprofile');
} finally {
  await router.dispose();
  await fleet.close();
}
