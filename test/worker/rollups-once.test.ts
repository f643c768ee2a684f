/**
 * A rollup batch counts once, whatever its calls went through: a call whose write landed but
 * whose answer was lost is sent again and adds nothing; a batch that fails half way leaves
 * nothing behind, so sending it again cannot count its first rows twice. Against the real
 * UsageRollups objects.
 */
import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { HOUR_MS, type RollupRow, type UsageRollups } from '../../src/usage/rollups-do';
import { shardName } from '../../src/usage/shards';
import { admin, call, chatBody, newKey, resetWorld } from './helpers';

beforeEach(resetWorld);

const SHARDS = 16; // the default `usage.shards`; the test config sets none
const ns = () => (env as unknown as { USAGE_ROLLUPS: DurableObjectNamespace<UsageRollups> }).USAGE_ROLLUPS;
const everyShard = (f: (stub: DurableObjectStub<UsageRollups>) => Promise<void>) => Promise.all(Array.from({ length: SHARDS }, (_, i) => f(ns().getByName(shardName(i)))));

const hourNow = () => Date.now() - (Date.now() % HOUR_MS);
const row = (key: string, extra: Partial<RollupRow> = {}): RollupRow => ({ hour: hourNow(), key, model: 'm', node: 'n', requests: 1, errors: 0, inputTokens: 10, cachedTokens: 0, outputTokens: 5, costNano: 7, unpriced: 0, ...extra });
const stored = async (stub: DurableObjectStub<UsageRollups>, key: string) => (await stub.query({ from: 0, to: Date.now() + HOUR_MS, key, groupBy: [] }))[0]?.requests ?? 0;

describe('a rollup batch counts once', () => {
  it('a batch whose write landed but whose answer was lost is sent again and counted once, by the request that made it', async () => {
    const { key, id } = await newKey();
    // Whichever shard this isolate picks applies its first batch, then answers with an error.
    await everyShard((s) => s.loseNextReplies(1));
    try {
      expect((await call('/v1/chat/completions', { key, body: chatBody() })).status).toBe(200);
      // The re-send is 1 s after the failed call (the flush's backoff); then the admin view's own flush.
      await new Promise((r) => setTimeout(r, 3_000));
      const usage = await (await admin(`/usage?key=${id}`)).json<{ data: { requests: number }[] }>();
      expect(usage.data.map((g) => g.requests)).toEqual([1]);
    } finally {
      await everyShard((s) => s.loseNextReplies(0));
    }
  }, 20_000);

  it('the same batch id sent twice (two flushes at once, or a retry) adds its rows once', async () => {
    const stub = ns().getByName(shardName(3));
    await stub.record([row('key_once_a')], 'batch-once-1');
    await stub.record([row('key_once_a')], 'batch-once-1');
    expect(await stored(stub, 'key_once_a')).toBe(1);
    await stub.record([row('key_once_a')], 'batch-once-2');
    expect(await stored(stub, 'key_once_a')).toBe(2);
  });

  it('a batch that fails half way writes none of its rows, so its re-send counts each row once', async () => {
    const stub = ns().getByName(shardName(5));
    // The second row breaks a column's NOT NULL (a NaN binds as null) after the first row was written.
    const failed = await stub.record([row('key_half_a'), row('key_half_b', { requests: Number.NaN })], 'batch-half-1').then(
      () => null,
      (err: unknown) => String(err),
    );
    expect(failed).toContain('NOT NULL');
    expect(await stored(stub, 'key_half_a')).toBe(0);
    // Its id was not taken either: the batch sent again (fixed) is applied.
    await stub.record([row('key_half_a'), row('key_half_b')], 'batch-half-1');
    expect([await stored(stub, 'key_half_a'), await stored(stub, 'key_half_b')]).toEqual([1, 1]);
  });
});
