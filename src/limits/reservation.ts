/**
 * What a request reserves against its key's TPM before it is sent: the prompt estimate
 * (`estimate.ts`) plus the output cap × `n` choices. Endpoints charged by request alone
 * (moderations, images, audio: `ENDPOINTS[…].charge`) reserve no tokens. The cap is the caller's, or — when
 * the caller set none — the largest `defaultMaxTokens` of the models the request may reach
 * (its allowed fallback chain); that cap is also what each attempt sends upstream
 * (`forward/attempt-body.ts`), so the reservation bounds what any upstream can write.
 * Keys with spend budgets also reserve the worst-case cost (`worstCostUsd`).
 */
import type { LoadedConfig } from '../config/load';
import { callerCap, defaultCap } from '../forward/attempt-body';
import { ENDPOINTS } from '../openai/endpoints';
import type { ParsedRequest } from '../openai/requests';
import { estimatePromptTokens } from './estimate';
import { imageSize } from './image-size';
import { priceFor } from '../usage/cost';

/** The prompt estimate both figures below start from (0 for endpoints charged by request alone). */
export function promptTokens(request: ParsedRequest): number {
  if (ENDPOINTS[request.endpoint].charge === 'requests') return 0;
  const estimate = estimatePromptTokens(request.body, imageSize);
  // Messages carry the system prompt beside `messages`: estimated as one more message.
  const system = request.endpoint === 'messages' ? request.body.system : undefined;
  return system === undefined ? estimate : estimate + estimatePromptTokens({ messages: [{ role: 'system', content: system }] }, imageSize);
}

export function reservedTokens(config: LoadedConfig, request: ParsedRequest, chain: string[], prompt: number): number {
  if (ENDPOINTS[request.endpoint].charge === 'requests') return 0;
  const cap = callerCap(request) ?? Math.max(0, ...chain.map((m) => defaultCap(config, request, m) ?? 0));
  return prompt + cap * choices(request);
}

const choices = (request: ParsedRequest) => (typeof request.body.n === 'number' && request.body.n > 0 ? request.body.n : 1);

/**
 * The most one upstream attempt may cost, in USD, for spend budgets: the prompt estimate at
 * the dearest input price and the completion cap at the dearest output price, over every
 * model of the allowed chain on every node that serves it. Unpriced pairs add nothing: a
 * cost that is never known is never charged.
 */
export function worstCostUsd(config: LoadedConfig, request: ParsedRequest, chain: string[], prompt: number): number {
  if (ENDPOINTS[request.endpoint].charge === 'requests') return 0;
  let worst = 0;
  for (const model of chain) {
    const cap = (callerCap(request) ?? defaultCap(config, request, model) ?? 0) * choices(request);
    for (const node of config.nodes) {
      if (!node.models.includes(model)) continue;
      const price = priceFor(config, model, node.id);
      if (price) worst = Math.max(worst, (prompt * Math.max(price.input, price.cachedInput ?? 0, price.cacheWrite ?? 0) + cap * price.output) / 1e6);
    }
  }
  return worst;
}
