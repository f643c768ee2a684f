/**
 * The router as it ships, for `sim.ts`: `planAttempts` (ranking, breaker ejection, fail-open),
 * the monitor's pure cycle (`walkHealth`, `probeShifts`, `publishDue`, `pushDue`,
 * `buildTables`), the breaker and the live view with the config's defaults. One isolate per
 * colo (the sim's 1 request/s per colo is one isolate's load).
 *
 * The monitor's figures reach an isolate by two channels, as in the Worker: the tables (KV,
 * `PUBLISH_DELAY` on their way) and the fast one — a clear move is pushed to every colo's
 * ColoStats (`PUSH_MS` on its way), and the isolate hears the colo's latest in the reply to its
 * next sample batch (every `SAMPLE_FLUSH_MS`, at the end of a request). `SIM_CHANNEL=kv`: tables only.
 */
import type { NodeConfig } from '../src/config/schema.ts';
import { parseConfig } from '../src/config/load.ts';
import { CircuitBreaker } from '../src/forward/breaker.ts';
import { planAttempts } from '../src/forward/plan.ts';
import { buildTables, probeFigures, probeShifts, publishDue, pushDue, walkHealth } from '../src/health/cycle.ts';
import type { LiveStats, NodeHealth } from '../src/health/state.ts';
import type { ProbeFigures } from '../src/routing/live-cue.ts';
import { LiveView } from '../src/routing/live.ts';
import { LIVE_MAX_PROMPT_BYTES } from '../src/routing/prefill.ts';
import { foldSample, SAMPLE_FLUSH_MS, type NodeStat, type RouteTable } from '../src/routing/scores.ts';
import { rng } from './rng.ts';
import type { Served } from './sim-loss.ts';
import * as W from './sim-world.ts';

const { NODES, COLOS, SEED, dead } = W;
/** KV: a published table reaches the colos this much later (the edge cache's `cacheTtl`). */
const PUBLISH_DELAY = 30_000;
/** The monitor's push to a colo's ColoStats: one RPC across the world. */
const PUSH_MS = 300;
const PREFILL = process.env.SIM_PREFILL !== 'off';
const { CAP } = W;
const FAST_CHANNEL = process.env.SIM_CHANNEL !== 'kv';
/** SIM_PROBES=flat: the health probes do not share slowdowns (an unbilled `/models` answering fast while generation crawls). */
const FLAT_PROBES = process.env.SIM_PROBES === 'flat';

export interface Strategy {
  name: string;
  /** Nodes to try, in order, for a request of this kind (`json`: a non-streaming answer). */
  /** `prompt`: the request's prompt tokens (`SIM_PROMPTS=1`; 0 otherwise), known when routing. */
  order(colo: string, t: number, json: boolean, prompt: number): NodeConfig[];
  /** `tokens`: a JSON answer's completion tokens (undefined: a first-byte signal or a failure). */
  observe?(colo: string, n: string, ms: number, ok: boolean, t: number, tokens?: number, prompt?: number): void;
  /** An attempt sent at `t` (`SIM_DELAY=1`): it is in flight until the returned function is called, when its outcome is learnt. */
  begin?(colo: string, n: string, t: number, json: boolean, prompt: number): () => void;
  tick?(t: number): void;
  latencies: Served[];
  /** The last `order` call's detail (probe, estimates), for the loss split. */
  detail?: Pick<Served, 'probe' | 'est'>;
}

/** `live: false` is the router before the live view. */
export function routerStrategy(name: string, live: boolean): Strategy {
  const overrides = JSON.parse(process.env.SIM_LIVE ?? '{}') as Record<string, unknown>;
  const parsed = parseConfig({ nodes: NODES, routing: { live: { ...overrides, enabled: live }, tieMargin: Number(process.env.SIM_TIE ?? 0.1) } });
  if (!parsed.ok) throw new Error(parsed.message);
  const config = parsed.config;
  const random = rng(SEED * 7919 + 1);
  const stats: Record<string, Record<string, NodeStat>> = {};
  const published: { at: number; tables: Map<string, RouteTable> }[] = [];
  /** What the monitor pushed, by when the colos' ColoStats have it. */
  const pushed: { at: number; figures: ProbeFigures }[] = [];
  let states: Record<string, NodeHealth> = {};
  let liveRates: Record<string, LiveStats> = {};
  let probeMs: Record<string, number> = {};
  let known: Record<string, number> = {};
  let lastPublish = -Infinity;
  let lastProbe = -Infinity;
  const publish = (t: number) => {
    const colos = Object.entries(stats).map(([colo, st]) => ({ colo, coords: { lat: COLOS[colo]![0], lon: COLOS[colo]![1] }, stats: st }));
    const built = buildTables(colos, NODES, states, config.routing, t);
    liveRates = built.live;
    probeMs = known = built.probeMs;
    published.push({ at: t + PUBLISH_DELAY, tables: new Map(built.tables.map((table) => [table.colo, table])) });
    lastPublish = t;
  };
  const isolates: Record<string, { breaker: CircuitBreaker; live: LiveView; flushed: number }> = {};
  const isolate = (colo: string) => (isolates[colo] ??= { breaker: new CircuitBreaker(config.retry.breaker), live: new LiveView(config.routing.live), flushed: -Infinity });
  const newest = <T extends { at: number }>(xs: T[], t: number) => {
    for (let i = xs.length - 1; i >= 0; i--) if (xs[i]!.at <= t) return xs[i];
    return undefined;
  };
  const visible = (colo: string, t: number) => {
    const p = newest(published, t);
    return p ? (p.tables.get(colo) ?? p.tables.get('_default')!) : null;
  };
  return {
    name,
    latencies: [],
    tick(t) {
      if (t - lastProbe >= config.health.probeIntervalMs) {
        lastProbe = t;
        const probes = new Map(NODES.map((n) => [n.id, dead(n.id, t) ? { ok: false, latencyMs: 5, error: 'refused' } : { ok: true, latencyMs: W.processing(n, FLAT_PROBES ? 0 : t) }]));
        const walked = walkHealth(NODES, states, probes, liveRates, config.health, t);
        const shifts = probeShifts(states, walked.states, probeMs);
        if (FAST_CHANNEL && pushDue(states, walked.states, known)) {
          known = probeFigures(walked.states);
          pushed.push({ at: t + PUSH_MS, figures: { at: t, probeMs: known } });
        }
        states = walked.states;
        if (publishDue(walked.transitions.length, shifts, lastPublish, t)) publish(t);
      }
    },
    order(colo, t, json) {
      const [lat, lon] = COLOS[colo]!;
      const { breaker, live: view } = isolate(colo);
      const lens = live ? view.lens(colo, t, { explore: true, answer: json }) : undefined;
      let probed: string | undefined;
      if (lens?.explore) {
        const explore = lens.explore;
        lens.explore = (id, tableMs, leaderMs, figures) => (explore(id, tableMs, leaderMs, figures) ? ((probed = id), true) : false);
      }
      const plan = planAttempts(config, 'm', { colo, lat, lon }, visible(colo, t), (id) => breaker.blockedFor(id, t), { random, ...(lens ? { live: () => lens } : {}) });
      const attempts = plan.attempts.filter((a) => !a.repeat);
      this.detail = { probe: probed !== undefined && attempts[0]?.node.id === probed, est: Object.fromEntries(attempts.map((a) => [a.node.id, a.expectedMs ?? 0])) };
      return attempts.map((a) => a.node);
    },
    begin(colo, n, t, json, prompt) {
      // As the engine does: attempts whose time is a signal (not past LIVE_MAX_PROMPT_BYTES) are tracked while out.
      if (!live || prompt * 4 > LIVE_MAX_PROMPT_BYTES) return () => {};
      // JSON answers carry no cap here (none is bounded while out: `live-pending.ts`); SIM_CAP=N: every request capped at N tokens.
      if (json && !CAP) return () => {};
      return isolate(colo).live.begin(colo, n, t, prompt * 4, json ? { model: 'm', cap: CAP } : undefined);
    },
    observe(colo, n, ms, ok, t, tokens, prompt = 0) {
      const iso = isolate(colo);
      const { breaker, live: view } = iso;
      // As the engine does (`timingSays`): a body past LIVE_MAX_PROMPT_BYTES (≈ 4 bytes a token) only teaches the table.
      const long = prompt * 4 > LIVE_MAX_PROMPT_BYTES;
      // As the engine does: the time taken to the scope's mean body size (`prefill.ts`), SIM_PREFILL=off: not.
      if (ok && PREFILL) ms = view.prefilled(colo, n, ms, prompt * 4, t, true, tokens === undefined ? undefined : { model: 'm', tokens });
      // As the engine does: a JSON answer's time, normalised by what it wrote, feeds the table and the live view.
      if (tokens !== undefined) ms = view.observeAnswer(colo, 'm', n, ms, tokens, t, live && !long ? 'feed' : 'learn');
      else if (live && (!long || !ok)) view.observe(colo, n, ms, ok, t);
      (stats[colo] ??= {})[n] = foldSample(stats[colo]![n], { colo, node: n, ttfbMs: ms, ok, at: t }, config.routing.halfLifeMs);
      if (ok) breaker.recordSuccess(n);
      else breaker.recordFailure(n, t, 'failed');
      // The sample batch goes when the request ends; its reply carries the colo's latest push.
      if (t - iso.flushed >= SAMPLE_FLUSH_MS) {
        iso.flushed = t;
        const heard = newest(pushed, t + ms);
        if (heard) view.hear(heard.figures);
      }
    },
  };
}
