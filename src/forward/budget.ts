/**
 * Retry budget (Envoy's `retry_budget`): retries may add at most `ratio` on top of first
 * attempts over a rolling window, with a floor of `minRetries` so a quiet isolate can
 * still retry. In a fleet-wide outage this caps upstream load at (1 + ratio)× instead of
 * maxAttempts×. Counted per isolate in one-second buckets. Pure: time is a parameter.
 */
export interface BudgetOptions {
  ratio: number;
  minRetries: number;
  windowMs: number;
}

const BUCKET_MS = 1_000;

export class RetryBudget {
  private readonly buckets = new Map<number, { firsts: number; retries: number }>();

  private readonly options: BudgetOptions;

  constructor(options: BudgetOptions) {
    this.options = options;
  }

  private bucket(now: number) {
    const key = Math.floor(now / BUCKET_MS);
    let b = this.buckets.get(key);
    if (!b) {
      b = { firsts: 0, retries: 0 };
      this.buckets.set(key, b);
      const oldest = key - Math.ceil(this.options.windowMs / BUCKET_MS);
      for (const k of this.buckets.keys()) if (k <= oldest) this.buckets.delete(k);
    }
    return b;
  }

  private totals(now: number) {
    const oldest = Math.floor(now / BUCKET_MS) - Math.ceil(this.options.windowMs / BUCKET_MS);
    let firsts = 0;
    let retries = 0;
    for (const [k, b] of this.buckets) {
      if (k > oldest) {
        firsts += b.firsts;
        retries += b.retries;
      }
    }
    return { firsts, retries };
  }

  recordFirstAttempt(now: number): void {
    this.bucket(now).firsts++;
  }

  /** Take one retry from the budget; false when the budget is spent. */
  tryRetry(now: number): boolean {
    const { firsts, retries } = this.totals(now);
    if (retries >= Math.max(this.options.minRetries, this.options.ratio * firsts)) return false;
    this.bucket(now).retries++;
    return true;
  }
}
