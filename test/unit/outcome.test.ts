import { describe, expect, it } from 'vitest';
import { classify, retryAfterMs } from '../../src/forward/outcome';

const response = (status: number, headers: Record<string, string> = {}) =>
  classify({ kind: 'response', status, headers: new Headers(headers) });

describe('classify', () => {
  it.each([408, 429, 500, 502, 503, 504])('retries HTTP %i on another node', (status) => {
    expect(response(status).action).toBe('retry');
  });

  it.each([401, 403])('treats HTTP %i as the node credential failing (node fault)', (status) => {
    expect(response(status)).toMatchObject({ action: 'retry', nodeFault: true });
  });

  it.each([400, 404, 413, 422])('returns caller error HTTP %i unchanged', (status) => {
    expect(response(status).action).toBe('return');
  });

  it('accepts 2xx', () => expect(response(200).action).toBe('accept'));

  it.each([301, 302, 307, 308])('treats redirect HTTP %i as a node fault, never followed', (status) => {
    expect(response(status)).toMatchObject({ action: 'retry', nodeFault: true, reason: `HTTP ${status} redirect (not followed)` });
  });

  it('stops at an answer too large to hold: another node would generate it again', () => {
    expect(classify({ kind: 'too-large', limit: 10, status: 200 })).toMatchObject({ action: 'fail' });
  });

  it('does not count 429 as a node fault, and carries its Retry-After', () => {
    expect(response(429, { 'retry-after': '3' })).toMatchObject({ nodeFault: false, retryAfterMs: 3000 });
  });

  it('retries connection failures, timeouts and empty streams as node faults', () => {
    expect(classify({ kind: 'network', message: 'refused' })).toMatchObject({ action: 'retry', nodeFault: true });
    expect(classify({ kind: 'timeout', afterMs: 5, stream: false })).toMatchObject({ action: 'retry', timeout: true });
    expect(classify({ kind: 'empty-stream' })).toMatchObject({ action: 'retry', nodeFault: true });
  });
});

describe('retryAfterMs', () => {
  const h = (o: Record<string, string>) => new Headers(o);
  it('prefers retry-after-ms', () => expect(retryAfterMs(h({ 'retry-after-ms': '250', 'retry-after': '9' }))).toBe(250));
  it('reads delay-seconds', () => expect(retryAfterMs(h({ 'retry-after': '2' }))).toBe(2000));
  it('reads an HTTP-date relative to now', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(h({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }), now)).toBe(5000);
  });
  it('ignores garbage', () => expect(retryAfterMs(h({ 'retry-after': 'soon' }))).toBeUndefined());
});
