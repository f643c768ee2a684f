/**
 * A flapping node does not flood the alert webhook: with the default `health.alertCoalesceMs`
 * (5 min) a fleet node that fails every third probe sends its first change at once, and the
 * changes after it come as one summary (count, state now) when the window ends — the recovery
 * included; a change to a worse state (degraded, then down) is sent at once. The monitor runs with the default window (the test config alerts every change);
 * the window's end is reached by moving the stored memo's send time back, not by sleeping.
 */
import { env } from 'cloudflare:workers';
import { abortAllDurableObjects, runInDurableObject } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AlertMemo } from '../../src/health/alert-coalesce';
import type { HealthMonitor } from '../../src/health/monitor-do';
import { eventually, fleetAlerts, resetWorld, setNode, testConfig, wipeObjects } from './helpers';

const monitor = () => env.HEALTH_MONITOR.getByName('global');

/** The test config with the schema's default coalescing window. */
function defaultWindowConfig(): string {
  const config = testConfig();
  delete config.health.alertCoalesceMs;
  return JSON.stringify(config);
}

/** One probe cycle of the monitor, run with the default-window config. */
async function cycle(): Promise<void> {
  await runInDurableObject(monitor(), async (instance: HealthMonitor) => {
    (instance as unknown as { env: unknown }).env = { ...env, ROUTER_CONFIG: defaultWindowConfig() };
    await instance.tick();
  });
}

/** n-us fails one probe (healthy → degraded), then answers two (→ healthy): two changes. */
async function flap(): Promise<void> {
  await setNode('n-us', { status: 500 });
  await cycle();
  await setNode('n-us', { status: 0 });
  await cycle();
  await cycle();
}

beforeEach(async () => {
  await resetWorld();
  await wipeObjects([monitor()]);
  await abortAllDurableObjects();
});
afterEach(() => abortAllDurableObjects());

describe('alert coalescing', () => {
  it('a node that fails for good is reported degraded, then down at once: an escalation is not held for the window', async () => {
    await setNode('n-us', { status: 500 });
    for (let i = 0; i < 3; i++) await cycle();
    const sent = await eventually(fleetAlerts, (a) => a.length >= 2);
    expect(sent.map((a) => `${a.node}:${a.from}->${a.to}`)).toEqual(['n-us:healthy->degraded', 'n-us:degraded->down']);
  });

  it('a node flapping healthy/degraded sends one alert, then one summary with the count and its recovery when the window ends', async () => {
    for (let i = 0; i < 3; i++) await flap(); // six changes in nine probe cycles
    const status = await runInDurableObject(monitor(), (instance: HealthMonitor) => instance.status());
    expect(status.transitions.filter((t) => t.nodeId === 'n-us')).toHaveLength(6);
    expect(status.nodes['n-us']!.state).toBe('healthy');
    // Only the first change reached the webhook (wait for any background send to land).
    await new Promise((r) => setTimeout(r, 300));
    let sent = await fleetAlerts();
    expect(sent.map((a) => `${a.node}:${a.from}->${a.to}`)).toEqual(['n-us:healthy->degraded']);

    // A cycle inside the window sends nothing more.
    await cycle();
    await new Promise((r) => setTimeout(r, 300));
    expect(await fleetAlerts()).toHaveLength(1);

    // The window ends: the next cycle sends the summary — five changes since, ending healthy.
    await runInDurableObject(monitor(), async (_: unknown, state: DurableObjectState) => {
      const memo = (await state.storage.get<Record<string, AlertMemo>>('alerts'))!;
      expect(memo['n-us']).toMatchObject({ reported: 'degraded', held: 5 });
      memo['n-us']!.sentAt -= 300_000;
      await state.storage.put('alerts', memo);
    });
    await cycle();
    sent = await eventually(fleetAlerts, (a) => a.length >= 2);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toMatchObject({ node: 'n-us', from: 'degraded', to: 'healthy', changes: 5 });
    expect((sent[1] as unknown as { text: string }).text).toContain('is healthy after 5 state changes since the last alert');
  });
});
