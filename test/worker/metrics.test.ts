/**
 * `GET /admin/metrics` read by a real Prometheus text-format parser: usage from the
 * rollups, node state from the monitor, per-colo expected latency from published tables.
 */
import { env } from 'cloudflare:workers';
import { createScheduledController } from 'cloudflare:test';
import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';
import { beforeEach, describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { resetIsolate } from '../../src/isolate';
import { flushSamples } from '../../src/routing/samples';
import { NODE_SECRETS } from '../setup/test-config';
import { admin, callWithConfig, CF, chatBody, newKey, resetWorld, testConfig } from './helpers';

beforeEach(resetWorld);

async function metrics(): Promise<{ text: string; families: Map<string, MetricFamily> }> {
  const res = await admin('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
  const text = await res.text();
  return { text, families: new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f])) };
}

const sample = (f: MetricFamily | undefined, labels: Record<string, string>) =>
  f?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));

describe('GET /admin/metrics', () => {
  it('counts requests, tokens and cost by key, model and node, and shows node state and per-colo latency', async () => {
    const config = testConfig();
    config.models['gpt-4o-mini'].price = { input: 0.15, output: 0.6 };
    const { key, id } = await newKey();
    let input = 0;
    for (let i = 0; i < 3; i++) {
      const res = await callWithConfig(config, '/v1/chat/completions', { key, body: chatBody(), cf: CF.iad });
      input += (await res.json<{ usage: { prompt_tokens: number } }>()).usage.prompt_tokens;
    }
    await flushSamples(env, Date.now(), true);
    await worker.scheduled(createScheduledController({ cron: '* * * * *' }) as never, env as never);

    const { text, families } = await metrics();
    const who = { key: id, model: 'gpt-4o-mini', node: 'n-us' };
    expect(families.get('llm_router_requests_total')?.type).toBe('COUNTER');
    expect(sample(families.get('llm_router_requests_total'), who)?.value).toBe('3');
    expect(sample(families.get('llm_router_errors_total'), who)?.value).toBe('0');
    expect(Number(sample(families.get('llm_router_tokens_total'), { ...who, kind: 'input' })?.value)).toBe(input);
    expect(Number(sample(families.get('llm_router_tokens_total'), { ...who, kind: 'output' })?.value)).toBe(9);
    expect(Number(sample(families.get('llm_router_cost_usd_total'), who)?.value)).toBeCloseTo((input * 0.15 + 9 * 0.6) / 1e6, 12);
    expect(sample(families.get('llm_router_node_state'), { node: 'n-us', state: 'healthy' })?.value).toBe('1');
    expect(sample(families.get('llm_router_node_state'), { node: 'n-us', state: 'down' })?.value).toBe('0');
    expect(families.get('llm_router_expected_latency_ms')?.type).toBe('GAUGE');
    expect(Number(sample(families.get('llm_router_expected_latency_ms'), { colo: 'IAD', node: 'n-us' })?.value)).toBeGreaterThan(0);
    // Keys by id, never by secret; no node credential.
    expect(text).not.toContain(key);
    for (const secret of Object.values(NODE_SECRETS)) expect(text).not.toContain(secret);
  });

  it('reads every usage shard: keys served by several isolates, each writing to its own shard, show exactly their requests', async () => {
    const keys = await Promise.all(Array.from({ length: 12 }, () => newKey()));
    for (const [i, k] of keys.entries()) {
      for (let j = 0; j <= i % 2; j++) await (await callWithConfig(testConfig(), '/v1/chat/completions', { key: k.key, body: chatBody(), cf: CF.iad })).text();
      if (i % 3 === 2) {
        await admin('/usage'); // sends this "isolate's" rows to its shard...
        resetIsolate(); // ...and the next rows come from a fresh isolate, which picks its own
      }
    }
    const { families } = await metrics();
    for (const [i, k] of keys.entries()) {
      expect(sample(families.get('llm_router_requests_total'), { key: k.id, model: 'gpt-4o-mini', node: 'n-us' })?.value).toBe(String((i % 2) + 1));
    }
  });

  it('is behind the admin token', async () => {
    const res = await worker.fetch(new Request('https://router.test/admin/metrics') as never, env as never, {} as never);
    expect(res.status).toBe(401);
  });
});
