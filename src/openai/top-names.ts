/**
 * Checks on a JSON body's top-level names, before anything is sent (`requests.ts`): a
 * parameter the router acts on spelt in another case, and a node's own model fallbacks.
 */
import { RouterError } from '../errors/router-error';
import { foldName, type ScannedObject } from '../http/json-members';

/** Top-level parameters the router reads or writes (limits, routing, reservations, stored state). */
const ROUTER_FIELDS = new Set([
  ...['model', 'messages', 'input', 'prompt', 'instructions', 'suffix', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens'],
  ...['max_output_tokens', 'n', 'best_of', 'echo', 'tools', 'functions', 'response_format', 'text', 'prediction', 'web_search_options'],
  ...['previous_response_id', 'store', 'background', 'conversation', 'size', 'quality', 'partial_images', 'voice'],
  // Budgets refuse `service_tier: "priority"`; Messages' `system`, `mcp_servers` and JSON output format, and what a
  // self-hosted node's chat template renders (`documents`, the caller's own template and its variables) are reserved for.
  ...['service_tier', 'system', 'mcp_servers', 'output_config', 'output_format', 'documents', 'chat_template', 'chat_template_kwargs', 'prompt_embeds', 'mm_processor_kwargs', 'data_sources', 'speed', 'inference_geo', 'fallbacks', 'models', 'route', 'plugins', 'frame_count', 'svg'],
  // Server-side compaction reads the prompt twice (`compactionPasses` in `limits/reservation.ts`); budgets refuse `reasoning.mode: "pro"`.
  ...['context_management', 'reasoning'],
]);

/**
 * A parameter the router acts on, spelt in another case (`MAX_COMPLETION_TOKENS`, `N`,
 * `ſtream`): the router does not read it, but a Go node (`encoding/json` folds case) does —
 * a cap or a choice count the reservation never saw. Refused, as a duplicate is.
 */
export function checkSpelling(scanned: ScannedObject): void {
  for (const name of scanned.members.keys()) {
    const folded = foldName(name);
    if (folded === name || !ROUTER_FIELDS.has(folded)) continue;
    throw new RouterError(400, `The request body has the key '${name}', which some upstreams read as '${folded}'. Spell parameters in lower case.`, {
      code: 'invalid_request',
      param: name,
    });
  }
}

/**
 * A node's own model fallbacks in the body: Anthropic's server-side `fallbacks` (a refused
 * request re-run on another model, at that model's rates, with per-attempt overrides),
 * OpenRouter's `models` and `route: "fallback"`, LiteLLM's `fallbacks`. The node would serve a
 * model the router did not route, reserve for or price (and a fallback's own `max_tokens`,
 * past the reserved cap): the router's fallbacks are `models.<id>.fallbacks`. Refused.
 */
const NODE_FALLBACKS = ['fallbacks', 'models', 'route'] as const;

export function checkNodeFallbacks(json: Record<string, unknown>): void {
  const name = NODE_FALLBACKS.find((n) => json[n] !== undefined && json[n] !== null);
  if (name === undefined) return;
  throw new RouterError(
    400,
    `The request body has '${name}', a list of models for the node to fall back on. The router chooses the model and its fallbacks (the same on every node), so that what it reserves and prices is what is served; send the request without '${name}'.`,
    { code: 'invalid_request', param: name },
  );
}
