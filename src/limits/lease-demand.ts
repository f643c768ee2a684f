/**
 * How much an isolate asks for in a lease, pure: the requests it was asked for over the last
 * ttl, its recent average reservation and worst-case cost, and its recent peak of requests in
 * flight (`lease-client.ts` feeds it and asks it).
 */
import { MIN_GRANT, type LeaseWant } from './ledger';

const MAX_WANT = 100_000;
/** Demand is counted in this many buckets over one ttl. */
const BUCKETS = 10;

export class LeaseDemand {
  /** Requests asked for (admitted or not) per bucket of ttl/BUCKETS, newest last. */
  private buckets: { start: number; count: number }[] = [];
  private peakInFlight = 0;
  private avgTokens: number | null = null;
  private avgCost: number | null = null;

  private readonly ttlMs: number;

  constructor(ttlMs: number) {
    this.ttlMs = ttlMs;
  }

  /** Count a request asked for, admitted or not. */
  asked(now: number): void {
    const width = this.ttlMs / BUCKETS;
    const last = this.buckets.at(-1);
    if (last && now - last.start < width) last.count++;
    else this.buckets.push({ start: now, count: 1 });
    while (this.buckets.length > 0 && this.buckets[0]!.start <= now - this.ttlMs) this.buckets.shift();
  }

  /** A request started with this reservation and worst case; `inFlight` counts it. */
  started(tokens: number, worstCost: number, inFlight: number): void {
    this.peakInFlight = Math.max(this.peakInFlight, inFlight);
    this.avgTokens = this.avgTokens === null ? tokens : 0.8 * this.avgTokens + 0.2 * tokens;
    this.avgCost = this.avgCost === null ? worstCost : 0.8 * this.avgCost + 0.2 * worstCost;
  }

  /**
   * What to ask for: the requests this isolate was asked for over the last ttl, with
   * room to grow; its peak in flight, with room. Nothing while that is below `MIN_GRANT`:
   * at such a rate a round trip per request costs little, and a lease would only hold
   * capacity other isolates may need. The peak restarts from `inFlight` now.
   */
  want(now: number, tokens: number, cost: number, inFlight: number): LeaseWant | undefined {
    const recent = this.buckets.reduce((n, b) => (b.start > now - this.ttlMs ? n + b.count : n), 0);
    if (recent < MIN_GRANT) return undefined;
    const requests = Math.min(MAX_WANT, Math.ceil(recent * 1.5));
    const perRequest = Math.max(this.avgTokens ?? tokens, tokens);
    const perCost = Math.max(this.avgCost ?? cost, cost);
    const slots = Math.max(2, Math.ceil(this.peakInFlight * 1.5));
    this.peakInFlight = inFlight;
    return { requests, tokens: Math.ceil(requests * perRequest), slots, cost: Math.ceil(requests * perCost) };
  }
}
