/**
 * An unlimited key's totals batch whose reply was lost is sent again as it was
 * (`limits/usage-batch.ts`): the key's object must take it once, or `/admin/keys/:id/usage`
 * counts it twice.
 */
import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { resetWorld } from './helpers';

beforeEach(resetWorld);

const delta = { requests: 3, promptTokens: 30, completionTokens: 9 };

describe("a key's object takes each totals batch once", () => {
  it('ignores a batch sent again with the same number, and an older one after it', async () => {
    const stub = env.RATE_LIMITER.getByName('key:totals-once');
    await stub.addTotals(delta, { isolate: 'iso-a', seq: 1 });
    await stub.addTotals(delta, { isolate: 'iso-a', seq: 1 }); // the same batch, its reply lost
    await stub.addTotals(delta, { isolate: 'iso-b', seq: 1 }); // another isolate's first batch
    await stub.addTotals(delta, { isolate: 'iso-a', seq: 2 });
    await stub.addTotals(delta, { isolate: 'iso-a', seq: 2 });
    const { totals } = await stub.usage();
    expect(totals).toMatchObject({ requests: 9, promptTokens: 90, completionTokens: 27 });
  });
});
