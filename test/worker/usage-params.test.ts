/**
 * `GET /admin/usage` time parameters: anything that is not a time the rollups can hold is a
 * 400 in the OpenAI error shape that names the parameter, never a 500.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, resetWorld } from './helpers';

beforeEach(resetWorld);

describe('GET /admin/usage time parameters', () => {
  const bad: [string, string][] = [
    ['from', '100000000000000000000'],
    ['to', '9000000000000000'],
    ['from', '99999999999999999999999999999999999999999999'],
    ['from', '0000-01-01'],
  ];
  for (const [param, value] of bad) {
    it(`${param}=${value} is a 400 naming ${param}, not a 500`, async () => {
      const res = await admin(`/usage?${param}=${encodeURIComponent(value)}`);
      expect(res.status).toBe(400);
      const body = await res.json<{ error: { message: string; type: string; code: string } }>();
      expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_query' });
      expect(body.error.message).toContain(param);
    });
  }

  it('reads an ISO offset typed with an unencoded + (a space once decoded) as that offset', async () => {
    const res = await admin('/usage?from=2026-11-01T00:00:00+05:30&to=2026-11-02T00:00:00Z');
    expect(res.status).toBe(200);
    expect((await res.json<{ from: string }>()).from).toBe('2026-10-31T18:00:00.000Z');
  });

  it('from after the default to (the end of this hour) is a 400 naming from, not an answer whose from is after its to', async () => {
    const res = await admin(`/usage?from=${Date.now() + 3 * 3_600_000}`);
    expect(res.status).toBe(400);
    const body = await res.json<{ error: { message: string; code: string } }>();
    expect(body.error.code).toBe('invalid_query');
    expect(body.error.message).toContain('from');
  });
});
