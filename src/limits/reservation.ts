/**
 * What a request reserves against its key's TPM before it is sent: the prompt estimate
 * (`estimate.ts`) plus the completion cap × `n` choices. The cap is the caller's, or — when
 * the caller set none — the largest `defaultMaxTokens` of the models the request may reach
 * (its allowed fallback chain); that cap is also what each attempt sends upstream
 * (`forward/attempt-body.ts`), so the reservation bounds what any upstream can write.
 */
import { defaultMaxTokensFor, type LoadedConfig } from '../config/load';
import { callerCap } from '../forward/attempt-body';
import type { ParsedRequest } from '../openai/requests';
import { estimatePromptTokens } from './estimate';
import { imageSize } from './image-size';

export function reservedTokens(config: LoadedConfig, request: ParsedRequest, chain: string[]): number {
  const prompt = estimatePromptTokens(request.body, imageSize);
  if (request.endpoint !== 'chat') return prompt;
  const cap = callerCap(request.body) ?? Math.max(...chain.map((m) => defaultMaxTokensFor(config, m)));
  const n = request.body.n ?? 1;
  return prompt + cap * n;
}
