/**
 * `npm run sim` — routing simulator (not a test). Drives the code that ships — `planAttempts`
 * (ranking, residency, breaker ejection, fail-open), the live view with its JSON normalisation
 * and its lens per traffic kind (as the engine asks: `answer` for a JSON generation), the
 * monitor's pure cycle (`walkHealth`, `probeShifts`, `publishDue`, `buildTables`) and the breaker,
 * with the config's defaults — through a synthetic world (`sim-world.ts`), against:
 *   - oracle: per request, the node with the lowest true expected latency at that moment
 *     (knows every change at once, not how long the answer will be; same noise draws);
 *   - the router without its live view (tables only: how it routed before);
 *   - static nearest-region: the classic GeoIP map (nearest node, failover on error);
 *   - global-latency-only: one decayed latency score per node for all colos.
 *
 * Three traffic kinds, each through the whole run: streams (latency = first byte), JSON
 * (latency = the whole answer, which arrives when generation ends; the router learns from it
 * normalised by completion tokens, as the engine does), and mixed (half each).
 * Tables are rebuilt on the monitor's schedule (at once on a clear move of a probe figure) and
 * reach colos 30 s later (KV cacheTtl); a clear move also reaches each isolate through the fast
 * channel (`sim-router.ts`); probes run every `health.probeIntervalMs` and take the node's
 * processing time (they share its slowdowns); one isolate per colo. Deterministic (seeded).
 *
 * Knobs: SIM_MINUTES (default 30), SIM_RATE (requests/s per colo, default 1), SIM_SEED,
 * SIM_TIE (routing.tieMargin), SIM_LIVE (JSON overrides of routing.live), SIM_TRAFFIC (stream, json or mixed; default all three),
 * SIM_DEBUG=1 (per-colo loss against the oracle, per phase), SIM_PROBES=flat (probes blind to slowdowns),
 * SIM_CHANNEL=kv (the monitor's figures through the tables only, no fast channel), SIM_PROMPTS=1 (requests
 * carry prompts whose prefill delays the first byte; the oracle ranks at the request's prompt size, known when routing),
 * SIM_DELAY=1 (each strategy learns an attempt's outcome when it ends — a JSON answer when its last token
 * arrives — instead of when it is sent; attempts still out are evidence meanwhile, `SIM_PENDING=off`: not),
 * SIM_CAP=N (JSON requests capped at N tokens: the bound that makes a JSON answer still out evidence), SIM_TRACE=COLO,FROM,TO (one colo's requests around the slowdown: `trace`).
 */
import { RoutingSchema, type NodeConfig } from '../src/config/schema.ts';
import { distanceKm } from '../src/routing/geo.ts';
import { decay, foldSample, type NodeStat } from '../src/routing/scores.ts';
import * as W from './sim-world.ts';
import { coloLoss, lossBreakdown, type Served } from './sim-loss.ts';
import { routerStrategy, type Strategy } from './sim-router.ts';

const { NODES, COLOS, DURATION, SEED, SLOWED, slowAt, recoverAt, degradeAt, deathAt, dead, trueLatency } = W;
const WARMUP = 5 * 60_000;
/** SIM_PENDING=off: attempts in flight teach nothing before they end (the live view before `live-pending.ts`). */
const SIM_NO_PENDING = process.env.SIM_PENDING === 'off';
const FAIL_COST_MS = 25; // a refused/reset connection: found out fast, then fail over
const WINDOW_MS = 60_000; // the slowdown window reported against the oracle

type Kind = 'stream' | 'json' | 'mixed';

function nearestStrategy(): Strategy {
  return {
    name: 'static nearest-region',
    latencies: [],
    order(colo) {
      const [lat, lon] = COLOS[colo]!;
      return [...NODES].sort((a, b) => distanceKm(lat, lon, a.lat, a.lon) - distanceKm(lat, lon, b.lat, b.lon));
    },
  };
}

const HALF_LIFE_MS = RoutingSchema.parse({}).halfLifeMs;

function globalStrategy(): Strategy {
  const stats: Record<string, NodeStat> = {};
  return {
    name: 'global-latency-only',
    latencies: [],
    order(_colo, t) {
      const score = (n: NodeConfig) => {
        const s = stats[n.id] ? decay(stats[n.id]!, t, HALF_LIFE_MS) : undefined;
        if (!s || s.good < 1e-6) return 0; // unknown: try it
        return (s.sum / s.good) * (1 + (s.failed / (s.good + s.failed)) * 10);
      };
      return [...NODES].sort((a, b) => score(a) - score(b));
    },
    observe(_colo, n, ms, ok, t) {
      stats[n] = foldSample(stats[n], { colo: '*', node: n, ttfbMs: ms, ok, at: t }, HALF_LIFE_MS);
    },
  };
}

function oracleStrategy(): Strategy {
  return {
    name: 'oracle',
    latencies: [],
    order(colo, t, json, prompt) {
      const k = json ? W.MEAN_TOKENS : 0;
      return NODES.filter((n) => !dead(n.id, t)).sort((a, b) => trueLatency(colo, a, t, k, prompt) - trueLatency(colo, b, t, k, prompt));
    },
  };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor((p / 100) * (xs.length - 1))]!;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const minutes = (t: number) => (t / 60_000).toFixed(1);
const secs = (ms: number | null) => (ms === null ? 'never' : `${(ms / 1000).toFixed(1)} s`);

interface Result {
  moved: number | null;
  window: number;
  overall: number;
  routerP95: number;
  nearestP95: number;
}

function run(kind: Kind, pass: number): Result {
  const rand = W.requestStream(pass);
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const strategies = [oracleStrategy(), routerStrategy('llm-edge-router', true), routerStrategy('router, tables only', false), nearestStrategy(), globalStrategy()];
  const colos = Object.keys(COLOS);
  const step = 1000 / (W.RATE * colos.length);
  /** SIM_DELAY=1: what each strategy learns, due when the attempt ends (its first byte, or the whole JSON answer), not when it is sent. */
  const pending = strategies.map(() => [] as { due: number; learn: () => void }[]);
  const learnDue = (i: number, t: number) => {
    const queue = pending[i]!;
    if (queue.length === 0) return;
    queue.sort((a, b) => a.due - b.due);
    let k = 0;
    while (k < queue.length && queue[k]!.due <= t) queue[k++]!.learn();
    queue.splice(0, k);
  };
  for (let t = 0; t < DURATION; t += step) {
    const colo = colos[Math.floor(rand() * colos.length)]!;
    const json = kind === 'json' || (kind === 'mixed' && rand() < 0.5);
    const tokens = json ? W.outputTokens(gauss) : 0;
    const prompt = W.PROMPTS ? W.promptTokens(gauss) : 0;
    // One noise draw per node per request, shared by every strategy.
    const noise: Record<string, number> = Object.fromEntries(NODES.map((n) => [n.id, Math.exp(0.15 * gauss())]));
    for (const [i, s] of strategies.entries()) {
      s.tick?.(t);
      if (W.DELAY) learnDue(i, t);
      let cost = 0;
      const order = s.order(colo, t, json, prompt);
      const learn = (due: number, f: (at: number) => void) => (W.DELAY ? pending[i]!.push({ due, learn: () => f(due) }) : f(t));
      for (const n of order) {
        if (dead(n.id, t)) {
          cost += FAIL_COST_MS;
          learn(t + cost, (at) => s.observe?.(colo, n.id, FAIL_COST_MS, false, at));
          continue;
        }
        const ms = trueLatency(colo, n, t, tokens, prompt) * noise[n.id]!;
        // Out until its outcome is learnt (SIM_DELAY=1; otherwise learnt at once): evidence meanwhile (`live-pending.ts`).
        const end = W.DELAY && !SIM_NO_PENDING ? s.begin?.(colo, n.id, t + cost, json, prompt) : undefined;
        learn(t + cost + ms, (at) => {
          end?.();
          s.observe?.(colo, n.id, ms, true, at, json ? tokens : undefined, prompt);
        });
        cost += ms;
        break;
      }
      s.latencies.push({ t, ms: cost, colo, first: order[0]?.id ?? '', json, prompt, ...s.detail });
    }
  }
  return report(kind, strategies, colos);
}

function report(kind: Kind, strategies: Strategy[], colos: string[]): Result {
  const between = (s: Strategy, from: number, to: number, only?: Set<string>) => s.latencies.filter((l) => l.t >= from && l.t < to && (!only || only.has(l.colo)));
  const phases: [string, number, number][] = [
    ['after warm-up (all)', WARMUP, DURATION],
    ['steady', WARMUP, slowAt],
    [`${SLOWED} 8× slower`, slowAt, recoverAt],
    [`${SLOWED} recovered`, recoverAt, degradeAt],
    ['ap-northeast degraded', degradeAt, deathAt],
    ['us-west dead', deathAt, DURATION],
  ];
  console.log(`\n=== ${kind} traffic ===`);
  for (const [label, from, to] of phases) {
    console.log(`${label}:`);
    const oracleMean = mean(between(strategies[0]!, from, to).map((l) => l.ms));
    for (const s of strategies) {
      const xs = between(s, from, to).map((l) => l.ms);
      const m = mean(xs);
      console.log(`  ${s.name.padEnd(24)} mean ${m.toFixed(1).padStart(7)} ms   p95 ${pct(xs, 95).toFixed(1).padStart(7)} ms   mean vs oracle ${((m / oracleMean - 1) * 100).toFixed(1).padStart(6)}%`);
    }
  }
  /**
   * The abrupt slowdown, for the colos whose best node it was: when their traffic left it (its
   * share of their first attempts over the following 5 s at most 20%), their mean latency in the
   * 60 s after the change against the oracle's, and when it won the traffic back after recovery
   * (share over the following 10 s at least 50%).
   */
  const affected = new Set(colos.filter((c) => [...NODES].sort((a, b) => trueLatency(c, a, slowAt - 1) - trueLatency(c, b, slowAt - 1))[0]!.id === SLOWED));
  const firstTimeShare = (s: Strategy, from: number, span: number, ok: (share: number) => boolean): number | null => {
    const xs = between(s, from, DURATION, affected);
    for (let i = 0; i < xs.length; i++) {
      const window = xs.filter((l) => l.t >= xs[i]!.t && l.t < xs[i]!.t + span);
      if (ok(window.filter((l) => l.first === SLOWED).length / window.length)) return xs[i]!.t - from;
    }
    return null;
  };
  console.log(`\nabrupt slowdown of ${SLOWED}, colos whose best node it was (${[...affected].join(', ')}):`);
  const oracleWindow = mean(between(strategies[0]!, slowAt, slowAt + WINDOW_MS, affected).map((l) => l.ms));
  const reaction = strategies.slice(1).map((s) => {
    const moved = firstTimeShare(s, slowAt, 5_000, (share) => share <= 0.2);
    const back = firstTimeShare(s, recoverAt, 10_000, (share) => share >= 0.5);
    const window = mean(between(s, slowAt, slowAt + WINDOW_MS, affected).map((l) => l.ms)) / oracleWindow - 1;
    console.log(`  ${s.name.padEnd(24)} moved after ${secs(moved).padStart(7)}   first 60 s vs oracle ${(window * 100).toFixed(1).padStart(6)}%   won back after ${secs(back).padStart(7)}`);
    return { moved, window };
  });
  if (process.env.SIM_TRACE) trace(process.env.SIM_TRACE, strategies[0]!.latencies, strategies[1]!.latencies);
  if (process.env.SIM_DEBUG) {
    coloLoss(phases, colos, strategies[0]!.latencies, strategies[1]!.latencies);
    lossBreakdown(phases, strategies[0]!.latencies, strategies[1]!.latencies, Number(process.env.SIM_TIE ?? 0.1));
  }
  const all = (s: Strategy) => between(s, WARMUP, DURATION).map((l) => l.ms);
  return {
    moved: reaction[0]!.moved,
    window: reaction[0]!.window,
    overall: mean(all(strategies[1]!)) / mean(all(strategies[0]!)) - 1,
    routerP95: pct(all(strategies[1]!), 95),
    nearestP95: pct(all(strategies[3]!), 95),
  };
}

/**
 * SIM_TRACE=COLO,FROM,TO: the router's requests from one colo, FROM to TO seconds after the
 * abrupt slowdown (negative: before it) — kind (S stream, J JSON), first node and latency, the
 * oracle's, whether it was an exploration probe, and the estimates it ranked by.
 */
function trace(spec: string, oracle: Served[], router: Served[]): void {
  const [colo, from, to] = spec.split(',');
  for (const [i, l] of router.entries()) {
    if (l.colo !== colo || l.t < slowAt + Number(from) * 1000 || l.t > slowAt + Number(to) * 1000) continue;
    const est = Object.fromEntries(Object.entries(l.est ?? {}).map(([k, v]) => [k, Math.round(v)]));
    console.log(`${((l.t - slowAt) / 1000).toFixed(1)} ${l.json ? 'J' : 'S'} ${l.first} ${l.ms.toFixed(0)}  oracle ${oracle[i]!.first} ${oracle[i]!.ms.toFixed(0)}${l.probe ? '  probe' : ''}  ${JSON.stringify(est)}`);
  }
}

const KINDS: Kind[] = ['stream', 'json', 'mixed'];
const kinds = process.env.SIM_TRAFFIC ? KINDS.filter((k) => k === process.env.SIM_TRAFFIC) : KINDS;
console.log(`Routing simulator — ${Object.keys(COLOS).length} colos × ${NODES.length} nodes, ${W.MINUTES} simulated min, ${W.RATE} req/s per colo, seed ${SEED}`);
console.log(
  `${W.PROMPTS ? 'prompts: lognormal median 800 tokens, prefill 50-90 ms per 1k; ' : ''}events: ${SLOWED} 8× slower at ${minutes(slowAt)} min, back at ${minutes(recoverAt)}; ap-northeast 2.5× slower at ${minutes(degradeAt)}; us-west dead at ${minutes(deathAt)}; warm-up ${WARMUP / 60_000} min excluded`,
);
const results = kinds.map((k) => run(k, KINDS.indexOf(k)));

// The targets of issues 12 and 19, for this seed and every traffic kind (loop over SIM_SEED for the "no seed" one).
const each = (f: (r: Result) => string) => results.map(f).join(' / ');
const targets: [string, boolean][] = [
  [`traffic moved within 5 s (${each((r) => secs(r.moved))})`, results.every((r) => r.moved !== null && r.moved <= 5_000)],
  [`first 60 s within 10% of the oracle (${each((r) => `${(r.window * 100).toFixed(1)}%`)})`, results.every((r) => r.window <= 0.1)],
  [`overall within 1% of the oracle (${each((r) => `${(r.overall * 100).toFixed(1)}%`)})`, results.every((r) => r.overall <= 0.01)],
  [`p95 no worse than static nearest-region (${each((r) => `${r.routerP95.toFixed(0)} vs ${r.nearestP95.toFixed(0)} ms`)})`, results.every((r) => r.routerP95 <= r.nearestP95)],
];
console.log(`\ntargets (${kinds.join(' / ')}):`);
for (const [what, met] of targets) console.log(`  ${met ? 'met ' : 'MISS'}  ${what}`);
