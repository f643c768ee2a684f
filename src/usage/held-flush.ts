/**
 * One background flush at a time per isolate, held by the `waitUntil` of the request that
 * started it (`rollup-batch.ts`, `totals-flush.ts`): requests that add to a batch while it
 * runs hand nothing to their own `waitUntil`, as long as the run will still be going when
 * their batch falls due; one due after the run's budget ends starts its own run.
 */
export class HeldFlush {
  private running: { done: Promise<void>; until: number } | null = null;

  /** `budgetMs`: how long a run may keep its request's `waitUntil` (Workers allow 30 s after the response). */
  constructor(private readonly budgetMs: number) {}

  /** Whether a run is going that will still be going at `dueAt` (ms), so it sends what falls due then. */
  covers(dueAt: number): boolean {
    return this.running !== null && dueAt <= this.running.until;
  }

  /** Starts a run (`run` gets its start time, to keep within the budget); the returned promise is for the request's `waitUntil`. */
  start(run: (started: number) => Promise<void>): Promise<void> {
    const started = Date.now();
    const done = run(started).finally(() => {
      if (this.running?.done === done) this.running = null;
    });
    this.running = { done, until: started + this.budgetMs };
    return done;
  }

  /** Forget a run (a new isolate, in tests). */
  reset(): void {
    this.running = null;
  }
}
