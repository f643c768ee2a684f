/**
 * Anthropic beta flags a Messages caller sends (`anthropic-beta` header; on Bedrock and Vertex
 * the body's `anthropic_beta`), held to the router's configuration. `context-1m-…` widens
 * Claude's context to 1M tokens: the router bounds input it cannot see in the body (files,
 * server tools) by the model's configured context (`models.<id>.contextTokens`), so the flag
 * passes only when that window is at least 1M; otherwise a caller could bill past the
 * reservation. Without it, a prompt past the model's own window gets Anthropic's 400.
 */

// Case-blind: whether a provider matches flags case-insensitively is not ours to bet a budget on.
const WIDER_CONTEXT = /^context-1m-/i;
const ONE_MILLION = 1_000_000;

/** The betas of `betas` that fit a model configured with `contextTokens`. */
export function betasWithin(betas: string[], contextTokens: number): string[] {
  const trimmed = betas.map((b) => b.trim()).filter((b) => b !== '');
  return contextTokens >= ONE_MILLION ? trimmed : trimmed.filter((b) => !WIDER_CONTEXT.test(b));
}

/** The `anthropic-beta` header value held to `contextTokens`; undefined if nothing is left. */
export function betaHeaderWithin(header: string, contextTokens: number): string | undefined {
  const kept = betasWithin(header.split(','), contextTokens);
  return kept.length > 0 ? kept.join(',') : undefined;
}
