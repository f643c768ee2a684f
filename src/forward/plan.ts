/**
 * The attempt plan: ordered (node, model) pairs to try for one request. Pure.
 *
 * Order: the requested model's nodes as ranked for this caller; the same node again only
 * when it is the model's sole node (a transient blip deserves one retry before downgrading
 * to a fallback model); then each fallback model in turn. Nodes whose circuit is open are
 * left out — unless that would leave nothing, in which case all are tried (fail open: a
 * possibly-recovered node beats a certain error).
 */
import type { LoadedConfig } from '../config/load';
import type { NodeConfig } from '../config/schema';
import type { CallerLocation } from '../routing/geo';
import { rankNodes } from '../routing/rank';

export interface PlannedAttempt {
  node: NodeConfig;
  /** Router model id this attempt asks for. */
  model: string;
  /** The name the node knows the model by. */
  upstreamModel: string;
  /** A repeat of the previous node: back off before it. */
  repeat: boolean;
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
  blockedFor: (nodeId: string) => number,
): Plan {
  const chain = [model, ...(config.models[model]?.fallbacks ?? [])];
  const all: PlannedAttempt[] = [];
  for (const m of chain) {
    const ranked = rankNodes(config.nodesByModel.get(m) ?? [], caller);
    for (const { node } of ranked) {
      const attempt = { node, model: m, upstreamModel: node.modelMap[m] ?? m, repeat: false };
      all.push(attempt);
      if (ranked.length === 1) all.push({ ...attempt, repeat: true });
    }
  }
  const skipped: Plan['skipped'] = [];
  const open = all.filter((a) => {
    const blocked = blockedFor(a.node.id);
    if (blocked > 0 && !a.repeat) skipped.push({ nodeId: a.node.id, model: a.model, reason: `ejected for ${blocked} ms more` });
    return blocked === 0;
  });
  return open.length > 0 ? { attempts: open, skipped } : { attempts: all, skipped: [] };
}
