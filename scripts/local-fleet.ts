/**
 * The built-in simulated fleet that `npm run dev` and the benchmarks use: four regions on
 * fixed loopback ports, matching the top-level ROUTER_CONFIG in wrangler.toml.
 */
import { startFleet, type Fleet } from '../test/fleet/fleet.ts';

/** The node credential the local config names (SIM_NODE_KEY); the fleet demands it. */
export const SIM_NODE_KEY = 'sim-node-secret-local';

export const LOCAL_NODES = [
  { id: 'sim-us-east', port: 8701, latencyMs: 20 },
  { id: 'sim-eu-west', port: 8702, latencyMs: 35 },
  { id: 'sim-ap-northeast', port: 8703, latencyMs: 50 },
  { id: 'sim-us-west', port: 8704, latencyMs: 25 },
];

export function startLocalFleet(controlPort = 8700): Promise<Fleet> {
  return startFleet(
    LOCAL_NODES.map((n) => ({ id: n.id, port: n.port, knobs: { latencyMs: n.latencyMs, chunkDelayMs: 40, chunks: 5, requireKey: SIM_NODE_KEY } })),
    controlPort,
  );
}
