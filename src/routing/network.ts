/**
 * What every colo's samples teach about the network, pure: the ms per km of distance and each
 * node's own share of first-byte time (its offset), for the geo prior of pairs (colo, node)
 * that have no samples of their own (`scores.ts` `priorMs`).
 *
 * Model: observed mean − `priorBaseMs` = offset(node) + msPerKm × km. The slope is the pooled
 * within-node one (each node's colos centred on their own means, so nodes' different processing
 * times do not bias it: the estimator `output-rate.ts` uses for ms per token), shrunk toward
 * the configured `priorMsPerKm` (worth `priorWeight` samples 1,000 km apart). The configured
 * figure alone left far pairs too optimistic and put the shortfall into the offsets of nodes
 * sampled from afar (sim: learnt ≈ 0.024–0.035 ms/km against 0.02 configured; streams 1.06 →
 * 0.97% over the oracle, seeds 1–10).
 */
import type { NodeConfig, RoutingConfig } from '../config/schema';
import { distanceKm } from './geo';
import { decay, type NodeStat } from './scores';

export interface ColoSamples {
  coords?: { lat: number; lon: number } | undefined;
  stats: Record<string, NodeStat>;
}

interface Point {
  node: string;
  km: number;
  /** Observed mean less `priorBaseMs`. */
  ms: number;
  /** Decayed good-sample count. */
  w: number;
}

/** How far apart (km) the `priorWeight` samples the configured slope is worth are. */
const PRIOR_SPREAD_KM = 1_000;

function points(colos: readonly ColoSamples[], nodes: readonly NodeConfig[], routing: RoutingConfig, now: number): Point[] {
  const out: Point[] = [];
  for (const node of nodes) {
    for (const colo of colos) {
      const stat = colo.stats[node.id];
      if (!stat || !colo.coords) continue;
      const d = decay(stat, now, routing.halfLifeMs);
      if (d.good < 1e-6) continue;
      out.push({ node: node.id, km: distanceKm(colo.coords.lat, colo.coords.lon, node.lat, node.lon), ms: d.sum / d.good - routing.priorBaseMs, w: d.good });
    }
  }
  return out;
}

/** The pooled within-node slope of ms over km, shrunk toward the configured one. */
function slope(pts: readonly Point[], routing: RoutingConfig): number {
  const by = new Map<string, { w: number; x: number; y: number; xx: number; xy: number }>();
  for (const p of pts) {
    const f = by.get(p.node) ?? { w: 0, x: 0, y: 0, xx: 0, xy: 0 };
    by.set(p.node, { w: f.w + p.w, x: f.x + p.w * p.km, y: f.y + p.w * p.ms, xx: f.xx + p.w * p.km * p.km, xy: f.xy + p.w * p.km * p.ms });
  }
  const k = routing.priorWeight * PRIOR_SPREAD_KM ** 2;
  let sxy = k * routing.priorMsPerKm;
  let sxx = k;
  for (const f of by.values()) {
    sxy += f.xy - (f.x * f.y) / f.w;
    sxx += Math.max(0, f.xx - (f.x * f.x) / f.w);
  }
  return Math.max(0, sxy / sxx);
}

/** Per node, the sample-weighted mean of (observed mean − network estimate at `msPerKm`) over its points. */
function offsetsAt(pts: readonly Point[], msPerKm: number): Record<string, number> {
  const sums: Record<string, [number, number]> = {};
  for (const p of pts) {
    const s = (sums[p.node] ??= [0, 0]);
    s[0] += p.w * (p.ms - msPerKm * p.km);
    s[1] += p.w;
  }
  return Object.fromEntries(Object.entries(sums).map(([id, [weighted, weight]]) => [id, Math.max(0, weighted / weight)]));
}

/**
 * Per node, the sample-weighted mean of (observed mean − network estimate at `msPerKm`) over
 * every colo with samples and a known position: the node's own share of first-byte time.
 */
export function nodeOffsets(colos: readonly ColoSamples[], nodes: readonly NodeConfig[], routing: RoutingConfig, now: number, msPerKm = routing.priorMsPerKm): Record<string, number> {
  return offsetsAt(points(colos, nodes, routing, now), msPerKm);
}

/** The learnt ms per km and, at it, every sampled node's offset: what the published tables carry (the samples read once). */
export function networkModel(colos: readonly ColoSamples[], nodes: readonly NodeConfig[], routing: RoutingConfig, now: number): { msPerKm: number; offsets: Record<string, number> } {
  const pts = points(colos, nodes, routing, now);
  const msPerKm = slope(pts, routing);
  return { msPerKm, offsets: offsetsAt(pts, msPerKm) };
}
