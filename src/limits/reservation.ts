/**
 * What a request reserves against its key's TPM before it is sent: the prompt estimate
 * (`estimate.ts`) plus the output cap × `n` choices. Endpoints charged by request alone
 * (moderations, images, audio: `ENDPOINTS[…].charge`) reserve no tokens. The cap is the caller's, or — when
 * the caller set none — the largest `defaultMaxTokens` of the models the request may reach
 * (its allowed fallback chain); that cap is also what each attempt sends upstream
 * (`forward/attempt-body.ts`), so the reservation bounds what any upstream can write.
 */
import type { LoadedConfig } from '../config/load';
import { callerCap, defaultCap } from '../forward/attempt-body';
import { ENDPOINTS } from '../openai/endpoints';
import type { ParsedRequest } from '../openai/requests';
import { estimatePromptTokens } from './estimate';
import { imageSize } from './image-size';

export function reservedTokens(config: LoadedConfig, request: ParsedRequest, chain: string[]): number {
  if (ENDPOINTS[request.endpoint].charge === 'requests') return 0;
  const prompt = estimatePromptTokens(request.body, imageSize);
  const cap = callerCap(request) ?? Math.max(0, ...chain.map((m) => defaultCap(config, request, m) ?? 0));
  const n = typeof request.body.n === 'number' && request.body.n > 0 ? request.body.n : 1;
  return prompt + cap * n;
}
