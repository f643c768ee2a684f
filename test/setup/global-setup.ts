/**
 * Starts the simulated fleet (real HTTP servers on loopback) for the workerd tests and
 * hands its addresses to them through vitest's provide/inject.
 */
import type { TestProject } from 'vitest/node';
import { startFleet, type Fleet } from '../fleet/fleet.ts';
import { CLOUD_FLEET_NODES } from './cloud-nodes.ts';
import { NODE_SECRETS, PROVIDER_NODES, TEST_NODES } from './test-config.ts';

let fleet: Fleet | undefined;

export async function setup(project: TestProject) {
  fleet = await startFleet([
    ...TEST_NODES.map((n) => ({ id: n.id, knobs: { requireKey: NODE_SECRETS[n.secret] } })),
    ...PROVIDER_NODES.map((n) => ({ id: n.id, speaks: n.speaks, knobs: { requireKey: NODE_SECRETS[n.secret] } })),
    ...CLOUD_FLEET_NODES,
  ]);
  project.provide('fleet', { controlUrl: fleet.controlUrl, nodes: fleet.nodes, vertexServiceAccount: fleet.vertexServiceAccount });
  // test/worker/fuzz.test.ts: its seed (a fixed default, so CI runs the same bodies every time).
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : null;
  if (seed !== null && !Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, not '${process.env.FUZZ_SEED}'`);
  project.provide('fuzzSeed', seed);
}

export async function teardown() {
  await fleet?.close();
}

declare module 'vitest' {
  export interface ProvidedContext {
    fleet: { controlUrl: string; nodes: { id: string; port: number; url: string }[]; vertexServiceAccount?: string };
    /** `FUZZ_SEED`, or null for the fuzz test's fixed default. */
    fuzzSeed: number | null;
  }
}
