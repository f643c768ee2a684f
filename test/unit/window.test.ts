import { describe, expect, it } from 'vitest';
import { decide, estimateTokens, formatReset, WINDOW_MS, type LogEntry } from '../../src/limits/window';

function admitMany(count: number, limits: Parameters<typeof decide>[2], at: (i: number) => number, tokens = 1) {
  const log: LogEntry[] = [];
  let admitted = 0;
  for (let i = 0; i < count; i++) {
    const d = decide(log, 0, limits, tokens, at(i), `r${i}`);
    if (d.ok) {
      log.push({ id: `r${i}`, at: at(i), tokens });
      admitted++;
    }
  }
  return { log, admitted };
}

describe('sliding-log limiter', () => {
  it('admits exactly L of a simultaneous burst', () => {
    expect(admitMany(200, { rpm: 50 }, () => 1_000).admitted).toBe(50);
  });

  it('has no 2x burst at a window boundary', () => {
    // 50 at the end of one minute, 50 more tried right after the "boundary".
    const at = (i: number) => (i < 50 ? 59_000 : 61_000);
    const { admitted } = admitMany(100, { rpm: 50 }, at);
    expect(admitted).toBe(50);
  });

  it('slides: capacity returns exactly as old entries leave the window', () => {
    const log: LogEntry[] = [{ id: 'a', at: 0, tokens: 1 }, { id: 'b', at: 30_000, tokens: 1 }];
    expect(decide(log, 0, { rpm: 2 }, 1, 59_999, 'c').ok).toBe(false);
    expect(decide(log, 0, { rpm: 2 }, 1, WINDOW_MS, 'c').ok).toBe(true);
  });

  it('never holds more than L in any 60 s window under a random arrival pattern', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const times = Array.from({ length: 3000 }, () => Math.floor(rand() * 300_000)).sort((a, b) => a - b);
    const { log } = admitMany(times.length, { rpm: 40 }, (i) => times[i]!);
    for (const e of log) {
      const inWindow = log.filter((o) => o.at > e.at - WINDOW_MS && o.at <= e.at).length;
      expect(inWindow).toBeLessThanOrEqual(40);
    }
  });

  it('says how long until a request fits', () => {
    const log: LogEntry[] = [{ id: 'a', at: 10_000, tokens: 1 }, { id: 'b', at: 20_000, tokens: 1 }];
    const d = decide(log, 0, { rpm: 2 }, 1, 25_000, 'c');
    expect(d).toMatchObject({ ok: false, limit: 'requests', retryAfterMs: 45_000 });
  });

  it('counts tokens for TPM, by cost', () => {
    const log: LogEntry[] = [{ id: 'a', at: 0, tokens: 700 }];
    expect(decide(log, 0, { tpm: 1000 }, 300, 1, 'b').ok).toBe(true);
    expect(decide(log, 0, { tpm: 1000 }, 301, 1, 'b')).toMatchObject({ ok: false, limit: 'tokens', retryAfterMs: 59_999 });
  });

  it('refuses past the concurrency limit', () => {
    expect(decide([], 3, { concurrency: 3 }, 1, 0, 'x')).toMatchObject({ ok: false, limit: 'concurrency' });
    expect(decide([], 2, { concurrency: 3 }, 1, 0, 'x').ok).toBe(true);
  });

  it('reports remaining after admission, and nothing for unset limits', () => {
    const d = decide([], 0, { rpm: 10 }, 5, 0, 'x');
    expect(d.snapshot).toEqual({ requests: { limit: 10, remaining: 9, resetMs: WINDOW_MS } });
  });
});

describe('formatReset', () => {
  it.each([
    [20, '20ms'],
    [1000, '1s'],
    [1001, '2s'],
    [360_000, '6m0s'],
    [3_723_000, '1h2m3s'],
  ])('%i ms → %s', (ms, text) => expect(formatReset(ms)).toBe(text));
});

describe('estimateTokens', () => {
  it('adds the completion allowance to a prompt estimate', () => {
    expect(estimateTokens({ messages: [{ role: 'user', content: 'x'.repeat(40) }], max_tokens: 100 }, 1024)).toBe(Math.ceil(JSON.stringify([{ role: 'user', content: 'x'.repeat(40) }]).length / 4) + 100);
    expect(estimateTokens({ messages: [] }, 1024)).toBe(1025);
  });
  it('counts only the input for embeddings', () => {
    expect(estimateTokens({ input: 'abcdefgh' }, 1024)).toBe(3);
  });
});
