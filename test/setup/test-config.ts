/**
 * The router configuration the workerd tests run with, pointed at the fleet that
 * global-setup started on loopback. Timeouts are short so fault cases finish quickly.
 */
export interface FleetInfo {
  controlUrl: string;
  nodes: { id: string; port: number; url: string }[];
  /** The key file the fleet's Vertex token endpoint trusts (the `VERTEX_SA` secret). */
  vertexServiceAccount?: string;
}

/** Node credentials: the fleet demands them, the router holds them as secrets. */
export const NODE_SECRETS: Record<string, string> = {
  NODE_KEY_US: 'node-secret-us-0001',
  NODE_KEY_EU: 'node-secret-eu-0002',
  NODE_KEY_AP: 'node-secret-ap-0003',
  NODE_KEY_SOLO: 'node-secret-solo-0004',
  NODE_KEY_ANTH: 'node-secret-anth-0005',
  NODE_KEY_AZURE: 'node-secret-azure-0006',
  NODE_KEY_AZV1: 'node-secret-azv1-0007',
};

/**
 * Nodes that speak other providers' APIs (`test/fleet/anthropic.ts`, `azure.ts`). They serve
 * only models no other test asks for, so the OpenAI nodes' routing is unchanged. From IAD the
 * Azure node ranks first for claude-x, from ORD (Chicago) the Anthropic node.
 */
export const PROVIDER_NODES = [
  {
    id: 'p-anth', region: 'us-central', lat: 41.88, lon: -87.63, secret: 'NODE_KEY_ANTH', speaks: 'anthropic' as const,
    models: ['claude-x', 'claude-solo'],
    extra: { provider: 'anthropic', modelMap: { 'claude-x': 'claude-sonnet-sim', 'claude-solo': 'claude-solo-sim' } },
  },
  {
    id: 'p-azure', region: 'us-east', lat: 39.04, lon: -77.49, secret: 'NODE_KEY_AZURE', speaks: 'azure' as const,
    models: ['claude-x', 'azure-solo'],
    extra: { provider: 'azure', azure: { style: 'deployments', apiVersion: '2024-10-21' }, modelMap: { 'claude-x': 'dep-claude', 'azure-solo': 'dep-solo' } },
  },
  {
    id: 'p-azv1', region: 'us-east', lat: 39.04, lon: -77.49, secret: 'NODE_KEY_AZV1', speaks: 'azure' as const,
    models: ['azure-v1'],
    extra: { provider: 'azure', azure: { style: 'v1' } },
  },
];

/** The Vertex node of the shared config (fleet node `vertex-euw4`, secret `VERTEX_SA`): only `gemini-status`. */
export const VERTEX_STATUS_NODE = {
  id: 'p-vertex', provider: 'vertex', region: 'eu-west', lat: 53.44, lon: 6.84, models: ['gemini-status'],
  modelMap: { 'gemini-status': 'google/gemini-2.0-flash-001' },
  vertex: { project: 'fleet-project', region: 'europe-west4', serviceAccountEnv: 'VERTEX_SA' },
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
    })).concat(
      // A Vertex region serving only its own model, so the cron's probes cover a token-minting node.
      [{ ...VERTEX_STATUS_NODE, baseUrl: url('vertex-euw4').replace(/\/v1$/, '') }] as never[],
      PROVIDER_NODES.map((n) => ({
        id: n.id,
        // Azure's baseUrl is the resource endpoint; Anthropic's is up to /v1 like OpenAI's.
        baseUrl: n.speaks === 'azure' ? url(n.id).replace(/\/v1$/, '') : url(n.id),
        region: n.region,
        lat: n.lat,
        lon: n.lon,
        models: n.models,
        apiKeyEnv: n.secret,
        ...n.extra,
      })) as never[],
    ),
    models: {
      'gpt-4o-mini': { aliases: ['mini'] },
      'solo-model': { fallbacks: ['gpt-4o-mini'] },
      'claude-x': { price: { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 } },
      // An Anthropic model falling back to an OpenAI-format one: thinking blocks cannot cross.
      'claude-solo': { fallbacks: ['azure-solo'] },
    },
    limits: { maxBodyBytes: 64 * 1024 },
    // JSON answers get longer than a stream's first chunk (responseMs ≥ firstByteMs), as in production.
    timeouts: { firstByteMs: 600, responseMs: 1000, idleMs: 600, totalMs: 5000 },
    retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 100, budget: { minRetries: 100000 } },
    // Probes come from explicit cron runs in the tests: the alarm is set far enough out not to fire.
    // Every transition alerted (routing.test); alert-flap.test runs the monitor with the default window.
    health: { probeTimeoutMs: 500, probeIntervalMs: 3_600_000, alertWebhook: `${fleet.controlUrl}/webhook`, alertCoalesceMs: 0 },
  };
}
