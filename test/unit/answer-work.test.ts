/** What a JSON answer's time is judged per in the live view (`forward/observe.ts` `answerWork`). */
import { describe, expect, it } from 'vitest';
import { answerWork, type TimingSays } from '../../src/forward/observe';

const says = (extra: Partial<TimingSays> = {}): TimingSays => ({ long: false, callerTimed: false, firstByte: false, firstByteish: false, generation: true, ...extra });
const usage = (completion: number, extra: Record<string, number> = {}) => ({ prompt_tokens: 10, completion_tokens: completion, total_tokens: 10 + completion, ...extra });

describe('answerWork', () => {
  it('a chat answer by its completion tokens, none without usage', () => {
    expect(answerWork(says(), usage(42))).toBe(42);
    expect(answerWork(says(), undefined)).toBeUndefined();
  });

  it('an image answer by its usage, else by what it asked for', () => {
    expect(answerWork(says({ work: 1_000 }), usage(4_160))).toBe(4_160);
    expect(answerWork(says({ work: 1_000 }), undefined)).toBe(1_000);
  });

  it('an upload by the seconds it billed, unless denser than audio is', () => {
    expect(answerWork(says({ audio: { bytes: 960_000 } }), usage(0, { audio_seconds: 60 }))).toBe(60);
    expect(answerWork(says({ audio: { bytes: 3_000_000 } }), usage(0, { audio_seconds: 1 }))).toBeUndefined();
  });

  it('a figure past any real answer teaches nothing (it would swamp the fits\' sums)', () => {
    expect(answerWork(says(), usage(1e155))).toBeUndefined();
    expect(answerWork(says({ audio: { bytes: 1 } }), usage(0, { audio_seconds: 1e12 }))).toBeUndefined();
    expect(answerWork(says(), usage(10_000_000))).toBe(10_000_000);
  });
});
