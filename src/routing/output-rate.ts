/**
 * What a JSON answer's time says about its node, once how much it wrote is taken out. Pure:
 * time is a parameter. A non-streaming generation only arrives whole, so its time is
 * `base + perToken × completion tokens`: a node that wrote a long answer is not slow, and
 * one whose answers of the same size take longer is.
 *
 * Per (scope, model) the view keeps, for every node, time-decayed regression sums of answer
 * ms over completion tokens (time constant `RATE_MS`). The reference time per output token is
 * their pooled within-node slope (the fixed-effects estimator: each node's answers are centred
 * on its own means, so nodes with different base times do not bias it). One reference for
 * every node of the scope — not each node's own slope, which would learn a node's slower
 * decoding and hide it — so `ms − reference × tokens` ranks nodes in the order of their
 * expected answer time at the scope's typical output size, whatever the reference's exact value.
 *
 * The normalised figure (`base-equivalent ms`) is in the unit the live view and the tables
 * already hold for first-byte signals: time before the node starts writing.
 *
 * Until the slope is known (every answer of about the same size), an answer much longer than
 * the node's usual one is `comparable: false`: its time cannot tell a long answer from a slow
 * node, so it only teaches the slope and moves nothing.
 */

/** Time constant of the regression sums: the per-token rate is a slow property of a model. */
export const RATE_MS = 120_000;
/** Slope known once the pooled within-node spread of output sizes reaches this share of the mean size. */
const MIN_SPREAD = 0.2;
/** Without a known slope, an answer past this multiple of the node's mean size is not comparable. */
const LONGER = 1.5;
const MAX_SCOPES = 2_000;

interface Fit {
  w: number;
  x: number;
  y: number;
  xx: number;
  xy: number;
  at: number;
}

export interface Normalised {
  /** Base-equivalent ms: the answer's time less the reference time of what it wrote. */
  ms: number;
  /** Whether the figure can be compared with the node's earlier ones (false: only the slope learnt from it). */
  comparable: boolean;
  /** The reference ms per output token used (0 while unknown). */
  msPerToken: number;
}

function decayed(f: Fit, now: number): Fit {
  const k = Math.exp(-Math.max(0, now - f.at) / RATE_MS);
  return { w: f.w * k, x: f.x * k, y: f.y * k, xx: f.xx * k, xy: f.xy * k, at: Math.max(f.at, now) };
}

export class OutputRates {
  private readonly scopes = new Map<string, Map<string, Fit>>();

  /** The reference ms per output token for a scope and model; 0 while the slope is unknown. */
  msPerToken(scope: string, model: string, now: number): number {
    const fits = this.scopes.get(`${scope}>${model}`);
    if (!fits) return 0;
    let sxy = 0;
    let sxx = 0;
    let w = 0;
    let x = 0;
    for (const raw of fits.values()) {
      const f = decayed(raw, now);
      if (f.w < 1e-9) continue;
      sxy += f.xy - (f.x * f.y) / f.w;
      sxx += f.xx - (f.x * f.x) / f.w;
      w += f.w;
      x += f.x;
    }
    if (w < 1e-9 || sxx <= 0) return 0;
    const mean = x / w;
    if (sxx / w < (MIN_SPREAD * mean) ** 2) return 0;
    return Math.max(0, sxy / sxx);
  }

  /**
   * One answer: normalised with the reference known before it (so a slowed node's answer
   * cannot teach the slope that would excuse it), then folded into the node's sums.
   */
  observe(scope: string, model: string, nodeId: string, ms: number, tokens: number, now: number): Normalised {
    const key = `${scope}>${model}`;
    let fits = this.scopes.get(key);
    if (!fits) {
      if (this.scopes.size >= MAX_SCOPES) this.scopes.clear();
      fits = new Map();
      this.scopes.set(key, fits);
    }
    const rate = this.msPerToken(scope, model, now);
    const prev = fits.get(nodeId);
    const f = prev ? decayed(prev, now) : { w: 0, x: 0, y: 0, xx: 0, xy: 0, at: now };
    const comparable = rate > 0 || f.w < 1e-9 || tokens <= LONGER * Math.max(1, f.x / f.w);
    fits.set(nodeId, { w: f.w + 1, x: f.x + tokens, y: f.y + ms, xx: f.xx + tokens * tokens, xy: f.xy + tokens * ms, at: f.at });
    // A reference that overshoots for this answer still leaves it a positive time.
    return { ms: Math.max(1, ms - rate * tokens), comparable, msPerToken: rate };
  }

  /** A node whose speed changed: its older answers no longer describe it (nor the slope); this one starts afresh. */
  restart(scope: string, model: string, nodeId: string, ms: number, tokens: number, now: number): void {
    this.scopes.get(`${scope}>${model}`)?.set(nodeId, { w: 1, x: tokens, y: ms, xx: tokens * tokens, xy: tokens * ms, at: now });
  }
}
