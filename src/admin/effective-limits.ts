/**
 * A key's limits as admission applies them (`limits/admission.ts`: the key's own fields
 * over `limits.defaults`, field by field), each with where it comes from, so the admin
 * API and the console show what the key's responses report — not only what the key set.
 */
import type { KeyLimits } from '../config/schema';

export type LimitField = keyof KeyLimits;
export type EffectiveLimits = Partial<Record<LimitField, { value: number; from: 'key' | 'default' }>>;

const FIELDS: LimitField[] = ['rpm', 'tpm', 'concurrency', 'dailyUsd', 'monthlyUsd'];

/** Every limit in force for a key: its own where set, else the default; unset (unlimited) fields are absent. */
export function effectiveLimits(own: KeyLimits | undefined, defaults: KeyLimits): EffectiveLimits {
  const out: EffectiveLimits = {};
  for (const f of FIELDS) {
    const mine = own?.[f];
    if (mine !== undefined) out[f] = { value: mine, from: 'key' };
    else if (defaults[f] !== undefined) out[f] = { value: defaults[f], from: 'default' };
  }
  return out;
}
