/**
 * Rollup rows reach the UsageRollups shards from the request's own waitUntil — with no later
 * request and no admin query to flush them — a refused batch is re-queued and sent again,
 * and queries over the shards sum to exactly what was sent. Against the real objects.
 */
import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS, type RollupRow, type UsageGroup, type UsageRollups } from '../../src/usage/rollups-do';
import { resetIsolate } from '../../src/isolate';
import { shardName } from '../../src/usage/shards';
import { admin, call, chatBody, newKey, resetWorld } from './helpers';

beforeEach(resetWorld);

const SHARDS = 16; // the default `usage.shards`; the test config sets none
const ns = () => (env as unknown as { USAGE_ROLLUPS: DurableObjectNamespace<UsageRollups> }).USAGE_ROLLUPS;

/** One key's requests as its shards hold them, read from the objects directly (no admin route, so no pre-flush). */
async function storedRequests(keyId: string): Promise<number> {
  const q = { from: 0, to: Date.now() + 3_600_000, key: keyId, groupBy: [] };
  const parts = await Promise.all(Array.from({ length: SHARDS }, (_, i) => ns().getByName(shardName(i)).query(q)));
  return parts.flat().reduce((n, g) => n + g.requests, 0);
}

async function waitFor(ok: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await ok()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return ok();
}

const chat = async (key: string) => (await call('/v1/chat/completions', { key, body: chatBody() })).json<{ usage: { prompt_tokens: number; completion_tokens: number } }>();

describe('rollup rows are flushed by the request that made them', () => {
  it('sends a request\'s row when its batch falls due, with no later request and no admin pre-flush; a request joining that scheduled flush rides on it', async () => {
    const first = await newKey();
    const scheduler = await newKey();
    const last = await newKey();
    await chat(first.key); // the isolate's first batch: due at once
    expect(await waitFor(async () => (await storedRequests(first.id)) === 1, 5_000)).toBe(true);
    await chat(scheduler.key); // within 10 s of that flush: not due yet — its waitUntil holds the timer
    await chat(last.key); // joins the scheduled flush, keeps nothing alive itself — and nothing follows it
    expect(await storedRequests(scheduler.id)).toBe(0);
    expect(await storedRequests(last.id)).toBe(0);
    expect(await waitFor(async () => (await storedRequests(last.id)) === 1 && (await storedRequests(scheduler.id)) === 1, 14_000)).toBe(true);
  }, 30_000);

  it('re-queues a batch its shard refused and sends it again from the same waitUntil, counted once', async () => {
    const { key, id } = await newKey();
    // Whichever shard this isolate picks refuses its first batch.
    await Promise.all(Array.from({ length: SHARDS }, (_, i) => ns().getByName(shardName(i)).failNextRecords(1)));
    try {
      await chat(key);
      expect(await waitFor(async () => (await storedRequests(id)) > 0, 8_000)).toBe(true);
      await new Promise((r) => setTimeout(r, 1_500)); // a second send would have landed by now
      expect(await storedRequests(id)).toBe(1);
    } finally {
      await Promise.all(Array.from({ length: SHARDS }, (_, i) => ns().getByName(shardName(i)).failNextRecords(0)));
    }
  }, 20_000);
});

describe("unlimited keys' totals are flushed by the request that made them", () => {
  it('sends the totals batch when due from a waitUntil, with no later request, for the request that scheduled it and one that joined', async () => {
    const totals = async (id: string) => (await (await admin(`/keys/${id}/usage`)).json<{ totals: { requests: number } }>()).totals.requests;
    const first = await newKey(); // no limits: totals ride the isolate's batch
    const scheduler = await newKey();
    const last = await newKey();
    await chat(first.key); // the isolate's first batch: due at once
    expect(await waitFor(async () => (await totals(first.id)) === 1, 5_000)).toBe(true);
    await chat(scheduler.key); // within 5 s of that flush: not due yet — its waitUntil holds the timer
    await chat(last.key); // joins the scheduled flush — and nothing follows it
    expect(await totals(last.id)).toBe(0);
    expect(await waitFor(async () => (await totals(last.id)) === 1 && (await totals(scheduler.id)) === 1, 9_000)).toBe(true);
  }, 25_000);
});

describe('sharded rollups', () => {
  it('spreads isolates over the shards, and /admin/usage sums them to exactly what was sent', async () => {
    const totals = async () => (await (await admin('/usage?groupBy=model')).json<{ data: (UsageGroup & { model: string })[] }>()).data.find((g) => g.model === 'gpt-4o-mini');
    const before = (await totals()) ?? { requests: 0, inputTokens: 0, outputTokens: 0 };
    const keys = await Promise.all(Array.from({ length: 4 }, () => newKey()));
    const sent = { requests: 0, inputTokens: 0, outputTokens: 0 };
    const perKey = new Map<string, number>();
    for (let round = 0; round < 8; round++) {
      // Each round is a fresh isolate (it picks its own shard); every key in every round.
      resetIsolate();
      for (const [i, k] of keys.entries()) {
        for (let j = 0; j <= (i + round) % 3; j++) {
          const { usage } = await chat(k.key);
          sent.requests++;
          sent.inputTokens += usage.prompt_tokens;
          sent.outputTokens += usage.completion_tokens;
          perKey.set(k.id, (perKey.get(k.id) ?? 0) + 1);
        }
      }
      await admin('/usage'); // sends the round's rows
    }
    // The same key's rows sit in more than one shard (8 isolates on 16 shards: all on one has odds 16⁻⁷).
    const holders = await Promise.all(Array.from({ length: SHARDS }, (_, i) => ns().getByName(shardName(i)).query({ from: 0, to: Date.now() + HOUR_MS, key: keys[0]!.id, groupBy: [] })));
    expect(holders.filter((rows) => rows.length > 0).length).toBeGreaterThan(1);
    const after = (await totals())!;
    expect({ requests: after.requests - before.requests, inputTokens: after.inputTokens - before.inputTokens, outputTokens: after.outputTokens - before.outputTokens }).toEqual(sent);
    const byKey = (await (await admin('/usage?groupBy=key,hour')).json<{ data: { key: string; requests: number }[] }>()).data;
    for (const k of keys) expect(byKey.filter((g) => g.key === k.id).reduce((n, g) => n + g.requests, 0)).toBe(perKey.get(k.id));
  }, 60_000);

  it('deletes hours past retention on every shard, not only the first', async () => {
    const now = Date.now();
    const row = (key: string, hour: number): RollupRow => ({ hour, key, model: 'm', node: 'n', requests: 1, errors: 0, inputTokens: 1, cachedTokens: 0, outputTokens: 1, costNano: 0, unpriced: 0 });
    for (const s of [0, 7, SHARDS - 1]) {
      const key = `key_retention_${s}`;
      const stub = ns().getByName(shardName(s));
      const recent = now - (now % HOUR_MS);
      await stub.record([row(key, recent - 91 * DAY_MS), row(key, recent)]);
      expect(await runDurableObjectAlarm(stub)).toBe(true); // each shard armed its own daily alarm
      const left = await stub.query({ from: 0, to: now + HOUR_MS, key, groupBy: ['hour'] });
      expect(left.map((g) => g.hour)).toEqual([recent]);
    }
  });
});

