/**
 * Models in the colo's samples (`routing/live-units.ts`): the live view keeps a level per model
 * on each node; the colo's per-node figure pools every model, so a model far slower to its first
 * byte there (a reasoning model) does not feed it, while a node that slowed for every model does.
 */
import { describe, expect, it } from 'vitest';
import { RoutingSchema } from '../../src/config/schema';
import { LiveView } from '../../src/routing/live';
import { STALE_MS } from '../../src/routing/live-units';

const live = RoutingSchema.parse({}).live;
const COLO = 'FRA/chat';
const scope = (model: string) => `${COLO}/${model}`;

/** Feeds the view as `forward/observe.ts` does (live view first), and returns whether the colo's samples took it. */
function sample(view: LiveView, model: string, node: string, ms: number, t: number): boolean {
  view.observe(scope(model), node, ms, true, t);
  return view.pooled(COLO, scope(model), model, node, ms, t);
}

describe('which models feed the colo\'s per-node samples', () => {
  it('keeps a reasoning model\'s first bytes out, and a small model\'s in, on the same node', () => {
    const view = new LiveView(live);
    for (let t = 0; t < 5_000; t += 1_000) expect(sample(view, 'mini', 'n', 300, t)).toBe(true);
    // Its level there is 20× the small model's: another unit, not a node that slowed.
    for (let t = 5_000; t < 10_000; t += 1_000) expect(sample(view, 'o3', 'n', 6_000, t)).toBe(false);
    expect(sample(view, 'mini', 'n', 310, 10_000)).toBe(true);
    // Within 4× of it: the same unit (models do differ somewhat), fed.
    expect(sample(view, 'gpt-4o', 'n', 900, 11_000)).toBe(true);
    // The reasoning model's figure on another node is not judged by this one's models.
    expect(sample(view, 'o3', 'm', 6_000, 12_000)).toBe(true);
  });

  it('feeds a node that slowed for every model: its least level rises too', () => {
    const view = new LiveView(live);
    for (let t = 0; t < 5_000; t += 1_000) sample(view, 'mini', 'n', 300, t);
    for (let t = 5_000; t < 7_000; t += 1_000) sample(view, 'gpt-4o', 'n', 600, t);
    // 8× slower for both: the small model's level jumps first, and the other's samples stay in its unit.
    expect(sample(view, 'mini', 'n', 2_400, 8_000)).toBe(true);
    expect(sample(view, 'gpt-4o', 'n', 4_800, 9_000)).toBe(true);
  });

  it('compares a sample the view has no level for (a long prompt, the view off) by itself, without keeping it', () => {
    const view = new LiveView(live);
    sample(view, 'mini', 'n', 300, 0);
    expect(view.pooled(COLO, scope('o3'), 'o3', 'n', 6_000, 1_000)).toBe(false);
    expect(view.pooled(COLO, scope('o3'), 'o3', 'n', 800, 1_000)).toBe(true);
    // Nothing kept for a node the view has not leveled: every sample feeds, as with the view off.
    expect(view.pooled(COLO, scope('o3'), 'o3', 'fresh', 6_000, 1_000)).toBe(true);
    expect(view.pooled(COLO, scope('mini'), 'mini', 'fresh', 300, 1_000)).toBe(true);
  });

  it('judges by a least level only while its model is sampled on the node: a fast model a caller sent once does not keep the others out', () => {
    const view = new LiveView(live);
    sample(view, 'nano', 'n', 100, 0);
    expect(sample(view, 'gpt-4o', 'n', 600, 1_000)).toBe(false);
    expect(sample(view, 'gpt-4o', 'n', 600, STALE_MS - 1)).toBe(false);
    expect(sample(view, 'gpt-4o', 'n', 600, STALE_MS + 1)).toBe(true);
    // Now the least there: a reasoning model is judged by it.
    expect(sample(view, 'o3', 'n', 6_000, STALE_MS + 2)).toBe(false);
  });

  it('does not re-try a reasoning model\'s slower node because the table, in another unit, says it is faster', () => {
    const view = new LiveView(live);
    for (let t = 0; t < 5_000; t += 1_000) sample(view, 'mini', 'n', 300, t);
    for (let t = 5_000; t < 8_000; t += 1_000) {
      sample(view, 'o3', 'n', 9_000, t);
      sample(view, 'o3', 'm', 6_000, t);
    }
    const later = 8_000 + live.maxExploreMs;
    // n's own figure for o3 never beat m's: the table's 300 ms for n is mini's unit.
    expect(view.lens(scope('o3'), later, { explore: true }).explore!('n', 300, 6_000 / 1.05)).toBe(false);
    // A model in the table's unit still takes its word (mini at n: its own 300 ms, against a leader at 250).
    expect(view.lens(scope('mini'), later, { explore: true }).explore!('n', 300, 250)).toBe(false);
    expect(view.lens(scope('mini'), later, { explore: true }).explore!('n', 200, 250)).toBe(true);
  });
});
