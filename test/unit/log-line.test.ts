import { describe, expect, it } from 'vitest';
import { LoggingSchema } from '../../src/config/schema';
import { requestLogLine, shouldLog } from '../../src/usage/log-line';
import type { RequestRecord } from '../../src/usage/request-log';

const record = (extra: Partial<RequestRecord> = {}): RequestRecord => ({
  requestId: 'req_1',
  keyId: 'key_1',
  model: 'gpt-4o-mini',
  answeredModel: 'gpt-4o-mini',
  node: 'n-us',
  colo: 'IAD',
  endpoint: 'chat',
  attempts: 1,
  status: 200,
  ttfbMs: 12,
  durationMs: 40,
  usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12, cached_tokens: 2 },
  ...extra,
});

/** The line as it was built before: the record spread into an object, then JSON.stringify. */
function spreadLine(r: RequestRecord, costUsd: number | null): string {
  return JSON.stringify({
    event: 'request',
    ...r,
    usage: undefined,
    promptTokens: r.usage?.prompt_tokens ?? null,
    cachedTokens: r.usage?.cached_tokens ?? null,
    completionTokens: r.usage?.completion_tokens ?? null,
    costUsd,
  });
}

const logging = (extra: object = {}) => LoggingSchema.parse(extra);

describe('request log line', () => {
  it('carries the values the spread-and-stringify build wrote, in the README order, with and without usage and cost', () => {
    const README_ORDER = ['event', 'requestId', 'keyId', 'model', 'answeredModel', 'node', 'colo', 'endpoint', 'attempts', 'status', 'ttfbMs', 'durationMs', 'promptTokens', 'cachedTokens', 'completionTokens', 'costUsd'];
    for (const r of [record(), record({ usage: undefined, answeredModel: null, node: null, colo: null, status: 502 }), record({ usage: { prompt_tokens: 5, completion_tokens: 0, total_tokens: 5 } })]) {
      for (const cost of [0.0000123, null]) {
        const line = requestLogLine(r, cost);
        expect(line).toBe(spreadLine(r, cost)); // record() lists its fields in the README order
        expect(Object.keys(JSON.parse(line))).toEqual(README_ORDER);
      }
    }
  });

  it('escapes a caller-supplied request id so the line stays one JSON object', () => {
    const r = record({ requestId: 'a"b\\c\n},"keyId":"forged' });
    const parsed = JSON.parse(requestLogLine(r, null));
    expect(parsed.requestId).toBe(r.requestId);
    expect(parsed.keyId).toBe('key_1');
  });

  it('writes a number that is not finite as null, as JSON.stringify does', () => {
    const line = requestLogLine(record({ ttfbMs: Number.NaN, durationMs: Number.POSITIVE_INFINITY }), null);
    expect(JSON.parse(line)).toMatchObject({ ttfbMs: null, durationMs: null });
    expect(line).toBe(spreadLine(record({ ttfbMs: Number.NaN, durationMs: Number.POSITIVE_INFINITY }), null));
  });
});

describe('log sampling', () => {
  const never = () => 0.999999;
  const always = () => 0;

  it('logs every request by default (successSampleRate 1)', () => {
    expect(shouldLog(record(), logging(), never)).toBe(true);
  });

  it('logs every error whatever the sample rate', () => {
    for (const status of [400, 401, 429, 499, 500, 502, 504]) expect(shouldLog(record({ status }), logging({ successSampleRate: 0 }), never)).toBe(true);
  });

  it('logs a slow success (first byte at or after slowMs) whatever the sample rate', () => {
    const cfg = logging({ successSampleRate: 0, slowMs: 1_000 });
    expect(shouldLog(record({ ttfbMs: 1_000 }), cfg, never)).toBe(true);
    expect(shouldLog(record({ ttfbMs: 999 }), cfg, always)).toBe(false);
  });

  it('logs the configured share of fast successes', () => {
    const cfg = logging({ successSampleRate: 0.25 });
    expect(shouldLog(record(), cfg, () => 0.2)).toBe(true);
    expect(shouldLog(record(), cfg, () => 0.25)).toBe(false);
    let state = 1;
    const lcg = () => ((state = (state * 48271) % 2147483647) / 2147483647);
    let logged = 0;
    for (let i = 0; i < 10_000; i++) if (shouldLog(record(), cfg, lcg)) logged++;
    expect(logged).toBeGreaterThan(2_300);
    expect(logged).toBeLessThan(2_700);
  });

  it('refuses a sample rate outside 0..1', () => {
    expect(() => logging({ successSampleRate: 1.5 })).toThrow();
    expect(() => logging({ successSampleRate: -0.1 })).toThrow();
  });
});
