/**
 * The fleet's Bedrock and Vertex nodes (issue 21). They are not in the shared test config:
 * the cloud tests (`test/worker/cloud.test.ts`) build their own router config around them,
 * so every other test's routing is unchanged.
 */
import type { FleetNodeSpec } from '../fleet/fleet.ts';

export const CLOUD_FLEET_NODES: FleetNodeSpec[] = [
  { id: 'bedrock-use1', speaks: 'bedrock', knobs: { cloudRegion: 'us-east-1' } },
  { id: 'bedrock-euc1', speaks: 'bedrock', knobs: { cloudRegion: 'eu-central-1' } },
  { id: 'vertex-token', speaks: 'vertex-token' },
  { id: 'vertex-usc1', speaks: 'vertex', knobs: { cloudRegion: 'us-central1', gcpProject: 'fleet-project' } },
  { id: 'vertex-euw4', speaks: 'vertex', knobs: { cloudRegion: 'europe-west4', gcpProject: 'fleet-project' } },
];
