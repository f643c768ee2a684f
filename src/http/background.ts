/** Background work (settling limits, flushing samples) must not fail the request; it is logged. */
export function logBackgroundFailure(err: unknown): void {
  console.error(JSON.stringify({ background: 'failed', error: String(err) }));
}
