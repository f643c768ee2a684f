/**
 * Prefill end to end (issue 19, `src/routing/prefill.ts`): a node's first byte grows with the
 * prompt, so one key sending long prompts to a colo's nearest node must not make it read slow
 * and move the colo's traffic off it while it answers short prompts at its usual speed.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { call, CF, chatBody, newKey, resetWorld, setNode } from './helpers';

let short: string;
let long: string;
beforeEach(async () => {
  await resetWorld();
  short = (await newKey()).key;
  long = (await newKey()).key;
});

/** Streams from Frankfurt (nearest: n-eu) with a prompt of about `bytes` bytes; which node served each. */
async function served(key: string, sizes: number[]): Promise<string[]> {
  const nodes: string[] = [];
  for (const bytes of sizes) {
    const res = await call('/v1/chat/completions', { key, cf: CF.fra, body: chatBody({ stream: true, messages: [{ role: 'user', content: 'x'.repeat(bytes) }] }) });
    expect(res.status).toBe(200);
    await res.text();
    nodes.push(res.headers.get('x-router-node')!);
  }
  return nodes;
}

describe('live view and prompt size', () => {
  it('one key sending long prompts does not move a colo off a node that answers short prompts at its usual speed', async () => {
    // Every node prefills at 4 ms per KB; n-eu is 150 ms at no prompt, the others (farther) 250 — a long prompt stays within firstByteMs anywhere.
    await setNode('n-eu', { latencyMs: 150, prefillMsPerKb: 4 });
    await setNode('n-us', { latencyMs: 250, prefillMsPerKb: 4 });
    await setNode('n-ap', { latencyMs: 250, prefillMsPerKb: 4 });
    // Ordinary traffic of mixed sizes (+4 to +64 ms): the fit learns the slope.
    const warm = await served(short, [1_000, 16_000, 1_000, 16_000, 1_000, 16_000, 1_000, 16_000, 1_000, 16_000]);
    expect(warm.filter((n) => n === 'n-eu').length).toBeGreaterThanOrEqual(8);
    // One key's 60 KB prompts (+240 ms each: 2.5× the level at a short one, yet still faster there than anywhere), between another's short ones.
    const shorts: string[] = [];
    for (let i = 0; i < 6; i++) {
      await served(long, [60_000]);
      shorts.push(...(await served(short, [1_000])));
    }
    // The short prompts stay on the node that answers them fastest (one may go astray: the planner's spread, as in the warm-up).
    expect(shorts.filter((n) => n !== 'n-eu').length).toBeLessThanOrEqual(1);
  });
});
