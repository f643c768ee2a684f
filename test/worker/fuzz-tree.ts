/**
 * The fuzz test's seeded randomness and the JSON tree its mutations work on
 * (`fuzz.test.ts`): a tree that can say what `JSON.stringify` cannot — a name twice, a name
 * spelt with escapes, a number as `1e400` — and every place in it a value sits.
 */

// ---------------------------------------------------------------- seeded randomness

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function rng(seed: number) {
  let a = seed | 0;
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, chance: (p: number) => next() < p, pick: <T>(list: readonly T[]): T => list[int(list.length)]! };
}
export type Rng = ReturnType<typeof rng>;

// ---------------------------------------------------------------- a JSON tree that can say what JSON.stringify cannot

/** JSON text written as it is: `1e400`, `-0`, a key twice, `"\u006dodel"`. */
export class Raw {
  constructor(readonly text: string) {}
}
/** An object as its members in order, so a name can occur twice. */
export class Obj {
  constructor(public entries: [string | Raw, Value][]) {}
}
export type Value = null | boolean | number | string | Raw | Value[] | Obj;

export function tree(v: unknown): Value {
  if (Array.isArray(v)) return v.map(tree);
  if (v && typeof v === 'object') return new Obj(Object.entries(v).map(([k, x]) => [k, tree(x)]));
  return v as Value;
}

export function emit(v: Value): string {
  if (v instanceof Raw) return v.text;
  if (v instanceof Obj) return `{${v.entries.map(([k, x]) => `${k instanceof Raw ? k.text : JSON.stringify(k)}:${emit(x)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map(emit).join(',')}]`;
  return JSON.stringify(v);
}

/** Every place a value sits below the root: its path, its value, and how to replace it. */
export interface Slot {
  path: string;
  value: Value;
  set: (v: Value) => void;
}
export function slots(root: Value): Slot[] {
  const out: Slot[] = [];
  const walk = (v: Value, path: string) => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        out.push({ path: `${path}.${i}`, value: x, set: (y) => (v[i] = y) });
        walk(x, `${path}.${i}`);
      });
    } else if (v instanceof Obj) {
      v.entries.forEach((entry) => {
        const name = entry[0] instanceof Raw ? entry[0].text : entry[0];
        out.push({ path: `${path}.${name}`, value: entry[1], set: (y) => (entry[1] = y) });
        walk(entry[1], `${path}.${name}`);
      });
    }
  };
  walk(root, '$');
  return out;
}
export const objects = (root: Value): { path: string; obj: Obj }[] => [
  ...(root instanceof Obj ? [{ path: '$', obj: root }] : []),
  ...slots(root).flatMap((s) => (s.value instanceof Obj ? [{ path: s.path, obj: s.value }] : [])),
];
