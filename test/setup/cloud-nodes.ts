/**
 * The fleet's Bedrock and Vertex nodes (issue 21). The cloud tests (`test/worker/cloud.test.ts`)
 * build their own router config around them; the shared test config holds only one Vertex
 * node (`p-vertex` on `vertex-euw4`, serving its own model) so the cron probes a token-minting
 * node (`test/worker/cloud-status.test.ts`) and every other test's routing is unchanged.
 */
import type { FleetNodeSpec } from '../fleet/fleet.ts';

export const CLOUD_FLEET_NODES: FleetNodeSpec[] = [
  { id: 'bedrock-use1', speaks: 'bedrock', knobs: { cloudRegion: 'us-east-1' } },
  { id: 'bedrock-euc1', speaks: 'bedrock', knobs: { cloudRegion: 'eu-central-1' } },
  { id: 'vertex-token', speaks: 'vertex-token' },
  { id: 'vertex-usc1', speaks: 'vertex', knobs: { cloudRegion: 'us-central1', gcpProject: 'fleet-project' } },
  { id: 'vertex-euw4', speaks: 'vertex', knobs: { cloudRegion: 'europe-west4', gcpProject: 'fleet-project' } },
];
