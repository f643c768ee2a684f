/**
 * The usage counters of `GET /admin/metrics` never go down: a shard's daily retention alarm
 * deletes hours past 90 days from the rollups, but their counts stay in the all-time totals,
 * so Prometheus never reads a purge as a counter reset (and the whole total as new increase).
 */
import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm } from 'cloudflare:test';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { beforeEach, describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS, type RollupRow, type UsageRollups } from '../../src/usage/rollups-do';
import { shardName } from '../../src/usage/shards';
import { admin, resetWorld } from './helpers';

beforeEach(resetWorld);

const ns = () => (env as unknown as { USAGE_ROLLUPS: DurableObjectNamespace<UsageRollups> }).USAGE_ROLLUPS;

async function counter(name: string, labels: Record<string, string>, query = ''): Promise<number | undefined> {
  const families = parsePrometheusTextFormat(await (await admin(`/metrics${query}`)).text());
  const m = families.find((f) => f.name === name)?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return m === undefined ? undefined : Number(m.value);
}

describe('usage counters across retention', () => {
  it('keep their value when a shard deletes hours past retention, and go on counting after', async () => {
    const key = 'key_counter_retention';
    const recent = Date.now() - (Date.now() % HOUR_MS);
    const row = (hour: number, requests: number): RollupRow => ({ hour, key, model: 'm', node: 'n', requests, errors: 1, inputTokens: 100 * requests, cachedTokens: 0, outputTokens: 10, costNano: 2_500_000 * requests, unpriced: 0 });
    const stub = ns().getByName(shardName(4));
    await stub.record([row(recent - 91 * DAY_MS, 3), row(recent, 2)]);
    const labels = { key, model: 'm', node: 'n' };
    expect(await counter('llm_router_requests_total', labels)).toBe(5);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    // The old hour left the rollups (a usage query no longer sees it)…
    const usage = await (await admin(`/usage?key=${key}&from=0&groupBy=hour`)).json<{ data: { requests: number }[] }>();
    expect(usage.data.map((g) => g.requests)).toEqual([2]);
    // …and every counter kept it.
    expect(await counter('llm_router_requests_total', labels)).toBe(5);
    expect(await counter('llm_router_errors_total', labels)).toBe(2);
    expect(await counter('llm_router_tokens_total', { ...labels, kind: 'input' })).toBe(500);
    expect(await counter('llm_router_cost_usd_total', labels)).toBeCloseTo(0.0125, 12);
    // A second purge adds nothing twice; new rows add on top.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await stub.record([row(recent, 1)]);
    expect(await counter('llm_router_requests_total', labels)).toBe(6);
  });

  it('keep a group whose retained hours are on another shard than its purged ones; end a group with no retained hour left', async () => {
    const recent = Date.now() - (Date.now() % HOUR_MS);
    const row = (key: string, hour: number): RollupRow => ({ hour, key, model: 'm', node: 'n', requests: 1, errors: 0, inputTokens: 1, cachedTokens: 0, outputTokens: 1, costNano: 0, unpriced: 0 });
    const [a, b] = [ns().getByName(shardName(6)), ns().getByName(shardName(9))];
    await a.record([row('key_counter_split', recent - 91 * DAY_MS), row('key_counter_gone', recent - 91 * DAY_MS)]);
    await b.record([row('key_counter_split', recent)]);
    expect(await runDurableObjectAlarm(a)).toBe(true);
    expect(await counter('llm_router_requests_total', { key: 'key_counter_split' })).toBe(2);
    // Nothing for 90 days: its series ends (absent, not lowered), as before totals were kept.
    expect(await counter('llm_router_requests_total', { key: 'key_counter_gone' })).toBeUndefined();
  });
});

describe('usage counters by fewer labels (labels=model,node)', () => {
  it('sum over keys, carry no key label, and keep the total of a key whose series ended', async () => {
    const recent = Date.now() - (Date.now() % HOUR_MS);
    const row = (key: string, hour: number, requests: number): RollupRow => ({ hour, key, model: 'm-agg', node: 'n-agg', requests, errors: 0, inputTokens: 1, cachedTokens: 0, outputTokens: 1, costNano: 0, unpriced: 0 });
    const [a, b] = [ns().getByName(shardName(2)), ns().getByName(shardName(11))];
    await a.record([row('key_agg_old', recent - 91 * DAY_MS, 4)]);
    await b.record([row('key_agg_new', recent, 3)]);
    expect(await runDurableObjectAlarm(a)).toBe(true);
    // key_agg_old has no retained hour: its own series ended, but the model × node total still holds it.
    expect(await counter('llm_router_requests_total', { key: 'key_agg_old' })).toBeUndefined();
    const text = await (await admin('/metrics?labels=model,node')).text();
    const family = parsePrometheusTextFormat(text).find((f) => f.name === 'llm_router_requests_total')!;
    const agg = family.metrics.filter((m) => m.labels?.model === 'm-agg');
    expect(agg).toEqual([{ labels: { model: 'm-agg', node: 'n-agg' }, value: '7' }]);
    expect(text).not.toContain('key=');
  });

  it('refuses a label it does not know, or one given twice', async () => {
    for (const labels of ['colo', 'key,key']) {
      const res = await admin(`/metrics?labels=${labels}`);
      expect(res.status).toBe(400);
      expect((await res.json<{ error: { code: string; param: string } }>()).error).toMatchObject({ code: 'invalid_query', param: 'labels' });
    }
  });
});
