/**
 * Prompt size in first-byte times (issue 19): time to first token grows with the prompt
 * (prefill), so a node that happens to get long prompts reads slow. Per scope, a decayed
 * least-squares fit of how far a first byte lies above its node's level against how far its
 * body lies above the scope's mean body size (ms per byte, through the origin: the nodes'
 * levels are the intercepts); every sample is then taken to what it would have been at the
 * mean size, for the table and the live view alike, so levels stay comparable with figures
 * learnt before. Bytes, not tokens: the body's length is in hand at no cost, and the ratio is
 * all the fit needs. Pure; a handful of numbers per scope and per (scope, node).
 *
 * Nodes prefill at different speeds (another GPU, another batch), so each node has its own
 * slope too: the same fit over its own first bytes, shrunk toward the scope's slope until it
 * has evidence, and held within `NODE_BAND` of it: samples are taken to the mean with their
 * node's slope, so a node that prefills slower than the scope's others is not flattered by
 * its long prompts' times, nor a faster one blamed for its short ones.
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

/**
 * A node's slope lies within this factor of its scope's (either way): whatever one caller's
 * bodies teach a node's fit, a sample of `dx` bytes on that node is taken to the mean by at
 * most the scope's slope × NODE_BAND × |dx|.
 */
export const NODE_BAND = 2;
/** A node's fit weighs the scope's slope as this many samples at the scope's typical spread: a few first bytes do not make a slope. */
const NODE_PRIOR_SAMPLES = 20;
/**
 * A sample weighs at most as one this far from the mean (bytes): one huge body (weight Δbytes²)
 * would otherwise outweigh minutes of a node's ordinary traffic.
 */
const MAX_WEIGHT_BYTES = LIVE_MAX_PROMPT_BYTES;

interface Fit {
  /** Decayed count, Σ bytes, Σ Δbytes², Σ residual × Δbytes. */
  n: number;
  bytes: number;
  xx: number;
  rx: number;
  at: number;
}

/** A node's fit: decayed Σ weight and Σ weight × the sample's slope (each bounded to [0, MAX_MS_PER_BYTE]). */
interface NodeFit {
  w: number;
  wb: number;
  at: number;
}

/** Scopes are per model (`liveScope`): a config's models × groups, nodes × that. */
const MAX_SCOPES = 5_000;
const MAX_NODES = 10_000;

/** The node's slope: its own evidence shrunk toward the scope's `scope` (prior weight `prior`), within the band around it. */
function nodeSlope(g: NodeFit | undefined, scope: number, prior: number): number {
  if (scope <= 0) return 0;
  const own = g && g.w > 0 ? (g.wb + prior * scope) / (g.w + prior) : scope;
  return Math.min(MAX_MS_PER_BYTE, scope * NODE_BAND, Math.max(scope / NODE_BAND, own));
}

/** The prior's weight for a scope's nodes: `NODE_PRIOR_SAMPLES` at its typical spread (RMS Δbytes², capped as a sample's weight is). */
const priorOf = (f: Fit) => NODE_PRIOR_SAMPLES * Math.min(f.xx / Math.max(f.n, 1e-9), MAX_WEIGHT_BYTES ** 2);

const decayBy = (now: number, at: number) => 0.5 ** ((now - at) / PREFILL_HALF_LIFE_MS);

export class PrefillFit {
  private readonly fits = new Map<string, Fit>();

  /** Per node, keyed as the live view keys its records (`scope>node`). */
  private readonly nodes = new Map<string, NodeFit>();

  /** The fit's slope (ms per byte, ≥ 0) and the scope's mean body size, or undefined before any sample. */
  read(scope: string): { msPerByte: number; meanBytes: number } | undefined {
    const f = this.fits.get(scope);
    if (!f || f.n <= 0) return undefined;
    return { msPerByte: slopeOf(f), meanBytes: f.bytes / f.n };
  }

  /** A node's slope (ms per byte): its own fit shrunk toward the scope's, within `NODE_BAND` of it. `key`: `scope>node`. */
  nodeMsPerByte(scope: string, key: string): number {
    const f = this.fits.get(scope);
    return f && f.n > 0 ? nodeSlope(this.nodes.get(key), slopeOf(f), priorOf(f)) : 0;
  }

  /**
   * A sample of `ms` for a body of `bytes` on the node `key` (`scope>node`), taken to the
   * scope's mean size with the node's slope; when `level` is given (the node's level at the
   * mean size: a first byte's evidence) the scope's fit and the node's learn from it.
   */
  normalise(scope: string, key: string, bytes: number, ms: number, now: number, level?: number): number {
    let f = this.fits.get(scope);
    if (!f) {
      if (this.fits.size >= MAX_SCOPES) this.fits.clear();
      f = { n: 0, bytes: 0, xx: 0, rx: 0, at: now };
      this.fits.set(scope, f);
    }
    if (now > f.at) {
      const d = decayBy(now, f.at);
      f.n *= d;
      f.bytes *= d;
      f.xx *= d;
      f.rx *= d;
      f.at = now;
    }
    const mean = f.n > 0 ? f.bytes / f.n : bytes;
    const dx = bytes - mean;
    let g = this.nodes.get(key);
    const slope = nodeSlope(g, slopeOf(f), priorOf(f));
    if (level !== undefined && Number.isFinite(ms)) {
      // Each sample's residual bounded to what a slope in [0, MAX_MS_PER_BYTE] could explain: one slowed node's first byte is not a slope.
      const r = Math.min(Math.max(ms - level, Math.min(0, dx) * MAX_MS_PER_BYTE), Math.max(0, dx) * MAX_MS_PER_BYTE);
      f.xx += dx * dx;
      f.rx += r * dx;
      if (dx !== 0) {
        if (!g) {
          if (this.nodes.size >= MAX_NODES) this.nodes.clear();
          g = { w: 0, wb: 0, at: now };
          this.nodes.set(key, g);
        }
        if (now > g.at) {
          const d = decayBy(now, g.at);
          g.w *= d;
          g.wb *= d;
          g.at = now;
        }
        // The sample's own slope (bounded as its residual is), weighed as its spread but never past MAX_WEIGHT_BYTES.
        const w = Math.min(dx * dx, MAX_WEIGHT_BYTES ** 2);
        g.w += w;
        g.wb += (w * r) / dx;
      }
    }
    f.n += 1;
    f.bytes += bytes;
    return Math.max(1, ms - slope * dx);
  }
}
