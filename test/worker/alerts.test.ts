/**
 * An alert that does not reach its webhook leaves a log line an operator can find: a webhook
 * that answers with an error status loses the alert as surely as one that never answers.
 */
import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sendAlert } from '../../src/health/alerts';
import { fleetAlerts, resetWorld } from './helpers';

const CONTROL = () => (env as unknown as { FLEET_CONTROL_URL: string }).FLEET_CONTROL_URL;
const transition = { nodeId: 'n-us', from: 'healthy', to: 'down', reason: '3 consecutive probe failures (HTTP 500)' } as const;

afterEach(() => vi.restoreAllMocks());

describe('sendAlert', () => {
  it('logs an alert the webhook refused (404), naming the node and the status', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    await sendAlert(`${CONTROL()}/webhook-removed`, transition); // the fleet's control server: 404
    const lines = logged.mock.calls.map((args) => JSON.parse(String(args[0])) as Record<string, unknown>);
    expect(lines).toEqual([{ alert: 'webhook refused', node: 'n-us', status: 404 }]);
  });

  it('logs nothing for an alert the webhook took', async () => {
    await resetWorld();
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    await sendAlert(`${CONTROL()}/webhook`, transition);
    expect(logged).not.toHaveBeenCalled();
    expect((await fleetAlerts()).map((a) => a.to)).toEqual(['down']);
  });
});
