/**
 * `SIM_DEBUG=1`: where the router's loss against the oracle comes from (`sim.ts`). Each request
 * is compared with the oracle's on the same noise draws, and its excess cost is put in one bucket:
 *   - explore: the first attempt was an exploration probe;
 *   - failover: the first attempt went to a dead node;
 *   - near-tie: the router's node is within `tieMargin` of the oracle's (true expected latency);
 *   - detection: the router's node is slowed and the router thinks it faster than it is;
 *   - win-back: the oracle's node was slowed earlier, has recovered, and the router still
 *     thinks it slower than it is;
 *   - estimate: any other wrong choice (table, prior or normalisation error).
 * Printed per phase as the bucket's share of the oracle's total latency (what adds up to the
 * "mean vs oracle" figure), after each colo's own figure per phase (`coloLoss`).
 */
import type { NodeConfig } from '../src/config/schema.ts';
import * as W from './sim-world.ts';

export interface Served {
  t: number;
  ms: number;
  colo: string;
  first: string;
  /** The first attempt was an exploration probe. */
  probe?: boolean;
  /** The router's expected (base-equivalent) ms per node when it chose. */
  est?: Record<string, number>;
  json?: boolean;
  /** Prompt tokens (`SIM_PROMPTS=1`). */
  prompt?: number;
}

const BUCKETS = ['explore', 'failover', 'near-tie', 'detection', 'win-back', 'estimate'] as const;
const byId = new Map(W.NODES.map((n) => [n.id, n]));

/** What the router's estimate should be for a node: the base-equivalent (a JSON answer less the reference 4 ms × mean tokens). */
function truth(colo: string, n: NodeConfig, t: number, json: boolean): number {
  return json ? W.trueLatency(colo, n, t, W.MEAN_TOKENS) - 4 * W.MEAN_TOKENS : W.trueLatency(colo, n, t, 0);
}

/** Per phase, each colo's mean latency against the oracle's (%, rounded). */
export function coloLoss(phases: [string, number, number][], colos: string[], oracle: Served[], router: Served[]): void {
  const mean = (xs: Served[], c: string, from: number, to: number) => {
    const own = xs.filter((l) => l.colo === c && l.t >= from && l.t < to);
    return own.reduce((a, l) => a + l.ms, 0) / own.length;
  };
  for (const [label, from, to] of phases) {
    console.log(label.padEnd(24), colos.map((c) => `${c}:${((mean(router, c, from, to) / mean(oracle, c, from, to) - 1) * 100).toFixed(0)}`).join(' '));
  }
}

export function lossBreakdown(phases: [string, number, number][], oracle: Served[], router: Served[], tieMargin: number): void {
  console.log(`loss split (% of the oracle's latency): ${BUCKETS.join(' / ')}`);
  for (const [label, from, to] of phases) {
    const sums: Record<string, number> = Object.fromEntries(BUCKETS.map((b) => [b, 0]));
    const colos: Record<string, Record<string, number>> = {};
    let base = 0;
    for (let i = 0; i < router.length; i++) {
      const r = router[i]!;
      const o = oracle[i]!;
      if (r.t < from || r.t >= to) continue;
      base += o.ms;
      const loss = r.ms - o.ms;
      if (r.first === o.first && !r.probe) continue;
      const k = r.json ? W.MEAN_TOKENS : 0;
      const chosen = byId.get(r.first)!;
      const best = byId.get(o.first)!;
      let bucket: (typeof BUCKETS)[number];
      if (r.probe) bucket = 'explore';
      else if (W.dead(r.first, r.t)) bucket = 'failover';
      else if (W.trueLatency(r.colo, chosen, r.t, k, r.prompt) <= W.trueLatency(r.colo, best, r.t, k, r.prompt) * (1 + tieMargin)) bucket = 'near-tie';
      else if (W.slowdownAt(chosen, r.t) > 1 && (r.est?.[r.first] ?? 0) < truth(r.colo, chosen, r.t, !!r.json) / 1.2) bucket = 'detection';
      else if (W.wasSlowed(best, r.t) && (r.est?.[o.first] ?? Infinity) > truth(r.colo, best, r.t, !!r.json) * 1.2) bucket = 'win-back';
      else bucket = 'estimate';
      sums[bucket]! += loss;
      (colos[r.colo] ??= {})[bucket] = (colos[r.colo]![bucket] ?? 0) + loss;
    }
    const pct = (x: number) => ((x / base) * 100).toFixed(2);
    const worst = Object.entries(colos)
      .map(([c, b]) => [c, Object.values(b).reduce((a, x) => a + x, 0), b] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([c, total, b]) => `${c} ${pct(total)} (${Object.entries(b).filter(([, x]) => Math.abs(x) / base > 0.0005).map(([k, x]) => `${k} ${pct(x)}`).join(', ')})`);
    console.log(`  ${label.padEnd(24)} ${BUCKETS.map((b) => pct(sums[b]!).padStart(6)).join(' ')}   worst: ${worst.join('; ')}`);
  }
}
