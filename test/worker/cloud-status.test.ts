/**
 * Issue 21: a Vertex token endpoint that fails is a node fault with a clear reason in
 * `/admin/status` — through the real cron: the HealthMonitor probes the shared config's
 * Vertex node (`p-vertex`, `test/setup/test-config.ts`), whose token it cannot mint.
 */
import { env } from 'cloudflare:workers';
import { abortAllDurableObjects, createScheduledController } from 'cloudflare:test';
import { beforeEach, expect, it } from 'vitest';
import worker from '../../src/index';
import { admin, resetWorld, setNode, wipeObjects } from './helpers';

const monitor = () => env.HEALTH_MONITOR.getByName('global');
const runCron = () => worker.scheduled(createScheduledController({ cron: '* * * * *' }) as never, env as never);

beforeEach(async () => {
  await resetWorld();
  await wipeObjects([monitor()]);
  await abortAllDurableObjects();
});

it('a Vertex token endpoint failure takes the node down in /admin/status with the token endpoint named as the reason, and no secret', async () => {
  type Status = { nodes: { id: string; state: string; reason: string; lastError?: string }[] };
  await setNode('vertex-token', { status: 500 });
  for (let i = 0; i < 3; i++) await runCron();
  const res = await admin('/status');
  expect(res.status).toBe(200);
  const text = await res.text();
  const node = (JSON.parse(text) as Status).nodes.find((n) => n.id === 'p-vertex');
  expect(node).toMatchObject({ state: 'down', lastError: 'Vertex token: token endpoint answered 500 internal_failure' });
  expect(node!.reason).toContain('Vertex token: token endpoint answered 500');
  const sa = JSON.parse((env as unknown as { VERTEX_SA: string }).VERTEX_SA) as { private_key: string; private_key_id: string };
  expect(text).not.toContain(sa.private_key_id);
  expect(text).not.toContain(sa.private_key.split('\n')[1]!);
});
