/**
 * Passive circuit breaker, one per isolate, keyed by node id. Pure: time is a parameter.
 *
 * `failureThreshold` consecutive node faults eject the node for `cooldownMs`, doubling on
 * each repeat up to `maxCooldownMs`. After the cooldown the node is half-open: its next
 * outcome either closes the breaker (success) or ejects it again for longer (failure).
 * A 429 with Retry-After cools the node for exactly that long without counting a fault.
 */
export interface BreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
  maxCooldownMs: number;
}

interface NodeCircuit {
  failures: number;
  openUntil: number;
  trips: number;
  halfOpen: boolean;
}

export interface Ejection {
  nodeId: string;
  untilMs: number;
  reason: string;
}

export class CircuitBreaker {
  private readonly circuits = new Map<string, NodeCircuit>();

  private readonly options: BreakerOptions;

  constructor(options: BreakerOptions) {
    this.options = options;
  }

  private circuit(nodeId: string): NodeCircuit {
    let c = this.circuits.get(nodeId);
    if (!c) {
      c = { failures: 0, openUntil: 0, trips: 0, halfOpen: false };
      this.circuits.set(nodeId, c);
    }
    return c;
  }

  /** Ms until the node may be tried again (0 = available now). */
  blockedFor(nodeId: string, now: number): number {
    const c = this.circuits.get(nodeId);
    if (!c || c.openUntil <= now) return 0;
    return c.openUntil - now;
  }

  recordSuccess(nodeId: string): void {
    const c = this.circuit(nodeId);
    c.failures = 0;
    c.trips = 0;
    c.halfOpen = false;
  }

  /** A node fault; returns the ejection if this fault opened the circuit. */
  recordFailure(nodeId: string, now: number, reason: string): Ejection | undefined {
    const c = this.circuit(nodeId);
    if (c.openUntil > now) return undefined; // already ejected (a request that started before)
    c.failures++;
    if (c.failures < this.options.failureThreshold && !c.halfOpen) return undefined;
    const cooldown = Math.min(this.options.maxCooldownMs, this.options.cooldownMs * 2 ** c.trips);
    c.trips++;
    c.failures = 0;
    c.halfOpen = true; // when the cooldown ends, one outcome decides
    c.openUntil = now + cooldown;
    return { nodeId, untilMs: c.openUntil, reason };
  }

  /** The upstream asked for a pause (429 Retry-After): cool the node that long. */
  coolDown(nodeId: string, now: number, ms: number): void {
    const c = this.circuit(nodeId);
    c.openUntil = Math.max(c.openUntil, now + ms);
  }
}
