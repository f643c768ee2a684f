/**
 * Ranking the nodes that serve a model, for one caller: the single place that decides
 * node order, so richer scoring (per-colo latency tables) replaces only this function.
 *
 * Today: great-circle distance from the caller to each node (the geo prior); callers with
 * no coordinates keep config order. Pure.
 */
import type { NodeConfig } from '../config/schema';
import { distanceKm, type CallerLocation } from './geo';

export interface RankedNode {
  node: NodeConfig;
  /** Distance from the caller, km, when both ends have coordinates. */
  distanceKm?: number;
}

export function rankNodes(candidates: readonly NodeConfig[], caller: CallerLocation): RankedNode[] {
  const ranked = candidates.map((node, order) => ({
    node,
    order,
    ...(caller.lat !== undefined && caller.lon !== undefined
      ? { distanceKm: distanceKm(caller.lat, caller.lon, node.lat, node.lon) }
      : {}),
  }));
  ranked.sort((a, b) => (a.distanceKm ?? 0) - (b.distanceKm ?? 0) || a.order - b.order);
  return ranked.map(({ node, distanceKm: d }) => (d === undefined ? { node } : { node, distanceKm: d }));
}
