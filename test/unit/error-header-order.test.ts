/**
 * An error's own headers win over what every answer on its request carries: a 429 refusing
 * another attempt's reservation has the key's window as it saw it, newer than the admission's
 * `x-ratelimit-*` on the context — in OpenAI's face (`errorResponse`) and Anthropic's
 * (`anthropicErrorResponse`, whose `anthropic-ratelimit-*` are read from the same headers).
 */
import type { Context } from 'hono';
import { describe, expect, it } from 'vitest';
import type { AppEnv } from '../../src/bindings';
import { errorResponse, RouterError } from '../../src/errors/router-error';
import { anthropicErrorResponse } from '../../src/providers/anthropic-inbound/route';

/** The admission's state on the context: 900 tokens left at admission. */
const ADMISSION = { 'x-ratelimit-limit-tokens': '1500', 'x-ratelimit-remaining-tokens': '900', 'x-ratelimit-reset-tokens': '1m0s' };

/** The refusal reserving another attempt: 274 left when it looked, retry in 12 s. */
const refusal = () =>
  new RouterError(429, 'Rate limit reached for tokens per minute (tpm) … while reserving another attempt', {
    type: 'tokens',
    code: 'rate_limit_exceeded',
    headers: { 'x-ratelimit-limit-tokens': '1500', 'x-ratelimit-remaining-tokens': '274', 'x-ratelimit-reset-tokens': '12s', 'retry-after': '12' },
  });

function context(values: Record<string, unknown>): Context<AppEnv> {
  return { get: (name: string) => values[name] } as unknown as Context<AppEnv>;
}

describe("an error's own headers win over the request's", () => {
  it("OpenAI face: x-ratelimit-* and retry-after are the refusal's; the request id still rides", () => {
    const res = errorResponse(refusal(), { ...ADMISSION, 'x-request-id': 'req-1' });
    expect(res.headers.get('x-ratelimit-remaining-tokens')).toBe('274');
    expect(res.headers.get('x-ratelimit-reset-tokens')).toBe('12s');
    expect(res.headers.get('retry-after')).toBe('12');
    expect(res.headers.get('x-request-id')).toBe('req-1');
  });

  it("Anthropic face: anthropic-ratelimit-* and x-ratelimit-* are the refusal's, not the admission's", async () => {
    const now = Date.now();
    const res = anthropicErrorResponse(refusal(), context({ rateLimitHeaders: ADMISSION, requestId: 'req-2' }));
    expect(res.status).toBe(429);
    expect(res.headers.get('anthropic-ratelimit-tokens-remaining')).toBe('274');
    expect(res.headers.get('x-ratelimit-remaining-tokens')).toBe('274');
    const reset = Date.parse(res.headers.get('anthropic-ratelimit-tokens-reset')!);
    expect(reset - now).toBeLessThan(15_000); // 12 s, not the admission's minute
    expect(res.headers.get('retry-after')).toBe('12');
    expect(res.headers.get('request-id')).toBe('req-2');
    expect((await res.json<{ error: { type: string } }>()).error.type).toBe('rate_limit_error');
  });

  it('headers the error does not carry come from the request (an error after admission keeps its state)', () => {
    const res = errorResponse(new RouterError(502, 'upstream failed', { headers: { 'x-router-attempts': '2' } }), ADMISSION);
    expect(res.headers.get('x-ratelimit-remaining-tokens')).toBe('900');
    expect(res.headers.get('x-router-attempts')).toBe('2');
  });
});
