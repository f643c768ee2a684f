/**
 * What a JSON answer's time says about its node, once how much it wrote is taken out. Pure:
 * time is a parameter. A non-streaming generation only arrives whole, so its time is
 * `base + perToken × completion tokens`: a node that wrote a long answer is not slow, and
 * one whose answers of the same size take longer is.
 *
 * Per (scope, model, node) the view keeps time-decayed regression sums of answer ms over
 * completion tokens (time constant `RATE_MS`). The reference time per output token of a
 * (scope, model) is their pooled within-node slope (the fixed-effects estimator: each node's
 * answers are centred on its own means, so nodes with different base times do not bias it).
 *
 * An answer's base-equivalent ms = its ms − reference × its completion tokens: in the unit the
 * live view and the tables already hold for first-byte signals (time before the node starts
 * writing). One reference for every node of the scope — not each node's own slope, which would
 * learn a node's slower decoding and excuse it (and, measured in `npm run sim`, is noisier):
 * a node whose answers slow down, in base or per token, shows it at once. `live.ts` judges
 * rises on the whole answer's ratio to what was expected of it (`ms + offset` against its
 * estimate + offset), so a long answer's noise is not read as the base's.
 *
 * A node whose answers rose is *held* (`hold`): its fit stays in the reference as it was before
 * the rise (not decaying), and its answers teach nothing, until the live view sees it back near
 * its level (`release`). An isolate samples mostly its leader, so a reference that learnt from a
 * slowed leader's answers would soon be that node's new slope: its answers would come out as
 * fast as before (sim: 2.5× slower decoding read as none within a minute) and its estimate, in a
 * unit every other node's figure is no longer in, would drift back down.
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
  /** Held (`hold`): counts as it was at the rise, does not decay, learns nothing. */
  held?: true;
  /** The answer before the latest (a rise shows in two in a row: `hold` takes both back out). */
  prev?: { ms: number; tokens: number; at: number };
  last?: { ms: number; tokens: number; at: number };
}

export interface Normalised {
  /** Base-equivalent ms: the answer's time less `offset`. */
  ms: number;
  /** What was taken out (reference × tokens): `ms + offset` is the answer's own time. */
  offset: number;
  /** Whether the figure can be compared with the node's earlier ones (false: only the slope learnt from it). */
  comparable: boolean;
}

function decayed(f: Fit, now: number): Fit {
  if (f.held) return f;
  const k = Math.exp(-Math.max(0, now - f.at) / RATE_MS);
  return { ...f, w: f.w * k, x: f.x * k, y: f.y * k, xx: f.xx * k, xy: f.xy * k, at: Math.max(f.at, now) };
}

const EMPTY: Fit = { w: 0, x: 0, y: 0, xx: 0, xy: 0, at: 0 };

/** A fit with one answer added (`sign` 1) or taken back out (−1; a decayed answer: less). */
function fold(f: Fit, ms: number, tokens: number, sign: number): Fit {
  return { ...f, w: f.w + sign, x: f.x + sign * tokens, y: f.y + sign * ms, xx: f.xx + sign * tokens * tokens, xy: f.xy + sign * tokens * ms };
}

/** A fit's slope, if its spread of output sizes identifies one. */
function slopeOf(sxy: number, sxx: number, w: number, x: number): number | undefined {
  if (w < 1e-9 || sxx <= 0 || sxx / w < (MIN_SPREAD * (x / w)) ** 2) return undefined;
  return Math.max(0, sxy / sxx);
}

export class OutputRates {
  private readonly scopes = new Map<string, Map<string, Fit>>();

  /** The reference (pooled within-node) ms per output token of a scope and model; undefined while unknown. */
  private reference(scope: string, model: string, now: number): number | undefined {
    const fits = this.scopes.get(`${scope}>${model}`);
    let sxy = 0;
    let sxx = 0;
    let w = 0;
    let x = 0;
    for (const raw of fits?.values() ?? []) {
      const f = decayed(raw, now);
      if (f.w < 1e-9) continue;
      sxy += f.xy - (f.x * f.y) / f.w;
      sxx += f.xx - (f.x * f.x) / f.w;
      w += f.w;
      x += f.x;
    }
    return slopeOf(sxy, sxx, w, x);
  }

  /** The reference ms per output token; 0 while unknown. */
  msPerToken(scope: string, model: string, now: number): number {
    return this.reference(scope, model, now) ?? 0;
  }

  /**
   * The scope's mean answer size (completion tokens) over its nodes' decayed sums; 0 while none.
   * Unforced answers only (`learn`): what ranking serves, so a caller cannot shrink it by pinning.
   */
  typicalTokens(scope: string, model: string, now: number): number {
    let w = 0;
    let x = 0;
    for (const raw of this.scopes.get(`${scope}>${model}`)?.values() ?? []) {
      const f = decayed(raw, now);
      w += f.w;
      x += f.x;
    }
    return w < 1e-9 ? 0 : x / w;
  }

  /**
   * One answer: normalised with the reference known before it (so a slowed node's answer
   * cannot teach the slope that would excuse it), then folded into the node's sums
   * (`learn: false`, an answer the caller forced or shaped: not folded).
   */
  observe(scope: string, model: string, nodeId: string, ms: number, tokens: number, now: number, learn = true): Normalised {
    const key = `${scope}>${model}`;
    let fits = this.scopes.get(key);
    if (!fits) {
      if (this.scopes.size >= MAX_SCOPES) this.scopes.clear();
      fits = new Map();
      this.scopes.set(key, fits);
    }
    const ref = this.reference(scope, model, now);
    const prev = fits.get(nodeId);
    const f = prev ? decayed(prev, now) : { ...EMPTY, at: now };
    const rate = ref ?? 0;
    const comparable = ref !== undefined || f.w < 1e-9 || tokens <= LONGER * Math.max(1, f.x / f.w);
    if (learn && !f.held) fits.set(nodeId, { ...fold(f, ms, tokens, 1), ...(f.last ? { prev: f.last } : {}), last: { ms, tokens, at: now } });
    // A reference that overshoots for this answer still leaves it a positive time.
    const offset = Math.min(ms - 1, rate * tokens);
    return { ms: ms - offset, offset, comparable };
  }

  /**
   * A node whose answers rose (the one just observed showed it): that answer is taken back out
   * and the node's fit is held as it was, so the reference keeps the speed the other nodes are
   * judged by. Already held: stays as it was.
   */
  hold(scope: string, model: string, nodeId: string, ms: number, tokens: number, now: number, folded = true): void {
    const fits = this.scopes.get(`${scope}>${model}`);
    const f = fits?.get(nodeId);
    if (!fits || !f || f.held) return;
    // An answer that was not folded in (`learn: false`) has nothing to take back.
    let back = folded ? fold(decayed(f, now), ms, tokens, -1) : decayed(f, now);
    // The answer before it too: a rise counts when two in a row show it.
    if (folded && f.prev) back = fold(back, f.prev.ms, f.prev.tokens, -Math.exp(-Math.max(0, now - f.prev.at) / RATE_MS));
    const { prev: _p, last: _l, ...rest } = back;
    fits.set(nodeId, rest.w < 1e-6 ? { ...EMPTY, at: now, held: true } : { ...rest, held: true });
  }

  /**
   * An answer just folded in (`observe`) that the live view found past `PEAK_RISE` of what was
   * expected of it, not yet a rise (two in a row count): taken back out. It is either noise or
   * the first answer of a slowdown, and a long one dominates the sums — one 2,400-token answer of
   * a node 2.5× slower took the reference from 3.8 to 6.6 ms per token, and that node's
   * next answers then read as normal, so its rise was never seen (sim seed 9, mixed traffic).
   * The answers before it are no longer remembered as such: a rise on the next one takes back
   * only that one (`hold`), not an answer that was fine.
   */
  unlearn(scope: string, model: string, nodeId: string, ms: number, tokens: number, now: number): void {
    const f = this.scopes.get(`${scope}>${model}`)?.get(nodeId);
    if (!f || f.held) return;
    const { prev: _p, last: _l, ...rest } = fold(decayed(f, now), ms, tokens, -1);
    this.scopes.get(`${scope}>${model}`)!.set(nodeId, rest.w < 1e-6 ? { ...EMPTY, at: now } : rest);
  }

  /** A held node back near its level: its fit decays and learns again, from this answer on. */
  release(scope: string, model: string, nodeId: string, ms: number, tokens: number, now: number): void {
    const fits = this.scopes.get(`${scope}>${model}`);
    const f = fits?.get(nodeId);
    if (!fits || !f?.held) return;
    const { held: _, ...rest } = f;
    fits.set(nodeId, fold({ ...rest, at: now }, ms, tokens, 1));
  }
}
