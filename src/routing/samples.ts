/**
 * Passive latency samples from live traffic, buffered in the isolate and sent in batches
 * to each colo's ColoStats object via `ctx.waitUntil` — never a KV write on the request
 * path. A batch is due on the isolate's first request, then every `SAMPLE_FLUSH_MS` (`scores.ts`) or at
 * `MAX_PENDING` samples, whichever comes first. Each colo's answer carries the monitor's
 * newest probe figures pushed to it (the fast channel, `live-cue.ts`): kept here for the live
 * view (`heardFigures`).
 */
import type { ColoStats } from './colo-stats-do';
import { newerFigures, type ProbeFigures } from './live-cue';
import { SAMPLE_FLUSH_MS, type Sample } from './scores';
import { onIsolateReset } from '../isolate';

const MAX_PENDING = 200;

interface ColoBatch {
  samples: Sample[];
  coords?: { lat: number; lon: number };
}

let pending = new Map<string, ColoBatch>();
let count = 0;
let lastFlush = -Infinity;
let inFlight: Promise<unknown> = Promise.resolve();
let heard: ProbeFigures | undefined;

/** The monitor's newest probe figures the isolate's batches brought back (the live view hears them: `forward/observe.ts`). */
export function heardFigures(): ProbeFigures | undefined {
  return heard;
}

export function recordSample(sample: Sample, coords?: { lat: number; lon: number }): void {
  const batch = pending.get(sample.colo) ?? { samples: [] };
  batch.samples.push(sample);
  if (coords) batch.coords = coords;
  pending.set(sample.colo, batch);
  count++;
}

/**
 * Whether a batch is due: cheap enough to ask on every request, so the request defers a
 * flush (a promise and a `waitUntil`) only when there is one to send.
 */
export function samplesDue(now: number): boolean {
  return count > 0 && (now - lastFlush >= SAMPLE_FLUSH_MS || count >= MAX_PENDING);
}

/**
 * Sends the pending batch if it is due (or `force`). Resolves when every colo has it —
 * and, when forced, when any batch already on its way has arrived too.
 */
export async function flushSamples(env: { COLO_STATS: DurableObjectNamespace<ColoStats> }, now: number, force = false): Promise<void> {
  if (force) await inFlight.catch(() => {});
  if (!force && !samplesDue(now)) return;
  if (count === 0) return;
  const batch = pending;
  pending = new Map();
  count = 0;
  lastFlush = now;
  const sending = Promise.all([...batch].map(([colo, b]) => env.COLO_STATS.getByName(colo).record(b.samples, b.coords)));
  inFlight = sending;
  for (const figures of await sending) if (figures) heard = newerFigures(figures, heard);
}

onIsolateReset(() => {
  pending = new Map();
  count = 0;
  lastFlush = -Infinity;
  heard = undefined;
});
