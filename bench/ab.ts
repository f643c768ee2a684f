/**
 * `npm run bench:ab -- A.js B.js` (the npm script runs it on the node@22 devDependency) — two router bundles side by side (not part of the tests): each
 * in its own workerd against the same bench fleet, loaded in alternating ABBA rounds, and
 * compared by CPU per request of each workerd process and p50. For measuring one hot-path
 * change: bundle before (`wrangler deploy --dry-run --outdir …`), bundle after, run this.
 * A drift in the machine's speed weighs on both alike. Each round's CPU ratio is printed, and their
 * median beside the merged ratio. On a busy machine a whole run is off by up to ±6% (an A-vs-A
 * pair on 2 shared cores at load 4–6: 0.948–1.061): run each comparison both ways (A B, then
 * B A, fresh processes each time) and read the two together: AB_BOTH=1 does, and prints
 * their geometric mean.
 * Knobs: AB_STREAM (1 = streams), AB_N (requests per round, default 300), AB_C (concurrency,
 * default 4), AB_ROUNDS (default 6), AB_LOG_RATE_B (side B's `logging.successSampleRate`:
 * the same bundle twice with the log sampled shows what the line costs), AB_CHUNKS (content
 * chunks per streamed answer, default 3: a long answer weighs the relay's per-event work),
 * AB_USAGE_NULL (1 = content chunks carry `"usage":null`, as OpenAI's do once usage is asked for),
 * AB_LIMITS (the key's limits as JSON, e.g. `{"dailyUsd":1000000}`; the model is then priced
 * as in the limits bench).
 */
import { readFileSync } from 'node:fs';
import { chatBody, fmt, load, mintKey, postAs, percentile, routerConfig, startBenchFleet, startRouter, workerdChildren, processCpuMs } from './harness.ts';

const [fileA, fileB] = process.argv.slice(2);
if (!fileA || !fileB) throw new Error('usage: npm run bench:ab -- A.js B.js');
const STREAM = process.env.AB_STREAM === '1';
const N = Number(process.env.AB_N ?? 300);
const C = Number(process.env.AB_C ?? 4);
const ROUNDS = Number(process.env.AB_ROUNDS ?? 6);

const CHUNKS = Number(process.env.AB_CHUNKS ?? 3);
const LIMITS = process.env.AB_LIMITS ? (JSON.parse(process.env.AB_LIMITS) as object) : undefined;
const fleet = await startBenchFleet(CHUNKS, process.env.AB_USAGE_NULL === '1');

/**
 * One run: both bundles in fresh workerd processes, the one named first started first and
 * loaded first in the ABBA rounds. The CPU ratio B/A.
 */
async function run(first: 'A' | 'B'): Promise<number> {
  const sides = [];
  for (const label of first === 'A' ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
    const file = label === 'A' ? fileA! : fileB!;
    const before = workerdChildren();
    const logRate = label === 'B' && process.env.AB_LOG_RATE_B ? { logging: { successSampleRate: Number(process.env.AB_LOG_RATE_B) } } : {};
    const priced = LIMITS ? { models: { 'gpt-4o-mini': { price: { input: 1, output: 1_000 } } } } : {};
    const mf = startRouter(readFileSync(file, 'utf8'), routerConfig(fleet, { ...logRate, ...priced }));
    const origin = (await mf.ready).origin;
    const pid = [...workerdChildren()].find((p) => !before.has(p));
    const key = await mintKey(origin, LIMITS);
    const init = postAs(key, chatBody(STREAM ? { stream: true } : {}));
    sides.push({ label, file, mf, url: `${origin}/v1/chat/completions`, pid, init, cpu: 0, requests: 0, latencies: [] as number[], rounds: [] as number[] });
  }
  try {
    for (const s of sides) await load(s.url, s.init, { count: 300, concurrency: C, maxSeconds: 30 });
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of round % 2 === 0 ? sides : [...sides].reverse()) {
        const before = processCpuMs(s.pid);
        const r = await load(s.url, s.init, { count: N, concurrency: C, maxSeconds: 60, firstByte: STREAM });
        const cpu = processCpuMs(s.pid) - before;
        s.cpu += cpu;
        s.requests += r.ok + r.failed;
        s.rounds.push(cpu / (r.ok + r.failed));
        s.latencies.push(...r.latencies);
      }
    }
    console.log(`${STREAM ? `streams of ${CHUNKS} chunks (TTFB)` : 'JSON'}, concurrency ${C}, ${ROUNDS} ABBA rounds of ${N}, ${first} first:`);
    const a = sides.find((s) => s.label === 'A')!;
    const b = sides.find((s) => s.label === 'B')!;
    for (const s of [a, b]) console.log(`  ${s.label} ${s.file}: CPU/request ${fmt(s.cpu / s.requests, 3)} ms, p50 ${fmt(percentile(s.latencies, 50))} ms`);
    // Each round's B against the A run beside it: a burst of other work on the machine moves one
    // round's ratio, not the median (the merged ratio takes every round at its weight).
    const ratios = b.rounds.map((cpu, i) => cpu / a.rounds[i]!);
    const ratio = b.cpu / b.requests / (a.cpu / a.requests);
    console.log(`  rounds' CPU ratios B/A: ${ratios.map((r) => fmt(r, 3)).join(' ')}`);
    console.log(`  B/A: CPU ${fmt(ratio, 3)}x (median of the rounds' ratios ${fmt(percentile(ratios, 50), 3)}x), p50 ${fmt(percentile(b.latencies, 50) / percentile(a.latencies, 50), 3)}x`);
    return ratio;
  } finally {
    await Promise.all(sides.map((s) => s.mf.dispose()));
  }
}

try {
  const ratio = await run('A');
  // AB_BOTH=1: a second run with B started and loaded first, in fresh processes — what one
  // process's luck gave the first run, the other side gets in the second.
  if (process.env.AB_BOTH === '1') {
    const swapped = await run('B');
    console.log(`Both orders: B/A CPU ${fmt(ratio, 3)}x and ${fmt(swapped, 3)}x, geometric mean ${fmt(Math.sqrt(ratio * swapped), 3)}x`);
  }
} finally {
  await fleet.close();
}
