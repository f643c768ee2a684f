/**
 * This isolate's rollup rows, summed in memory and sent to the UsageRollups object in one
 * call when a flush is due: `FLUSH_MS` since the last, or `MAX_ROWS` rows pending. Never a
 * storage write per request. Rows lag by up to `FLUSH_MS` plus the time to the isolate's
 * next request; the admin usage API flushes the isolate that answers it first.
 */
import { onIsolateReset } from '../isolate';
import { HOUR_MS, type RollupRow, type UsageRollups } from './rollups-do';

const FLUSH_MS = 10_000;
const MAX_ROWS = 200;

let pending = new Map<string, RollupRow>();
let lastFlush = -Infinity;
onIsolateReset(() => {
  pending = new Map();
  lastFlush = -Infinity;
});

export interface Settled {
  at: number;
  key: string;
  model: string;
  node: string;
  error: boolean;
  usage?: { prompt_tokens: number; completion_tokens: number; cached_tokens?: number } | undefined;
  cost: number | null;
}

const SUMMED = ['requests', 'errors', 'inputTokens', 'cachedTokens', 'outputTokens', 'costNano', 'unpriced'] as const;

/** Add a row's counts onto the pending row of its hour × key × model × node. */
function merge(row: RollupRow): void {
  const id = `${row.hour}\u0000${row.key}\u0000${row.model}\u0000${row.node}`;
  const into = pending.get(id);
  if (!into) return void pending.set(id, row);
  for (const f of SUMMED) into[f] += row[f];
}

export function addToRollup(s: Settled): void {
  merge({
    hour: s.at - (s.at % HOUR_MS),
    key: s.key,
    model: s.model,
    node: s.node,
    requests: 1,
    errors: s.error ? 1 : 0,
    inputTokens: s.usage?.prompt_tokens ?? 0,
    cachedTokens: s.usage?.cached_tokens ?? 0,
    outputTokens: s.usage?.completion_tokens ?? 0,
    costNano: s.cost === null ? 0 : Math.round(s.cost * 1e9),
    unpriced: s.cost === null ? 1 : 0,
  });
}

/** Send the pending rows if a flush is due (or `force`). */
export async function flushRollups(ns: DurableObjectNamespace<UsageRollups>, now: number, force = false): Promise<void> {
  if (pending.size === 0 || (!force && now - lastFlush < FLUSH_MS && pending.size < MAX_ROWS)) return;
  const rows = [...pending.values()];
  pending = new Map();
  lastFlush = now;
  try {
    await ns.getByName('global').record(rows);
  } catch (err) {
    rows.forEach(merge); // the next flush sends them
    throw err;
  }
}
