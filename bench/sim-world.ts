/**
 * The routing simulator's world (`sim.ts`): 13 colos × 5 nodes, seeded. True first-byte
 * latency = node processing time + path RTT (great-circle distance × a per-pair inefficiency,
 * plus a few bad-peering anomalies); a JSON answer adds its generation time, completion
 * tokens × the node's ms per token. Events: at 25% of the run eu-west turns 8× slower at once
 * (processing and generation) and recovers at 40%; at 50% ap-northeast degrades 2.5×; at 70%
 * us-west dies. `SIM_PROMPTS=1`: each request carries a prompt (tokens lognormal, median 800, a
 * long tail to ~100k like agent traffic) and the first byte waits for its prefill, prompt
 * tokens × the node's ms per 1k, slowed by the same events.
 */
import { NodeSchema, type NodeConfig } from '../src/config/schema.ts';
import { distanceKm } from '../src/routing/geo.ts';
import { rng } from './rng.ts';

export const MINUTES = Number(process.env.SIM_MINUTES ?? 30);
export const RATE = Number(process.env.SIM_RATE ?? 1);
export const SEED = Number(process.env.SIM_SEED ?? 42);
export const DURATION = MINUTES * 60_000;
/** SIM_DELAY=1: a strategy learns an attempt's outcome when it ends (off: when it is sent, as the figures below were measured). */
export const DELAY = process.env.SIM_DELAY === '1';
/** SIM_PROMPTS=1: requests carry prompts whose prefill delays the first byte (off: none, as before). */
export const PROMPTS = process.env.SIM_PROMPTS === '1' || process.env.SIM_PROMPTS === 'flat';
/** SIM_PROMPTS=flat: every node prefills at the same speed (only the misreading of long prompts costs, not missing the fastest prefill). */
const FLAT_PREFILL = process.env.SIM_PROMPTS === 'flat';

const node = (id: string, lat: number, lon: number): NodeConfig => NodeSchema.parse({ id, baseUrl: `http://${id}/v1`, region: id, lat, lon, models: ['m'] });
export const NODES = [node('us-east', 39.04, -77.49), node('us-west', 37.34, -121.89), node('eu-west', 50.11, 8.68), node('ap-northeast', 35.68, 139.69), node('ap-southeast', 1.35, 103.82)];
const PROCESS: Record<string, number> = { 'us-east': 190, 'us-west': 120, 'eu-west': 160, 'ap-northeast': 150, 'ap-southeast': 210 };
/** Generation speed, ms per completion token (JSON answers only arrive when it is done). */
const PER_TOKEN: Record<string, number> = { 'us-east': 4, 'us-west': 4, 'eu-west': 4, 'ap-northeast': 4, 'ap-southeast': 4 };
/** Prefill speed, ms per 1,000 prompt tokens (a 50k-token prompt: 2.5–4.5 s before the first byte). */
const PREFILL: Record<string, number> = { 'us-east': 70, 'us-west': 50, 'eu-west': 60, 'ap-northeast': 90, 'ap-southeast': 80 };
export const COLOS: Record<string, [number, number]> = {
  IAD: [38.95, -77.45], ORD: [41.98, -87.9], DFW: [32.9, -97.04], LAX: [33.94, -118.41], SEA: [47.45, -122.31], MIA: [25.79, -80.29],
  GRU: [-23.43, -46.47], LHR: [51.47, -0.45], FRA: [50.03, 8.56], CDG: [49.0, 2.55], NRT: [35.76, 140.39], SIN: [1.36, 103.99], SYD: [-33.94, 151.18],
};
/** Bad peering: extra ms on a few colo→node paths (what a GeoIP map cannot know). */
const ANOMALY: Record<string, number> = { 'MIA>us-east': 140, 'SIN>ap-southeast': 260, 'LHR>eu-west': 90, 'SEA>us-west': 60, 'SYD>ap-southeast': 120 };
const INEFFICIENCY: Record<string, number> = {};
const worldRand = rng(SEED);
for (const c of Object.keys(COLOS)) for (const n of NODES) INEFFICIENCY[`${c}>${n.id}`] = 1 + worldRand() * 1.5;

export const SLOWED = 'eu-west';
export const slowAt = DURATION * 0.25;
export const recoverAt = DURATION * 0.4;
export const degradeAt = DURATION * 0.5;
export const deathAt = DURATION * 0.7;
export const dead = (n: string, t: number) => n === 'us-west' && t >= deathAt;

/** How much slower than usual a node is at `t` (processing and generation alike). */
export const slowdownAt = (n: NodeConfig, t: number) => slowdown(n, t);
/** Whether a node was slowed before `t` and is no longer. */
export const wasSlowed = (n: NodeConfig, t: number) => n.id === SLOWED && t >= recoverAt;
function slowdown(n: NodeConfig, t: number): number {
  if (n.id === SLOWED && t >= slowAt && t < recoverAt) return 8;
  if (n.id === 'ap-northeast' && t >= degradeAt) return 2.5;
  return 1;
}
export const processing = (n: NodeConfig, t: number) => PROCESS[n.id]! * slowdown(n, t);

/**
 * True expected latency: to the first byte (after the prefill of `prompt` tokens), plus the
 * generation of `tokens` for a JSON answer (0: a stream).
 */
export function trueLatency(colo: string, n: NodeConfig, t: number, tokens = 0, prompt = 0): number {
  const [lat, lon] = COLOS[colo]!;
  const rtt = 2 * (distanceKm(lat, lon, n.lat, n.lon) / 100) * INEFFICIENCY[`${colo}>${n.id}`]! + (ANOMALY[`${colo}>${n.id}`] ?? 0);
  return processing(n, t) + rtt + ((prompt / 1000) * (FLAT_PREFILL ? 70 : PREFILL[n.id]!) + tokens * PER_TOKEN[n.id]!) * slowdown(n, t);
}

/** Each traffic kind's request stream: streams continue the world's draws (as the simulator always did), the others draw their own. */
export const requestStream = (pass: number) => (pass === 0 ? worldRand : rng(SEED * 101 + pass));

/** SIM_CAP=N: every JSON request capped at N tokens (`max_tokens`): answers stop there, and the router knows it (`live-pending.ts`). */
export const CAP = Number(process.env.SIM_CAP ?? 0);
/** Completion tokens of a JSON answer: lognormal, median 60, a long tail (p99 ≈ 1,000); at most `CAP`. */
export const outputTokens = (gauss: () => number) => {
  const drawn = Math.max(1, Math.round(60 * Math.exp(1.2 * gauss())));
  return CAP > 0 ? Math.min(CAP, drawn) : drawn;
};
/** Their mean (what the oracle ranks JSON answers at: it knows the world, not the answer to come). */
export const MEAN_TOKENS = 60 * Math.exp(1.2 ** 2 / 2);

/** Prompt tokens of a request (`SIM_PROMPTS=1`): lognormal, median 800, σ 1.6 (p99 ≈ 33k, p99.9 ≈ 110k), at most 200k. */
export const promptTokens = (gauss: () => number) => Math.min(200_000, Math.max(1, Math.round(800 * Math.exp(1.6 * gauss()))));
