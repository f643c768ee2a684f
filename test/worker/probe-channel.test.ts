/**
 * The fast channel of the live view's cue (`routing/live-cue.ts`), end to end with real Durable
 * Objects: the HealthMonitor pushes a clear move of a probe figure to every colo's ColoStats, and
 * an isolate hears it in the answer to its next sample batch — a recovered node is re-tried
 * without waiting for the KV tables (which the monitor does not rewrite within
 * `SHIFT_PUBLISH_GAP_MS` of its last publish).
 */
import { env } from 'cloudflare:workers';
import { abortAllDurableObjects, createScheduledController, runDurableObjectAlarm } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { flushSamples } from '../../src/routing/samples';
import type { RouteTable } from '../../src/routing/scores';
import { clearRouteMemo } from '../../src/routing/table';
import { callWithConfig, CF, chatBody, newKey, resetWorld, setNode, testConfig, wipeObjects } from './helpers';

const monitor = () => env.HEALTH_MONITOR.getByName('global');
const fraTable = async () => (await env.ROUTER_KV.get<RouteTable>('route:FRA', 'json'))!;

async function runCron(): Promise<void> {
  await worker.scheduled(createScheduledController({ cron: '* * * * *' }) as never, env as never);
  clearRouteMemo();
}

let key: string;
beforeEach(async () => {
  await resetWorld();
  await wipeObjects([monitor(), env.COLO_STATS.getByName('FRA')]);
  await abortAllDurableObjects();
  for (const k of (await env.ROUTER_KV.list({ prefix: 'route:' })).keys) await env.ROUTER_KV.delete(k.name);
  key = (await newKey()).key;
});

/** The live view's time constant shrunk (5 s → 30 ms), so one fast probe's sample puts a node back in front at test speed. */
const config = testConfig();
config.routing = { ...config.routing, live: { ewmaMs: 30 } };

/** Which node served each of `n` streamed requests from Frankfurt. */
async function servedBy(n: number): Promise<string[]> {
  const nodes: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await callWithConfig(config, '/v1/chat/completions', { key, cf: CF.fra, body: chatBody({ stream: true }) });
    expect(res.status).toBe(200);
    await res.text();
    nodes.push(res.headers.get('x-router-node')!);
  }
  return nodes;
}

/** Frankfurt's traffic on n-eu (the others given their distance), its samples in, the colo registered and its table published. */
async function settled(): Promise<void> {
  await setNode('n-us', { latencyMs: 60 });
  await setNode('n-ap', { latencyMs: 60 });
  expect(await servedBy(3)).toEqual(['n-eu', 'n-eu', 'n-eu']);
  await flushSamples(env, Date.now(), true);
  await runCron();
}

describe('the monitor\'s fast channel', () => {
  it('pushes a clear move of a probe figure to the colo\'s ColoStats at once, which hands it back with the next batch; the tables wait', async () => {
    await settled();
    const before = await fraTable();
    expect(await env.COLO_STATS.getByName('FRA').record([])).toBeNull(); // nothing pushed yet: the tables carry the figures
    await setNode('n-us', { latencyMs: 400 }); // one probe past 4× its published figure
    expect(await runDurableObjectAlarm(monitor())).toBe(true);
    const pushed = await env.COLO_STATS.getByName('FRA').record([]);
    expect(pushed!.probeMs['n-us']).toBeGreaterThanOrEqual(400);
    expect(pushed!.at).toBeGreaterThan(before.generatedAt);
    expect(await fraTable()).toEqual(before); // KV not rewritten within SHIFT_PUBLISH_GAP_MS
  });

  it('re-tries a node the isolate holds slow as soon as the monitor\'s probe sees it recover, with the tables still as they were', async () => {
    await settled();
    const table = await fraTable();
    await setNode('n-eu', { latencyMs: 400 });
    const during = await servedBy(3);
    expect(during.slice(1)).toEqual(['n-us', 'n-us']); // held slow after the first slow answer
    expect(await runDurableObjectAlarm(monitor())).toBe(true); // the monitor sees the slowdown: pushed
    await flushSamples(env, Date.now(), true); // the isolate's batch brings it back
    expect(await servedBy(1)).toEqual(['n-us']); // still slow: no probe (the schedule's gap is 60 s)
    await setNode('n-eu', { latencyMs: 0 });
    expect(await runDurableObjectAlarm(monitor())).toBe(true); // the monitor sees it recover: pushed
    await flushSamples(env, Date.now(), true);
    await new Promise((r) => setTimeout(r, 100)); // a few of the shrunk time constants since n-eu's last sample
    // Re-tried on the next request, found fast, and its traffic stays there.
    expect(await servedBy(3)).toEqual(['n-eu', 'n-eu', 'n-eu']);
    expect(await fraTable()).toEqual(table); // not through KV: the table is the one from before the slowdown
  });
});
