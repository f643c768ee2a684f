/**
 * Models in the colo's samples. The live view keeps a level per model on each node
 * (`liveScope`); the colo's samples, and the tables published from them, keep one figure per
 * node, every model's samples pooled. A reasoning model's first chunk comes after it has
 * reasoned (seconds to minutes: o3, gpt-5 at high effort, Claude thinking on a translated
 * stream), so its successes pooled there would read its node slow for every model in every
 * isolate of the colo — and any caller could send a few to steer the others' traffic.
 *
 * So per (colo and endpoint group, node) the model with the least level there is kept, and a
 * success of another model whose level on the node is past `JUMP` times it — in another unit,
 * not a node that slowed (that shows in every model's level, the least one's too) — does not
 * feed the colo's samples. Failures always do. The least level stands while its model is
 * sampled there at least once per `STALE_MS`: otherwise a few fast-model streams a caller sent
 * once would keep every other model's samples of the node out for good (and a slowdown with
 * them). Not shorter: a quiet spell of the fast model would let the slow one's in again. Pure;
 * one small record per (scope, node).
 */
import { JUMP } from './live-stat';

const MAX_KEYS = 2_000;
/** A least level whose model has not been sampled on the node this long no longer judges the others. */
export const STALE_MS = 10 * 60_000;

export class ModelUnits {
  /** Per `scope>node`: the model with the least level seen there, that level, and when its model was last sampled there. */
  private readonly least = new Map<string, { model: string; ms: number; at: number }>();

  /**
   * Whether a success of `model` on the node, at `now`, may feed the colo's samples. `level`: the model's
   * level on the node after the sample (undefined: the view has none — disabled, or a long
   * prompt — and the sample's `ms` is compared instead, and not kept).
   */
  pooled(key: string, model: string, level: number | undefined, ms: number, now: number): boolean {
    let least = this.least.get(key);
    if (least && now - least.at >= STALE_MS) least = undefined;
    if (level !== undefined && (!least || least.model === model || level < least.ms)) {
      if (!this.least.has(key) && this.least.size >= MAX_KEYS) this.least.clear();
      this.least.set(key, { model, ms: level, at: now });
      return true;
    }
    return !least || least.model === model || (level ?? ms) <= JUMP * Math.max(1, least.ms);
  }
}
