/** The pass-through OpenAI adapter (today's behaviour) and translation failures as OpenAI errors. */
import { describe, expect, it } from 'vitest';
import { anthropicRateLimit } from '../../src/providers/anthropic/rate-limit';
import { openaiAdapter } from '../../src/providers/openai/adapter';
import { translationFailureToOpenAI } from '../../src/providers/openai/errors';

const GET = { url: 'https://node.example/v1/models', method: 'GET' as const, body: () => undefined };

describe('OpenAI adapter', () => {
  const node = { baseUrl: 'https://api.openai.com/v1', modelMap: {} };

  it('targets {baseUrl}{path} with a bearer credential and probes /models', () => {
    expect(openaiAdapter.target(node, 'gpt-4o', '/chat/completions')).toEqual({ ok: true, value: 'https://api.openai.com/v1/chat/completions' });
    expect(openaiAdapter.authHeaders('sk-node', GET)).toEqual({ authorization: 'Bearer sk-node' });
    expect(openaiAdapter.probe(node)).toEqual({ url: 'https://api.openai.com/v1/models', method: 'GET' });
  });

  it('classifies errors as forward/outcome does: 429 rate limited, 401 and 5xx node faults, 400 the caller\'s', () => {
    expect(openaiAdapter.mapError(429, new Headers({ 'retry-after-ms': '120' }), null)).toMatchObject({ fault: 'rate-limited', retryAfterMs: 120 });
    expect(openaiAdapter.mapError(401, new Headers(), null)).toMatchObject({ fault: 'node' });
    expect(openaiAdapter.mapError(502, new Headers(), null)).toMatchObject({ fault: 'node' });
    expect(openaiAdapter.mapError(400, new Headers(), { error: { message: 'bad', type: 'invalid_request_error', param: 'x', code: null } })).toEqual({
      status: 400,
      fault: 'caller',
      body: { error: { message: 'bad', type: 'invalid_request_error', param: 'x', code: null } },
    });
  });
});

describe('translation failures for OpenAI callers', () => {
  it('become a 400 invalid_request_error naming the field, the reason as code', () => {
    expect(translationFailureToOpenAI({ reason: 'unsupported_feature', message: 'n must be 1.', param: 'n' })).toEqual({
      status: 400,
      body: { error: { message: 'n must be 1.', type: 'invalid_request_error', param: 'n', code: 'unsupported_feature' } },
    });
  });
});

describe('Anthropic rate-limit headers', () => {
  it('reads what the node has left and the retry-after delay', () => {
    const headers = new Headers({
      'anthropic-ratelimit-requests-remaining': '49',
      'anthropic-ratelimit-tokens-remaining': '79000',
      'anthropic-ratelimit-input-tokens-remaining': '40000',
      'anthropic-ratelimit-output-tokens-remaining': 'n/a',
      'retry-after': '3',
    });
    expect(anthropicRateLimit(headers)).toEqual({ remainingRequests: 49, remainingTokens: 79000, remainingInputTokens: 40000, retryAfterMs: 3000 });
  });
});
