/**
 * Geo- and latency-aware routing end to end: the geo prior with no data, per-colo samples
 * moving one colo (only), cron probes walking health, alerts, tables in KV, explain/status.
 * Cron runs are real scheduled() invocations; alarms run via cloudflare:test.
 */
import { env } from 'cloudflare:workers';
import { abortAllDurableObjects, createScheduledController, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { SHIFT_PUBLISH_GAP_MS } from '../../src/health/cycle';
import { CORROBORATING_KEYS } from '../../src/forward/held';
import { flushSamples } from '../../src/routing/samples';
import { clearRouteMemo } from '../../src/routing/table';
import type { RouteTable } from '../../src/routing/scores';
import { admin, call, callWithConfig, CF, chatBody, eventually, fleetAlerts, newKey, nodeRequests, resetWorld, setNode, testConfig, wipeObjects } from './helpers';

const monitor = () => env.HEALTH_MONITOR.getByName('global');

async function runCron(): Promise<void> {
  await worker.scheduled(createScheduledController({ cron: '* * * * *' }) as never, env as never);
  clearRouteMemo(); // the isolate would see the new table within its memo period; tests look at once
}



const posts = async (id: string) => (await nodeRequests(id)).filter((r) => r.body !== null).length;

let key: string;
beforeEach(async () => {
  await resetWorld();
  // Forget routing state: monitor, colo stats (storage, alarms, in-memory copies) and tables.
  await wipeObjects([monitor(), ...['IAD', 'FRA', 'NRT'].map((c) => env.COLO_STATS.getByName(c))]);
  await abortAllDurableObjects();
  for (const k of (await env.ROUTER_KV.list({ prefix: 'route:' })).keys) await env.ROUTER_KV.delete(k.name);
  key = (await newKey()).key;
});

describe('geo prior (no latency data yet)', () => {
  it.each([
    ['Ashburn', CF.iad, 'n-us'],
    ['Frankfurt', CF.fra, 'n-eu'],
    ['Tokyo', CF.nrt, 'n-ap'],
  ])('sends a caller in %s to the nearest node', async (_, cf, node) => {
    const res = await call('/v1/chat/completions', { key, body: chatBody(), cf });
    expect(res.headers.get('x-router-node')).toBe(node);
    // x-router-route: node ids with expected ms, nearest first.
    expect(res.headers.get('x-router-route')).toMatch(new RegExp(`^${node}=\\d+, n-\\w+=\\d+, n-\\w+=\\d+$`));
  });

  it.each([
    [{ country: 'JP', continent: 'AS' }, 'n-ap'],
    [{ continent: 'EU' }, 'n-eu'],
    [{}, 'n-us'],
  ])('without coordinates, falls back to country, then continent, then config order: %j', async (cf, node) => {
    const res = await call('/v1/chat/completions', { key, body: chatBody(), cf });
    expect(res.headers.get('x-router-node')).toBe(node);
    expect(res.headers.get('x-router-route')).toContain('=?');
  });

  it('honours a residency pin as a hard filter, even when the pinned node fails', async () => {
    const config = testConfig();
    config.routing = { pins: [{ continents: ['EU'], nodes: ['n-eu'] }] };
    const send = () => callWithConfig(config, '/v1/chat/completions', { key, body: chatBody(), cf: CF.fra });
    expect((await send()).headers.get('x-router-node')).toBe('n-eu');
    await setNode('n-eu', { status: 503 });
    const res = await send();
    expect(res.status).toBe(502);
    expect(await res.text()).toContain('residency pin');
    expect(await posts('n-us')).toBe(0);
    expect(await posts('n-ap')).toBe(0);
  });
});

describe('per-colo latency from live samples', () => {
  it('moves a colo whose nearest node is slow from there, while other colos keep theirs', async () => {
    // The table's own path: with the live view off, only the published table can move traffic.
    const config = testConfig();
    config.routing = { ...config.routing, live: { enabled: false } };
    const send = (cf: (typeof CF)[keyof typeof CF]) => callWithConfig(config, '/v1/chat/completions', { key, body: chatBody(), cf });
    await setNode('n-us', { latencyMs: 500 });
    for (let i = 0; i < 5; i++) expect((await send(CF.iad)).headers.get('x-router-node')).toBe('n-us');
    await send(CF.fra);
    await send(CF.nrt);
    await flushSamples(env, Date.now(), true);
    await runCron();

    const table = await env.ROUTER_KV.get<RouteTable>('route:IAD', 'json');
    expect(table!.nodes['n-us']).toMatchObject({ source: 'blend' });
    expect(table!.nodes['n-us']!.sampleMs).toBeGreaterThanOrEqual(500);
    expect((await call('/v1/chat/completions', { key, body: chatBody(), cf: CF.iad })).headers.get('x-router-node')).toBe('n-eu');
    expect((await call('/v1/chat/completions', { key, body: chatBody(), cf: CF.fra })).headers.get('x-router-node')).toBe('n-eu');
    expect((await call('/v1/chat/completions', { key, body: chatBody(), cf: CF.nrt })).headers.get('x-router-node')).toBe('n-ap');
  });

  it('takes no good samples from pinned Responses follow-ups into the colo\'s tables (the caller chose the node); their failures count once other keys\' corroborate them', async () => {
    const respond = (body: Record<string, unknown>, as = key) => call('/v1/responses', { key: as, cf: CF.fra, body: { model: 'gpt-4o-mini', input: 'Hi', ...body } });
    const first = await respond({});
    expect(first.status).toBe(200);
    const node = first.headers.get('x-router-node')!;
    const { id } = (await first.json()) as { id: string };
    for (let i = 0; i < 5; i++) expect((await respond({ previous_response_id: id, max_output_tokens: 1 })).headers.get('x-router-node')).toBe(node);
    await flushSamples(env, Date.now(), true);
    const stat = (await env.COLO_STATS.getByName('FRA').snapshot())!.stats[node]!;
    // The unpinned request alone (weights decay a little with age).
    expect(stat.good).toBeGreaterThan(0.5);
    expect(stat.good).toBeLessThan(1.5);
    // A follow-up is pinned by its caller to the node it chose: one key's failing there may be its own doing (`held.ts`).
    const others: [string, string][] = [];
    for (let i = 1; i < CORROBORATING_KEYS; i++) {
      const other = (await newKey()).key;
      const res = await respond({}, other);
      expect(res.headers.get('x-router-node')).toBe(node);
      others.push([other, ((await res.json()) as { id: string }).id]);
    }
    await setNode(node, { status: 500 });
    const failed = async () => {
      await flushSamples(env, Date.now(), true);
      return (await env.COLO_STATS.getByName('FRA').snapshot())!.stats[node]!.failed ?? 0;
    };
    expect((await respond({ previous_response_id: id })).status).toBeGreaterThanOrEqual(500);
    expect(await failed()).toBe(0);
    for (const [other, previous] of others) expect((await respond({ previous_response_id: previous }, other)).status).toBeGreaterThanOrEqual(500);
    expect(await failed()).toBeGreaterThan(0);
  });

  it('explains the ranking for a location: expected ms, where it came from, health, exclusions', async () => {
    await call('/v1/chat/completions', { key, body: chatBody(), cf: CF.iad });
    await flushSamples(env, Date.now(), true);
    await runCron();
    const res = await admin('/route?model=gpt-4o-mini&colo=IAD&lat=38.9&lon=-77.4&country=US');
    expect(res.status).toBe(200);
    const body = await res.json<{ table: { colo: string } | null; chain: { model: string; candidates: Record<string, unknown>[] }[] }>();
    expect(body.table?.colo).toBe('IAD');
    const [us, eu] = body.chain[0]!.candidates;
    expect(us).toMatchObject({ node: 'n-us', rank: 1, source: 'blend', health: 'healthy' });
    expect(us!.samples).toBeGreaterThan(0);
    expect(eu).toMatchObject({ node: 'n-eu', rank: 2, source: 'prior' });
    expect((await admin('/route')).status).toBe(400);
  });
});

describe('cron: probes, health and alerts', () => {
  it('walks a failing node to down in 3 probes and back in 2, alerting once per transition', async () => {
    await setNode('n-us', { status: 500 });
    await runCron();
    await runCron();
    await runCron();
    await runCron(); // still down: no new alert
    let status = await (await admin('/status')).json<{ nodes: { id: string; state: string; consecutiveFailures: number; lastError: string }[] }>();
    expect(status.nodes.find((n) => n.id === 'n-us')).toMatchObject({ state: 'down', consecutiveFailures: 4, lastError: 'HTTP 500' });
    expect(status.nodes.find((n) => n.id === 'n-eu')).toMatchObject({ state: 'healthy' });
    let sent = await eventually(fleetAlerts, (a) => a.length >= 2);
    expect(sent.map((a) => `${a.node}:${a.from}->${a.to}`)).toEqual(['n-us:healthy->degraded', 'n-us:degraded->down']);

    // A down node gets no traffic, even from the colo it is nearest to.
    const before = await posts('n-us');
    const res = await call('/v1/chat/completions', { key, body: chatBody(), cf: CF.iad });
    expect(res.headers.get('x-router-node')).toBe('n-eu');
    expect(res.headers.get('x-router-attempts')).toBe('1');
    expect(await posts('n-us')).toBe(before);

    await setNode('n-us', { status: 0 });
    await runCron();
    status = await (await admin('/status')).json();
    expect(status.nodes.find((n) => n.id === 'n-us')!.state).toBe('down');
    await runCron();
    status = await (await admin('/status')).json();
    expect(status.nodes.find((n) => n.id === 'n-us')!.state).toBe('healthy');
    sent = await eventually(fleetAlerts, (a) => a.length >= 3);
    expect(sent).toHaveLength(3);
    expect(sent[2]).toMatchObject({ node: 'n-us', from: 'down', to: 'healthy' });
    expect(JSON.stringify(sent)).not.toMatch(/node-secret|sk-/);
    // The status view keeps the transitions, newest first (the console lists them).
    const { transitions } = await (await admin('/status')).json<{ transitions: { node: string; from: string; to: string; at: string }[] }>();
    expect(transitions.map((t) => `${t.node}:${t.from}->${t.to}`)).toEqual(['n-us:down->healthy', 'n-us:degraded->down', 'n-us:healthy->degraded']);
    expect(Date.parse(transitions[0]!.at)).toBeGreaterThanOrEqual(Date.parse(transitions[2]!.at));
  });

  it('marks a node degraded when live traffic fails, and penalises it without excluding it', async () => {
    const failures = Array.from({ length: 12 }, (_, i) => ({ colo: 'IAD', node: 'n-us', ttfbMs: 0, ok: false, at: Date.now() - i }));
    await env.COLO_STATS.getByName('IAD').record(failures, { lat: 38.95, lon: -77.45 });
    await runCron(); // publishes live failure rates
    await runCron(); // the state machine sees them
    const status = await (await admin('/status')).json<{ nodes: { id: string; state: string; reason: string }[] }>();
    expect(status.nodes.find((n) => n.id === 'n-us')).toMatchObject({ state: 'degraded' });
    expect(status.nodes.find((n) => n.id === 'n-us')!.reason).toContain('live traffic failing');
    const explain = await (await admin('/route?model=gpt-4o-mini&colo=IAD&lat=38.9&lon=-77.4')).json<{ chain: { candidates: { node: string; health: string; penaltyMs?: number; excluded?: string }[] }[] }>();
    const us = explain.chain[0]!.candidates.find((c) => c.node === 'n-us')!;
    expect(us.health).toBe('degraded');
    expect(us.penaltyMs).toBeGreaterThan(0);
    expect(us.excluded).toBeUndefined();
  });

  it('lands a score table per colo seen, and a default one, in KV', async () => {
    await call('/v1/chat/completions', { key, body: chatBody(), cf: CF.fra });
    await call('/v1/chat/completions', { key, body: chatBody(), cf: CF.nrt });
    await flushSamples(env, Date.now(), true);
    await runCron();
    const names = (await env.ROUTER_KV.list({ prefix: 'route:' })).keys.map((k) => k.name).sort();
    expect(names).toEqual(['route:FRA', 'route:NRT', 'route:_default']);
    const fra = await env.ROUTER_KV.get<RouteTable>('route:FRA', 'json');
    expect(fra).toMatchObject({ colo: 'FRA', health: { 'n-us': 'healthy', 'n-eu': 'healthy' } });
    expect(fra!.lat).toBeCloseTo(50.05, 1);
    expect(Object.keys(fra!.nodes).sort()).toEqual(['n-ap', 'n-eu', 'n-solo', 'n-us', 'p-anth', 'p-azure', 'p-azv1', 'p-vertex']);
    const status = await (await admin('/status')).json<{ colos: { colo: string; tableAgeMs: number }[] }>();
    expect(status.colos.map((c) => c.colo).sort()).toEqual(['FRA', 'NRT']);
    expect(status.colos.every((c) => c.tableAgeMs >= 0 && c.tableAgeMs < 60_000)).toBe(true);
  });

  it('publishes a clear move of a node\'s probe figure at once (one probe past 4×), and the tables carry the figures', async () => {
    await runCron();
    const table = async () => (await env.ROUTER_KV.get<RouteTable>('route:_default', 'json'))!;
    const before = await table();
    expect(before.probeMs!['n-us']).toBeLessThan(90);
    await setNode('n-us', { latencyMs: 400 }); // within the test's 500 ms probe timeout: no health change, no minute's wait
    // Within SHIFT_PUBLISH_GAP_MS of the last publish a shift waits (KV writes to every colo)...
    expect(await runDurableObjectAlarm(monitor())).toBe(true);
    expect((await table()).generatedAt).toBe(before.generatedAt);
    // ...past it, it publishes at once, though the minute's publish is not due.
    await runInDurableObject(monitor(), async (_: unknown, state: DurableObjectState) => {
      await state.storage.put('lastPublishAt', Date.now() - SHIFT_PUBLISH_GAP_MS);
    });
    expect(await runDurableObjectAlarm(monitor())).toBe(true);
    const after = await table();
    expect(after.generatedAt).toBeGreaterThan(before.generatedAt);
    expect(after.probeMs!['n-us']).toBeGreaterThanOrEqual(400);
    expect(after.health['n-us']).toBe('healthy');
  });

  it('keeps a sub-minute probe alarm armed; the alarm runs a cycle', async () => {
    await runCron();
    const first = (await monitor().status()).lastCycleAt!;
    await setNode('n-ap', { status: 503 });
    expect(await runDurableObjectAlarm(monitor())).toBe(true);
    const after = await monitor().status();
    expect(after.lastCycleAt!).toBeGreaterThanOrEqual(first);
    expect(after.nodes['n-ap']).toMatchObject({ state: 'degraded', consecutiveFailures: 1 });
    expect(await runDurableObjectAlarm(monitor())).toBe(true); // re-armed by the alarm itself
  });
});
