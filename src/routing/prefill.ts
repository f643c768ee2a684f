/**
 * Prompt size in first-byte times (issue 19): time to first token grows with the prompt
 * (prefill), so a node that happens to get long prompts reads slow. Per scope, a decayed
 * least-squares fit of how far a first byte lies above its node's level against how far its
 * body lies above the scope's mean body size (ms per byte, through the origin: the nodes'
 * levels are the intercepts); every sample is then taken to what it would have been at the
 * mean size, for the table and the live view alike, so levels stay comparable with figures
 * learnt before. Bytes, not tokens: the body's length is in hand at no cost, and the ratio is
 * all the fit needs. Pure; a handful of numbers per scope.
 */

/**
 * Prompts past this size (a long context, images inline) spend most of their first-byte time
 * in prefill: their timings are not evidence about the node, so the live view skips them
 * (`forward/observe.ts`); the fit still takes them to the mean size for the tables.
 */
export const LIVE_MAX_PROMPT_BYTES = 64 * 1024;

/** The fit's memory: sums halve every this long (prefill speed changes with the fleet, slowly). */
export const PREFILL_HALF_LIFE_MS = 10 * 60_000;
/** At most this many ms per byte (≈ 1 s per 1k tokens): a slowed node's first bytes do not teach an absurd slope. */
export const MAX_MS_PER_BYTE = 0.25;

/** No slope until body sizes have spread this much (RMS bytes about their mean): sizes alike teach nothing of prefill. */
const MIN_SPREAD_BYTES = 1_000;

const slopeOf = (f: Fit) => (f.xx > f.n * MIN_SPREAD_BYTES ** 2 ? Math.min(MAX_MS_PER_BYTE, Math.max(0, f.rx / f.xx)) : 0);

interface Fit {
  /** Decayed count, Σ bytes, Σ Δbytes², Σ residual × Δbytes. */
  n: number;
  bytes: number;
  xx: number;
  rx: number;
  at: number;
}

const MAX_SCOPES = 1_000;

export class PrefillFit {
  private readonly fits = new Map<string, Fit>();

  /** The fit's slope (ms per byte, ≥ 0) and the scope's mean body size, or undefined before any sample. */
  read(scope: string): { msPerByte: number; meanBytes: number } | undefined {
    const f = this.fits.get(scope);
    if (!f || f.n <= 0) return undefined;
    return { msPerByte: slopeOf(f), meanBytes: f.bytes / f.n };
  }

  /**
   * A sample of `ms` for a body of `bytes`, taken to the scope's mean size; when `level` is
   * given (the node's level at the mean size: a first byte's evidence) the fit learns from it.
   */
  normalise(scope: string, bytes: number, ms: number, now: number, level?: number): number {
    let f = this.fits.get(scope);
    if (!f) {
      if (this.fits.size >= MAX_SCOPES) this.fits.clear();
      f = { n: 0, bytes: 0, xx: 0, rx: 0, at: now };
      this.fits.set(scope, f);
    }
    if (now > f.at) {
      const d = 0.5 ** ((now - f.at) / PREFILL_HALF_LIFE_MS);
      f.n *= d;
      f.bytes *= d;
      f.xx *= d;
      f.rx *= d;
      f.at = now;
    }
    const mean = f.n > 0 ? f.bytes / f.n : bytes;
    const dx = bytes - mean;
    const slope = slopeOf(f);
    if (level !== undefined && Number.isFinite(ms)) {
      // Each sample's residual bounded to what a slope in [0, MAX_MS_PER_BYTE] could explain: one slowed node's first byte is not a slope.
      const r = Math.min(Math.max(ms - level, Math.min(0, dx) * MAX_MS_PER_BYTE), Math.max(0, dx) * MAX_MS_PER_BYTE);
      f.xx += dx * dx;
      f.rx += r * dx;
    }
    f.n += 1;
    f.bytes += bytes;
    return Math.max(1, ms - slope * dx);
  }
}
