/**
 * Node health, pure: healthy → degraded → down and back, from active probes and the
 * failure rate live traffic saw.
 *
 * - `downAfter` consecutive probe failures: down. Down nodes get no traffic unless every
 *   candidate is down.
 * - A down node comes back after `upAfter` consecutive probe successes.
 * - Degraded (penalised, not excluded) when a probe fails but the node is not yet down
 *   (intermittent), a probe is slower than `degradedLatencyMs`, or live traffic fails more
 *   than `degradedFailureRate` of the time over at least `minLiveSamples` samples.
 * - A degraded node is healthy again after `upAfter` consecutive good probes with live
 *   traffic back under the threshold (hysteresis, so it does not flap).
 */
import type { HealthConfig } from '../config/schema';
import type { HealthState } from '../routing/scores';

export interface NodeHealth {
  state: HealthState;
  consecutiveFailures: number;
  /** Probes answered (fast or slow): bring a down node back. */
  consecutiveSuccesses: number;
  /** Probes answered and not slow: bring a degraded node back. */
  consecutiveGood: number;
  lastProbeAt?: number;
  lastProbeMs?: number;
  lastError?: string;
  /** Why the node is in its state (for status and alerts). */
  reason: string;
  changedAt: number;
}

export interface ProbeResult {
  ok: boolean;
  latencyMs: number;
  error?: string;
}

export interface LiveStats {
  failureRate: number;
  samples: number;
}

export const INITIAL_HEALTH: NodeHealth = {
  state: 'healthy',
  consecutiveFailures: 0,
  consecutiveSuccesses: 0,
  consecutiveGood: 0,
  reason: 'no probe yet',
  changedAt: 0,
};

function verdict(h: NodeHealth, probe: ProbeResult, live: LiveStats | undefined, cfg: HealthConfig): [HealthState, string] {
  if (h.consecutiveFailures >= cfg.downAfter) return ['down', `${h.consecutiveFailures} consecutive probe failures (${probe.error ?? 'failed'})`];
  if (h.state === 'down' && h.consecutiveSuccesses < cfg.upAfter) return ['down', `recovering: ${h.consecutiveSuccesses}/${cfg.upAfter} good probes`];
  if (!probe.ok) return ['degraded', `intermittent: probe failed (${probe.error ?? 'failed'})`];
  if (probe.latencyMs > cfg.degradedLatencyMs) return ['degraded', `slow: probe took ${Math.round(probe.latencyMs)} ms`];
  if (live && live.samples >= cfg.minLiveSamples && live.failureRate > cfg.degradedFailureRate) {
    return ['degraded', `live traffic failing ${(live.failureRate * 100).toFixed(0)}% of the time`];
  }
  if (h.state === 'degraded' && h.consecutiveGood < cfg.upAfter) return ['degraded', `recovering: ${h.consecutiveGood}/${cfg.upAfter} good probes`];
  return ['healthy', 'probes and live traffic fine'];
}

export function nextHealth(h: NodeHealth, probe: ProbeResult, live: LiveStats | undefined, cfg: HealthConfig, now: number): NodeHealth {
  const counted: NodeHealth = {
    ...h,
    consecutiveFailures: probe.ok ? 0 : h.consecutiveFailures + 1,
    consecutiveSuccesses: probe.ok ? h.consecutiveSuccesses + 1 : 0,
    consecutiveGood: probe.ok && probe.latencyMs <= cfg.degradedLatencyMs ? (h.consecutiveGood ?? 0) + 1 : 0,
    lastProbeAt: now,
    lastProbeMs: probe.latencyMs,
  };
  if (probe.error) counted.lastError = probe.error;
  const [state, reason] = verdict(counted, probe, live, cfg);
  return { ...counted, state, reason, changedAt: state === h.state ? h.changedAt : now };
}
