/**
 * The pure parts of the provider wiring: node config per provider, the verdict an upstream
 * error gets through its adapter, cache-write pricing, and Anthropic's rate-limit headers
 * from the router's.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import { classifyFor } from '../../src/providers/verdict';
import { adapterFor } from '../../src/providers/registry';
import { anthropicRateLimitHeaders } from '../../src/providers/anthropic-inbound/route';
import { costOf } from '../../src/usage/cost';

const node = (extra: object = {}) => ({ id: 'a', baseUrl: 'https://x.test/v1', region: 'r', lat: 1, lon: 2, models: ['m'], ...extra });
const parse = (nodes: object[], models: object = {}) => parseConfig({ nodes, models });
const encoder = new TextEncoder();
const response = (status: number, body: unknown, headers: Record<string, string> = {}) => ({
  outcome: { kind: 'response' as const, status, headers: new Headers(headers) },
  body: encoder.encode(JSON.stringify(body)),
});

describe('nodes[].provider', () => {
  it('defaults to openai with every endpoint group; an anthropic node serves chat only', () => {
    const r = parse([node(), node({ id: 'b', provider: 'anthropic' })]);
    if (!r.ok) throw new Error(r.message);
    expect(r.config.nodes[0]).toMatchObject({ provider: 'openai', endpoints: expect.arrayContaining(['chat', 'embeddings', 'audio']) });
    expect(r.config.nodes[1]).toMatchObject({ provider: 'anthropic', endpoints: ['chat'], anthropicVersion: '2023-06-01' });
  });

  it.each([
    [{ provider: 'azure' }, 'nodes[0].azure: an azure node needs azure'],
    [{ provider: 'azure', azure: { style: 'deployments' } }, 'nodes[0].azure.apiVersion'],
    [{ azure: { style: 'v1' } }, 'nodes[0].azure: only for provider "azure"'],
    [{ provider: 'anthropic', endpoints: ['chat', 'embeddings'] }, 'nodes[0].endpoints: an anthropic node serves chat only'],
    [{ provider: 'cohere' }, 'nodes[0].provider'],
    [{ provider: 'anthropic', anthropicVersion: 'latest' }, 'nodes[0].anthropicVersion'],
  ])('refuses %j with the path of the bad field', (extra, expected) => {
    const r = parse([node(extra)]);
    expect(r.ok ? 'ok' : r.message).toContain(expected);
  });
});

describe('provider error verdicts', () => {
  const config = parse([node({ provider: 'anthropic' }), node({ id: 'z', provider: 'azure', azure: { style: 'v1' } }), node({ id: 'o' })]);
  if (!config.ok) throw new Error(config.message);
  const [anthropic, azure, openai] = config.config.nodes.map(adapterFor) as [ReturnType<typeof adapterFor>, ReturnType<typeof adapterFor>, ReturnType<typeof adapterFor>];

  it('Anthropic: 529 overloaded and 404 model mapping are node faults; 400 is the caller\'s; 429 waits retry-after', () => {
    expect(classifyFor(anthropic, response(529, { type: 'error', error: { type: 'overloaded_error', message: 'x' } }))).toMatchObject({ action: 'retry', nodeFault: true });
    expect(classifyFor(anthropic, response(404, { type: 'error', error: { type: 'not_found_error', message: 'model' } }))).toMatchObject({ action: 'retry', nodeFault: true });
    expect(classifyFor(anthropic, response(400, { type: 'error', error: { type: 'invalid_request_error', message: 'x' } }))).toEqual({ action: 'return' });
    expect(classifyFor(anthropic, response(429, { type: 'error', error: { type: 'rate_limit_error', message: 'x' } }, { 'retry-after': '7' }))).toMatchObject({ action: 'retry', rateLimited: true, retryAfterMs: 7000 });
  });

  it('Azure: a content-filter 400 is the caller\'s, DeploymentNotFound a node fault, 429 waits retry-after-ms', () => {
    expect(classifyFor(azure, response(400, { error: { code: 'content_filter', message: 'filtered' } }))).toEqual({ action: 'return' });
    expect(classifyFor(azure, response(404, { error: { code: 'DeploymentNotFound', message: 'x' } }))).toMatchObject({ action: 'retry', nodeFault: true });
    expect(classifyFor(azure, response(429, { error: { code: '429', message: 'x' } }, { 'retry-after-ms': '1500' }))).toMatchObject({ action: 'retry', rateLimited: true, retryAfterMs: 1500 });
  });

  it('every provider: a gateway timeout (504, 524) is retried and paid for, a 502 or 503 is not', () => {
    for (const adapter of [anthropic, azure, openai]) {
      for (const status of [504, 524]) expect(classifyFor(adapter, response(status, { error: { message: 'timeout' } }))).toMatchObject({ action: 'retry', nodeFault: true, billed: true });
      for (const status of [502, 503]) expect(classifyFor(adapter, response(status, { error: { message: 'down' } }))).not.toHaveProperty('billed');
    }
  });

  it('OpenAI nodes keep the status rules: a 404 is the caller\'s', () => {
    expect(classifyFor(openai, response(404, { error: { message: 'x' } }))).toEqual({ action: 'return' });
  });
});

describe('cache-write pricing', () => {
  it('prices cache writes at price.cacheWrite, cache reads at cachedInput, the rest of the prompt at input', () => {
    const r = parse([node()], { m: { price: { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 } } });
    if (!r.ok) throw new Error(r.message);
    const usage = { prompt_tokens: 3_500, completion_tokens: 100, total_tokens: 3_600, cached_tokens: 1_000, cache_write_tokens: 2_000 };
    expect(costOf(r.config, 'm', 'a', usage)).toBeCloseTo((500 * 3 + 1_000 * 0.3 + 2_000 * 3.75 + 100 * 15) / 1e6, 12);
  });

  it('without a cacheWrite price, cache writes cost the input price', () => {
    const r = parse([node()], { m: { price: { input: 3, output: 15 } } });
    if (!r.ok) throw new Error(r.message);
    expect(costOf(r.config, 'm', 'a', { prompt_tokens: 1_000, completion_tokens: 0, total_tokens: 1_000, cache_write_tokens: 1_000 })).toBeCloseTo(3_000 / 1e6, 12);
  });
});

describe("Anthropic's rate-limit headers", () => {
  it('maps the router\'s x-ratelimit-* to anthropic-ratelimit-*, resets as RFC 3339 times', () => {
    const now = Date.parse('2026-12-02T05:00:00Z');
    const out = anthropicRateLimitHeaders(
      { 'x-ratelimit-limit-requests': '60', 'x-ratelimit-remaining-requests': '59', 'x-ratelimit-reset-requests': '1m0s', 'x-ratelimit-limit-tokens': '1000', 'x-ratelimit-remaining-tokens': '10', 'x-ratelimit-reset-tokens': '250ms' },
      now,
    );
    expect(out).toEqual({
      'anthropic-ratelimit-requests-limit': '60',
      'anthropic-ratelimit-requests-remaining': '59',
      'anthropic-ratelimit-requests-reset': '2026-12-02T05:01:00Z',
      'anthropic-ratelimit-tokens-limit': '1000',
      'anthropic-ratelimit-tokens-remaining': '10',
      'anthropic-ratelimit-tokens-reset': '2026-12-02T05:00:00Z',
    });
  });
});
