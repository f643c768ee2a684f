/**
 * What a settled request cost, in USD, from the answering node's price for the answering
 * model (`nodes[].prices`, else `models.<id>.price`) and the usage the upstream reported.
 * No price, or no usage reported: `null` — a cost is never guessed.
 */
import type { RouterConfig } from '../config/schema';
import type { Usage } from '../forward/usage';

export function priceFor(config: RouterConfig, model: string, nodeId: string) {
  const node = config.nodes.find((n) => n.id === nodeId);
  return node?.prices[model] ?? config.models[model]?.price;
}

export function costOf(config: RouterConfig, model: string, nodeId: string, usage: Usage | undefined): number | null {
  const price = priceFor(config, model, nodeId);
  if (!price || !usage) return null;
  const cached = Math.min(usage.cached_tokens ?? 0, usage.prompt_tokens);
  const written = Math.min(usage.cache_write_tokens ?? 0, usage.prompt_tokens - cached);
  const usd =
    ((usage.prompt_tokens - cached - written) * price.input +
      cached * (price.cachedInput ?? price.input) +
      written * (price.cacheWrite ?? price.input) +
      usage.completion_tokens * price.output) /
    1e6;
  return Math.round(usd * 1e9) / 1e9; // to the nano-dollar: sums stay exact enough, float noise goes
}
