/**
 * The router configuration the workerd tests run with, pointed at the fleet that
 * global-setup started on loopback. Timeouts are short so fault cases finish quickly.
 */
export interface FleetInfo {
  controlUrl: string;
  nodes: { id: string; port: number; url: string }[];
}

/** Node credentials: the fleet demands them, the router holds them as secrets. */
export const NODE_SECRETS: Record<string, string> = {
  NODE_KEY_US: 'node-secret-us-0001',
  NODE_KEY_EU: 'node-secret-eu-0002',
  NODE_KEY_AP: 'node-secret-ap-0003',
  NODE_KEY_SOLO: 'node-secret-solo-0004',
};

export const TEST_NODES = [
  { id: 'n-us', region: 'us-east', lat: 39.04, lon: -77.49, country: 'US', continent: 'NA', secret: 'NODE_KEY_US', models: ['gpt-4o-mini', 'text-embedding-3-small'] },
  { id: 'n-eu', region: 'eu-west', lat: 50.11, lon: 8.68, country: 'DE', continent: 'EU', secret: 'NODE_KEY_EU', models: ['gpt-4o-mini', 'text-embedding-3-small'] },
  { id: 'n-ap', region: 'ap-northeast', lat: 35.68, lon: 139.69, country: 'JP', continent: 'AS', secret: 'NODE_KEY_AP', models: ['gpt-4o-mini', 'text-embedding-3-small'] },
  { id: 'n-solo', region: 'ap-southeast', lat: -33.87, lon: 151.21, country: 'AU', continent: 'OC', secret: 'NODE_KEY_SOLO', models: ['solo-model'] },
];

export function testRouterConfig(fleet: FleetInfo) {
  const url = (id: string) => fleet.nodes.find((n) => n.id === id)!.url;
  return {
    nodes: TEST_NODES.map((n) => ({
      id: n.id,
      baseUrl: url(n.id),
      region: n.region,
      lat: n.lat,
      lon: n.lon,
      country: n.country,
      continent: n.continent,
      models: n.models,
      apiKeyEnv: n.secret,
      ...(n.id === 'n-solo' ? { modelMap: { 'solo-model': 'solo-upstream-v2' } } : {}),
    })),
    models: {
      'gpt-4o-mini': { aliases: ['mini'] },
      'solo-model': { fallbacks: ['gpt-4o-mini'] },
    },
    limits: { maxBodyBytes: 64 * 1024 },
    // JSON answers get longer than a stream's first chunk (responseMs ≥ firstByteMs), as in production.
    timeouts: { firstByteMs: 600, responseMs: 1000, idleMs: 600, totalMs: 5000 },
    retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 100, budget: { minRetries: 100000 } },
    // Probes come from explicit cron runs in the tests: the alarm is set far enough out not to fire.
    health: { probeTimeoutMs: 500, probeIntervalMs: 3_600_000, alertWebhook: `${fleet.controlUrl}/webhook` },
  };
}
