import { describe, expect, it } from 'vitest';
import { RoutingSchema } from '../../src/config/schema';
import { callerTimed } from '../../src/routing/caller-timed';
import { LiveView, type AnswerUse } from '../../src/routing/live';

const live = RoutingSchema.parse({}).live;
const scope = 'FRA/chat';
const SIZES = [100, 300, 200];

/**
 * Two nodes answering JSON of 100–300 tokens at 10 ms a token, once a second each for a
 * minute, streams too (first byte 200 ms, seen before any answer); then `slow` decodes at
 * 30 ms a token (its rise is seen). Returns the view and the time reached.
 */
function slowedDecoder(): { view: LiveView; t: number } {
  const view = new LiveView(live);
  let t = 0;
  const round = (slowPerToken: number, i: number) => {
    const k = SIZES[i % SIZES.length] ?? 200;
    view.observe(scope, 'fast', 200, true, t);
    view.observe(scope, 'slow', 200, true, t + 1);
    view.observeAnswer(scope, 'm', 'fast', 200 + 10 * k, k, t + 2);
    view.observeAnswer(scope, 'm', 'slow', 200 + slowPerToken * k, k, t + 3);
    t += 1000;
  };
  for (let i = 0; i < 60; i++) round(10, i);
  for (let i = 0; i < 5; i++) round(30, i);
  return { view, t };
}

const json = (view: LiveView, t: number, id: string) => view.lens(scope, t, { explore: false, answer: true }).estimate(id, Infinity).expectedMs;

describe('live view evidence: what an answer may teach', () => {
  it('keeps a slowed decoder behind for JSON after 30 one-token answers on it', () => {
    const { view, t: start } = slowedDecoder();
    expect(json(view, start, 'slow')).toBeGreaterThan(json(view, start, 'fast') + 1000);
    let t = start;
    for (let i = 0; i < 30; i++, t += 100) {
      view.observeAnswer(scope, 'm', 'slow', 205, 1, t);
      view.observe(scope, 'slow', 200, true, t + 1);
      view.observe(scope, 'fast', 200, true, t + 1);
    }
    // On main: slow 194 ms against fast 1188 — long generations would go to the slower decoder.
    expect(json(view, t, 'slow')).toBeGreaterThan(json(view, t, 'fast') + 1000);
    // A minute on (a probe's gap: the view's own weight has decayed), one more one-token answer.
    t += 60_000;
    view.observe(scope, 'slow', 200, true, t);
    view.observe(scope, 'fast', 200, true, t);
    view.observeAnswer(scope, 'm', 'slow', 205, 1, t + 1);
    expect(json(view, t + 2, 'slow')).toBeGreaterThan(json(view, t + 2, 'fast') + 1000);
  });

  it('lets a pinned (forced) answer bring bad news but not good', () => {
    const { view, t: start } = slowedDecoder();
    const before = json(view, start, 'slow');
    let t = start;
    const pinned: AnswerUse = 'forced';
    // Long answers at the old speed, pinned: they would be good news, and are not taken.
    for (let i = 0; i < 20; i++, t += 100) view.observeAnswer(scope, 'm', 'slow', 200 + 10 * 200, 200, t, pinned);
    expect(json(view, t, 'slow')).toBe(before);
    // A node that slows further still shows it through pinned answers (two in a row).
    const fastBefore = json(view, t, 'fast');
    view.observeAnswer(scope, 'm', 'fast', 200 + 60 * 200, 200, t, pinned);
    view.observeAnswer(scope, 'm', 'fast', 200 + 60 * 200, 200, t + 100, pinned);
    expect(json(view, t + 200, 'fast')).toBeGreaterThan(fastBefore * 2);
  });

  it('lets a pinned first byte raise a node but not lower it', () => {
    const view = new LiveView(live);
    for (let i = 0; i < 10; i++) view.observe(scope, 'n', 400, true, i * 1000);
    for (let i = 0; i < 10; i++) view.observe(scope, 'n', 50, true, 10_000 + i * 100, { forced: true });
    expect(view.lens(scope, 11_000, { explore: false }).estimate('n', Infinity).expectedMs).toBe(400);
    view.observe(scope, 'n', 2_000, true, 11_000, { forced: true });
    view.observe(scope, 'n', 2_000, true, 11_100, { forced: true });
    expect(view.lens(scope, 11_200, { explore: false }).estimate('n', Infinity).expectedMs).toBeGreaterThan(1_000);
  });
});

describe('callerTimed', () => {
  const user = (content: unknown) => ({ model: 'm', messages: [{ role: 'user', content }] });
  it('finds parts the node fetches from the caller', () => {
    expect(callerTimed(user([{ type: 'image_url', image_url: { url: 'https://caller.example/a.png' } }]))).toBe(true);
    expect(callerTimed({ model: 'm', input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://x/a.png' }] }] })).toBe(true);
    expect(callerTimed({ model: 'm', input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file-1' }] }] })).toBe(true);
    expect(callerTimed(user([{ type: 'image', source: { type: 'url', url: 'https://x/a.png' } }]))).toBe(true);
  });
  it('leaves inline data and plain text alone', () => {
    expect(callerTimed(user([{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }]))).toBe(false);
    expect(callerTimed(user([{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }]))).toBe(false);
    expect(callerTimed(user('https://caller.example/a.png'))).toBe(false);
  });
});

describe('live view: answers before the per-token reference is known', () => {
  /** JSON to the lens's leader (streams on both nodes each second); both nodes decode at 10 ms a token. */
  function mixed(view: LiveView, from: number, rounds: number): string[] {
    const chosen: string[] = [];
    for (let i = 0; i < rounds; i++) {
      const t = from + i * 1000;
      view.observe(scope, 'near', 200, true, t);
      view.observe(scope, 'far', 400, true, t + 1);
      const lens = view.lens(scope, t + 2, { explore: false, answer: true });
      const leader = lens.estimate('near', Infinity).expectedMs <= lens.estimate('far', Infinity).expectedMs ? 'near' : 'far';
      const k = [100, 300, 200, 150, 250][i % 5] ?? 200;
      view.observeAnswer(scope, 'm', leader, (leader === 'near' ? 200 : 400) + 10 * k, k, t + 3);
      chosen.push(leader);
    }
    return chosen;
  }

  it('keeps a healthy node leading JSON when its first bytes came first, and learns the reference', () => {
    const view = new LiveView(live);
    for (let i = 0; i < 10; i++) {
      view.observe(scope, 'near', 200, true, i * 1000);
      view.observe(scope, 'far', 400, true, i * 1000 + 1);
    }
    const chosen = mixed(view, 10_000, 30);
    // On main: the first answer (its decoding included) read as a rise over near's first byte, near's fit
    // was held, JSON went to far, whose first answer did the same: the reference was never learnt.
    expect(chosen.slice(5)).toEqual(chosen.slice(5).map(() => 'near'));
    expect(view.rates.msPerToken(scope, 'm', 40_000)).toBeGreaterThan(8);
    expect(view.rates.msPerToken(scope, 'm', 40_000)).toBeLessThan(12);
  });

  it('still counts a rise against the node\'s earlier whole answers while the reference is unknown', () => {
    const view = new LiveView(live);
    for (let i = 0; i < 10; i++) {
      view.observe(scope, 'near', 200, true, i * 1000);
      view.observeAnswer(scope, 'm', 'near', 1200, 100, i * 1000 + 1); // all one size: no reference
    }
    expect(json(view, 10_000, 'near')).toBeLessThan(300);
    view.observe(scope, 'near', 200, true, 10_000);
    view.observeAnswer(scope, 'm', 'near', 4200, 100, 10_001); // decoding 4× slower
    view.observeAnswer(scope, 'm', 'near', 4200, 100, 10_002);
    expect(view.rates.msPerToken(scope, 'm', 10_003)).toBe(0);
    expect(json(view, 10_003, 'near')).toBeGreaterThan(2000);
  });
});
