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

/** The colo's samples' scope: the caller's colo and the endpoint group (its tables are per node, every model's samples pooled). */
export const coloScope = (colo: string | undefined, group: EndpointGroup) => `${colo ?? '_default'}/${group}`;

/**
 * The live view's scope: the caller's colo, the endpoint group and the attempt's model (router
 * model id). A node serves many models, and a reasoning model's first byte comes seconds to
 * minutes after a small model's: one level per node for all of them read the node slow
 * whenever reasoning streams landed on it, and moved every model's traffic off it.
 */
export const liveScope = (colo: string | undefined, group: EndpointGroup, model: string) => `${coloScope(colo, group)}/${model}`;

/** The isolate's live view for a colo, endpoint group and model, read-only (admin explanations); undefined when disabled. */
export function liveLens(config: LoadedConfig, colo: string | undefined, group: EndpointGroup, model: string): LiveLens | undefined {
  return config.routing.live.enabled ? isolateState(config).live.lens(liveScope(colo, group, model), Date.now(), { explore: false }) : undefined;
}
