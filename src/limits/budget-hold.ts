/**
 * A spent budget, remembered for a moment (pure). Once a key's object refuses a request for
 * its daily or monthly budget, this isolate refuses the key's next requests whose worst case
 * does not fit what the object said was left — without asking it again — until the hold
 * ends. Without it a key spent to its budget asks its object once per refused request until
 * the period ends: a busy key would hold its object past its ~1,000 calls/s for hours.
 *
 * Refusing never spends, so the budget stays exact; the price is under-admission bounded by
 * the hold: spend that other isolates' requests and leases give back meanwhile waits for the
 * hold's end (what this isolate's own requests give back counts at once). A request whose worst
 * case alone passes the budget (`tooLarge`) is not remembered: it says nothing of others.
 * A hold lives in its subject's `LeaseClient`, which a change of the key's limits replaces
 * (`leases.ts` `clientFor`): an operator who raises a spent budget sees the next request asked.
 */
import type { Decision } from './window';

export type Refusal = Extract<Decision, { ok: false }>;

export class BudgetHold {
  private held: { refusal: Refusal; free: number; at: number; until: number } | null = null;

  /** The object refused a request: hold a budget refusal for `holdMs` (never past the period's end). */
  remember(refusal: Refusal, now: number, holdMs: number): void {
    if ((refusal.limit !== 'day' && refusal.limit !== 'month') || refusal.tooLarge) return;
    const s = refusal.snapshot;
    const free = Math.min(refusal.max - refusal.used, s.day?.remaining ?? Infinity, s.month?.remaining ?? Infinity);
    this.held = { refusal, free, at: now, until: now + Math.min(holdMs, refusal.retryAfterMs) };
  }

  /**
   * A request of this isolate ended below its worst case: what it gave back counts as free
   * (the object frees it when the report arrives), so a request that now fits asks.
   */
  gaveBack(nano: number): void {
    if (this.held && nano > 0) this.held.free += nano;
  }

  /** The object admitted a request: what was held is no longer what it says. */
  clear(): void {
    this.held = null;
  }

  /**
   * The remembered refusal for a request of worst case `worst` (nano-USD), its wait shortened
   * by the time since; null: ask.
   */
  refuse(worst: number, now: number): Refusal | null {
    const h = this.held;
    if (!h) return null;
    if (now >= h.until) {
      this.held = null;
      return null;
    }
    if (worst <= h.free) return null;
    return { ...h.refusal, retryAfterMs: Math.max(0, h.refusal.retryAfterMs - (now - h.at)) };
  }
}
