/**
 * `npm run fleet`: the built-in simulated fleet alone (control API on :8700, nodes on
 * :8701-8704), for pointing a `wrangler dev` you run yourself at it. Ctrl-C stops it.
 */
import { startLocalFleet } from './local-fleet.ts';

const fleet = await startLocalFleet();
console.log(`simulated fleet: control ${fleet.controlUrl}, nodes ${fleet.nodes.map((n) => `${n.id}@${n.port}`).join(', ')}`);
const stop = () => void fleet.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
