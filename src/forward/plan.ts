/**
 * The attempt plan: ordered (node, model) pairs to try for one request. Pure.
 *
 * Order: the requested model's nodes as ranked for this caller (`rankCandidates`: residency
 * pins, health, expected latency from the colo's table); the same node again only
 * when it is the model's sole node (a transient blip deserves one retry before downgrading
 * to a fallback model); then each fallback model in turn. Nodes whose circuit is open are
 * left out — unless that would leave nothing, in which case all are tried (fail open: a
 * possibly-recovered node beats a certain error).
 */
import { modelChain, type LoadedConfig } from '../config/load';
import type { NodeConfig } from '../config/schema';
import type { EndpointGroup } from '../openai/endpoints';
import type { CallerLocation } from '../routing/geo';
import type { LiveLens } from '../routing/live';
import type { RouteTable } from '../routing/scores';
import { rankCandidates } from '../routing/select';

export interface PlannedAttempt {
  node: NodeConfig;
  /** Router model id this attempt asks for. */
  model: string;
  /** The name the node knows the model by. */
  upstreamModel: string;
  /** A repeat of the previous node: back off before it. */
  repeat: boolean;
  /** Expected first-byte ms from the ranking (undefined: ranked without any latency figure). */
  expectedMs: number | undefined;
}

export interface PlanOptions {
  random?: () => number;
  /**
   * Whether the caller's key may use a model of the chain. A key's model restriction binds
   * every attempt: a fallback it may not use is left out, never served.
   */
  allowed?: (model: string) => boolean;
  /** Only nodes that declare this endpoint group. */
  group?: EndpointGroup;
  /** Only this node (a stateful follow-up: the node that holds the state). */
  pinned?: string;
  /**
   * The isolate's live view for a model of the chain (its levels are per model: `liveScope`);
   * only the requested model's ranking may explore (fallbacks may never be reached).
   */
  live?: (model: string) => LiveLens;
}

export interface Plan {
  attempts: PlannedAttempt[];
  /** Nodes left out, and why. */
  skipped: { nodeId: string; model: string; reason: string }[];
}

export function planAttempts(
  config: LoadedConfig,
  model: string,
  caller: CallerLocation,
  table: RouteTable | null,
  blockedFor: (nodeId: string) => number,
  options: PlanOptions = {},
): Plan {
  const { random = Math.random, allowed = () => true, group, pinned, live } = options;
  const serves = (n: NodeConfig) => (group === undefined || n.endpoints.includes(group)) && (pinned === undefined || n.id === pinned);
  const chain = modelChain(config, model);
  const all: PlannedAttempt[] = [];
  const skipped: Plan['skipped'] = [];
  for (const [i, m] of chain.entries()) {
    if (!allowed(m)) {
      skipped.push({ nodeId: 'any node', model: m, reason: 'fallback model not allowed for this key' });
      continue;
    }
    const view = live?.(m);
    const lens = view && (i === 0 ? view : { estimate: view.estimate });
    const { ranked, excluded } = rankCandidates((config.nodesByModel.get(m) ?? []).filter(serves), caller, table, config.routing, { random, ...(lens ? { live: lens } : {}) });
    for (const c of excluded) skipped.push({ nodeId: c.node.id, model: m, reason: c.excluded! });
    for (const { node, expectedMs, source } of ranked) {
      const expected = source === 'geo-class' || !Number.isFinite(expectedMs) ? undefined : expectedMs;
      const attempt = { node, model: m, upstreamModel: node.modelMap[m] ?? m, repeat: false, expectedMs: expected };
      all.push(attempt);
      if (ranked.length === 1) all.push({ ...attempt, repeat: true });
    }
  }
  const ejected: Plan['skipped'] = [];
  const open = all.filter((a) => {
    const blocked = blockedFor(a.node.id);
    if (blocked > 0 && !a.repeat) ejected.push({ nodeId: a.node.id, model: a.model, reason: `ejected for ${blocked} ms more` });
    return blocked === 0;
  });
  return open.length > 0 ? { attempts: open, skipped: [...skipped, ...ejected] } : { attempts: all, skipped };
}

/** `x-router-route`: the requested model's nodes in plan order with expected ms. */
export function routeHeader(plan: Plan, model: string): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const a of plan.attempts) {
    if (a.model !== model || seen.has(a.node.id)) continue;
    seen.add(a.node.id);
    parts.push(`${a.node.id}=${a.expectedMs === undefined ? '?' : Math.round(a.expectedMs)}`);
  }
  return parts.join(', ');
}
