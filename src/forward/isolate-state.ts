/**
 * What the forwarding engine keeps for the life of the isolate: the circuit breaker, the
 * retry budget and the live view (`routing/live.ts`). A new config starts them afresh;
 * tests forget them through `resetIsolate()`.
 */
import type { LoadedConfig } from '../config/load';
import { onIsolateReset } from '../isolate';
import type { EndpointGroup } from '../openai/endpoints';
import { LiveView, type LiveLens } from '../routing/live';
import { CircuitBreaker } from './breaker';
import { RetryBudget } from './budget';
import { UnservedKeys } from './held';

export interface IsolateState {
  config: LoadedConfig;
  breaker: CircuitBreaker;
  budget: RetryBudget;
  live: LiveView;
  /** Per node, keys whose requests failed on it inconclusively lately (`held.ts`). */
  unserved: UnservedKeys;
}
let isolate: IsolateState | undefined;

export function isolateState(config: LoadedConfig): IsolateState {
  if (!isolate || isolate.config !== config) {
    isolate = { config, breaker: new CircuitBreaker(config.retry.breaker), budget: new RetryBudget(config.retry.budget), live: new LiveView(config.routing.live), unserved: new UnservedKeys() };
  }
  return isolate;
}

onIsolateReset(() => {
  isolate = undefined;
});

/** The live view's scope: the caller's colo and the endpoint group. */
export const liveScope = (colo: string | undefined, group: EndpointGroup) => `${colo ?? '_default'}/${group}`;

/** The isolate's live view for a colo and endpoint group, read-only (admin explanations); undefined when disabled. */
export function liveLens(config: LoadedConfig, colo: string | undefined, group: EndpointGroup): LiveLens | undefined {
  return config.routing.live.enabled ? isolateState(config).live.lens(liveScope(colo, group), Date.now(), { explore: false }) : undefined;
}
