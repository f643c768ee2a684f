/**
 * Isolate-local state: memos, batches, breaker, live view — module-level values that live
 * as long as the isolate and are shared by its requests. Each module that keeps some
 * registers how to forget it here, so tests start from a fresh isolate with one call
 * (`resetIsolate()`) instead of knowing every module that holds state.
 */
const resets = new Set<() => void>();

export function onIsolateReset(reset: () => void): void {
  resets.add(reset);
}

/** Forget all isolate-local state, as if the isolate had just started (tests). */
export function resetIsolate(): void {
  for (const reset of resets) reset();
}
