/**
 * A seeded, bounded fuzz of every POST endpoint of README "API", through the Worker's entry
 * against the fleet. Valid bodies are mutated — keys dropped or given twice, types swapped,
 * odd numbers, nesting past `MAX_JSON_DEPTH`, escaped and case-folded names, lone
 * surrogates, empty arrays, long strings, truncation, a BOM, trailing garbage, wrong content
 * types; forms broken likewise — and every answer must keep README "Errors"' promise: no
 * 5xx the router made itself, an error in the caller's API shape with a message and no
 * stack trace, an answer that ends, and nothing held afterwards (the key's slot and spend).
 *
 * `FUZZ_SEED=<n> npx vitest run --project worker test/worker/fuzz.test.ts` runs other bodies
 * (`test/setup/global-setup.ts` hands the seed over); the default is fixed, so CI runs the
 * same ones. A failure names its seed and case.
 */
import { exports } from 'cloudflare:workers';
import { expect, inject, it } from 'vitest';
import { admin, CF, newKey, resetWorld } from './helpers';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `FUZZ_SEED`, or null for the fixed default (`test/setup/global-setup.ts`). */
    fuzzSeed: number | null;
  }
}

const SEED = inject('fuzzSeed') ?? 20261203;
/** Mutated bodies per endpoint (11 endpoints). */
const CASES = 26;
const ANSWER_MS = 10_000;

// ---------------------------------------------------------------- seeded randomness

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function rng(seed: number) {
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
type Rng = ReturnType<typeof rng>;

// ---------------------------------------------------------------- a JSON tree that can say what JSON.stringify cannot

/** JSON text written as it is: `1e400`, `-0`, a key twice, `"\u006dodel"`. */
class Raw {
  constructor(readonly text: string) {}
}
/** An object as its members in order, so a name can occur twice. */
class Obj {
  constructor(public entries: [string | Raw, Value][]) {}
}
type Value = null | boolean | number | string | Raw | Value[] | Obj;

function tree(v: unknown): Value {
  if (Array.isArray(v)) return v.map(tree);
  if (v && typeof v === 'object') return new Obj(Object.entries(v).map(([k, x]) => [k, tree(x)]));
  return v as Value;
}

function emit(v: Value): string {
  if (v instanceof Raw) return v.text;
  if (v instanceof Obj) return `{${v.entries.map(([k, x]) => `${k instanceof Raw ? k.text : JSON.stringify(k)}:${emit(x)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map(emit).join(',')}]`;
  return JSON.stringify(v);
}

/** Every place a value sits below the root: its path, its value, and how to replace it. */
interface Slot {
  path: string;
  value: Value;
  set: (v: Value) => void;
}
function slots(root: Value): Slot[] {
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
const objects = (root: Value): { path: string; obj: Obj }[] => [
  ...(root instanceof Obj ? [{ path: '$', obj: root }] : []),
  ...slots(root).flatMap((s) => (s.value instanceof Obj ? [{ path: s.path, obj: s.value }] : [])),
];

// ---------------------------------------------------------------- mutations

const ODD_NUMBERS = ['1e400', '-1e400', '1e-400', '-0', '0.0', '1.5', '-1', '0', '9007199254740993', '1E+2', '2147483648', '1' + '0'.repeat(330), '4294967297', '0.1e1'];
const NOT_JSON_NUMBERS = ['NaN', 'Infinity', '-Infinity', '0x10', '+1', '.5', '01', '1.', 'undefined'];
const MODELS = ['gpt-4o-mini', 'mini', 'claude-x', 'claude-solo', 'solo-model', 'text-embedding-3-small', 'azure-v1', 'gpt-image-1', 'nope-model', '', ' gpt-4o-mini', 'GPT-4O-MINI', 'gpt-4o-mini\u0000'];
const NAMES = ['model', 'messages', 'stream', 'max_tokens', 'n', 'input', 'prompt', 'system', 'tools', 'content', 'role', 'type', 'text', 'previous_response_id', 'store', 'background'];

function scalar(r: Rng): Value {
  return r.pick<() => Value>([
    () => null,
    () => r.chance(0.5),
    () => r.pick([0, -1, 1, 1.5, 1e308, -1e308, 2 ** 53 + 2, 128, 129, 21]),
    () => r.pick(['', 'x', '123', 'true', 'null', 'user', 'assistant', 'text', 'image_url', 'function', 'tool_use', 'auto', 'priority', 'high', '1536x1024']),
    () => r.pick(FORGED_IDS),
    () => r.pick(MODELS),
    () => new Raw(r.pick(ODD_NUMBERS)),
  ])();
}
function anyValue(r: Rng, depth = 0): Value {
  if (depth > 2 || r.chance(0.5)) return scalar(r);
  return r.chance(0.5)
    ? Array.from({ length: r.int(3) }, () => anyValue(r, depth + 1))
    : new Obj(Array.from({ length: r.int(3) }, () => [r.pick(NAMES), anyValue(r, depth + 1)] as [string, Value]));
}
/** Arrays and objects nested `depth` deep, mixed. */
function nested(r: Rng, depth: number): Value {
  const kinds = Array.from({ length: depth }, () => r.chance(0.5));
  let text = 'null';
  for (const isArray of kinds) text = isArray ? `[${text}]` : `{"a":${text}}`;
  return new Raw(text);
}
/** `model` → `\u006dodel` (one character escaped), as JSON may spell any name. */
const escapeOne = (name: string, r: Rng) => {
  if (!name) return '""';
  const i = r.int(name.length);
  return `"${JSON.stringify(name.slice(0, i)).slice(1, -1)}\\u${name.charCodeAt(i).toString(16).padStart(4, '0')}${JSON.stringify(name.slice(i + 1)).slice(1, -1)}"`;
};
const otherCase = (name: string, r: Rng) =>
  r.pick([name.toUpperCase(), name[0] ? name[0].toUpperCase() + name.slice(1) : 'X', name.replace(/s/, 'ſ'), name.replace(/k/, '\u212a')]);
const nameOf = (k: string | Raw) => (k instanceof Raw ? k.text : k);

const b64 = (bytes: number[]) => btoa(String.fromCharCode(...bytes));
const ascii = (text: string) => [...text].map((ch) => ch.charCodeAt(0));
const be32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const le = (n: number, bytes: number) => Array.from({ length: bytes }, (_, i) => (n >>> (8 * i)) & 255);
/** A PNG header claiming 4294967295 × 4294967295 pixels (the image estimate reads it). */
const HUGE_PNG = b64([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, ...ascii('IHDR'), ...be32(0xffffffff), ...be32(0xffffffff), 8, 6, 0, 0, 0]);
/** A WAV header at 1 byte a second (the audio estimate reads it), then data. */
const SLOW_WAV = b64([...ascii('RIFF'), ...le(36, 4), ...ascii('WAVEfmt '), ...le(16, 4), ...le(1, 2), ...le(1, 2), ...le(1, 4), ...le(1, 4), ...le(1, 2), ...le(8, 2), ...ascii('data'), ...le(3000, 4)]) + 'A'.repeat(4_000);
/** Ids shaped like the router's signed ones (`resp_<id>~<payload>.<mac>`) that it never signed. */
const FORGED_IDS = [`resp_abc~${b64(ascii('n-us key_x 10'))}.${'A'.repeat(43)}`, `resp_abc~AAAAA.${'A'.repeat(43)}`, `resp_${'a'.repeat(201)}`, 'resp_../x', `resp_a~${'_'.repeat(200)}.${'-'.repeat(43)}`];

/** Parts, items, messages and tools of every API the router reads, some half right: what translators and estimators walk. */
const PIECES: unknown[] = [
  { type: 'image_url', image_url: { url: `data:image/png;base64,${HUGE_PNG}`, detail: 'high' } },
  { type: 'image', source: { type: 'base64', media_type: 'image/png', data: HUGE_PNG } },
  { type: 'input_image', image_url: 'data:image/png;base64,!!!!' },
  { type: 'input_audio', input_audio: { data: SLOW_WAV, format: 'wav' } },
  { type: 'input_audio', input_audio: { data: `data:audio/wav;base64,${SLOW_WAV}`, format: 'wav' } },
  { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
  { type: 'image_url', image_url: 'https://example.com/a.png' },
  { type: 'image_url', image_url: { url: 5, detail: 'high' } },
  { type: 'input_image', image_url: 'data:image/jpeg;base64,/9j/' },
  { type: 'input_image', file_id: 'file_1' },
  { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
  { type: 'input_file', file_data: 'data:application/pdf;base64,JVBERi0=' },
  { type: 'image', source: { type: 'base64', media_type: 'image/gif', data: 'R0lGODlh' } },
  { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } },
  { type: 'image', source: null },
  { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'doc' } },
  { type: 'tool_use', id: 'toolu_9', name: 'get_weather', input: 'not an object' },
  { type: 'tool_result', tool_use_id: 'toolu_9', content: 5 },
  { type: 'tool_result', tool_use_id: 'toolu_9', is_error: true, content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] },
  { type: 'thinking', thinking: 'hm', signature: 'sig' },
  { type: 'redacted_thinking', data: 'x' },
  { type: 'text', text: 5 },
  { type: 'text' },
  { type: 'text', text: 'x', cache_control: { type: 'ephemeral', ttl: '1h' } },
  {},
  { role: 'user' },
  { role: 'tool', tool_call_id: 'call_1', content: 'result' },
  { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{' } }] },
  { role: 'assistant', tool_calls: 'x' },
  { role: 'developer', content: [{ type: 'text', text: 'dev' }] },
  { role: 'system', content: [] },
  { type: 'function_call', call_id: 'call_1', name: 'f', arguments: '{}' },
  { type: 'function_call_output', call_id: 'call_1', output: 'x' },
  { type: 'item_reference', id: 'msg_1' },
  { type: 'reasoning', id: 'rs_1', summary: [] },
  { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hi' }] },
  { type: 'web_search' },
  { type: 'web_search_preview', search_context_size: 'high' },
  { type: 'file_search', vector_store_ids: ['vs_1'] },
  { type: 'mcp', server_label: 'x', server_url: 'https://example.com/mcp' },
  { type: 'image_generation' },
  { type: 'code_interpreter', container: { type: 'auto' } },
  { type: 'web_search_20250305', name: 'web_search', max_uses: 3 },
  { type: 'bash_20250124', name: 'bash' },
  { type: 'function', function: { name: 'f', parameters: 'x' } },
  { type: 'function', name: 'f', strict: true, parameters: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false } },
  { name: 'tool', input_schema: null },
  { type: 'custom', name: 'c', format: { type: 'grammar', syntax: 'lark', definition: 'start: "a"' } },
];

type Mutation = (root: Value, r: Rng) => string | null;

const MUTATIONS: Record<string, Mutation> = {
  drop(root, r) {
    const targets = objects(root).filter((o) => o.obj.entries.length > 0);
    if (!targets.length) return null;
    const { path, obj } = r.pick(targets);
    const [removed] = obj.entries.splice(r.int(obj.entries.length), 1);
    return `drop ${path}.${nameOf(removed![0])}`;
  },
  duplicate(root, r) {
    const targets = objects(root).filter((o) => o.obj.entries.length > 0);
    if (!targets.length) return null;
    const { path, obj } = r.pick(targets);
    const [name, value] = r.pick(obj.entries);
    const spelt = typeof name !== 'string' ? name : r.pick<() => string | Raw>([() => name, () => new Raw(escapeOne(name, r)), () => otherCase(name, r)])();
    const copy = r.chance(0.5) ? value : anyValue(r);
    obj.entries.splice(r.int(obj.entries.length + 1), 0, [spelt, copy]);
    return `duplicate ${path}.${nameOf(spelt)}`;
  },
  swapType(root, r) {
    const all = slots(root);
    if (!all.length) return null;
    const slot = r.pick(all);
    const value = anyValue(r);
    slot.set(value);
    return `swap ${slot.path} → ${emit(value).slice(0, 40)}`;
  },
  oddNumber(root, r) {
    const all = slots(root);
    const numeric = all.filter((s) => typeof s.value === 'number');
    const slot = r.pick(numeric.length && r.chance(0.7) ? numeric : all);
    if (!slot) return null;
    const text = r.chance(0.8) ? r.pick(ODD_NUMBERS) : r.pick(NOT_JSON_NUMBERS);
    slot.set(new Raw(text));
    return `number ${slot.path} → ${text.slice(0, 20)}`;
  },
  deep(root, r) {
    const slot = r.pick(slots(root));
    if (!slot) return null;
    const depth = r.pick([8, 60, 62, 63, 64, 65, 70, 200, 3000]);
    slot.set(nested(r, depth));
    return `nest ${slot.path} ${depth} deep`;
  },
  empty(root, r) {
    const containers = slots(root).filter((s) => Array.isArray(s.value) || s.value instanceof Obj);
    if (!containers.length) return null;
    const slot = r.pick(containers);
    slot.set(r.chance(0.5) ? [] : new Obj([]));
    return `empty ${slot.path}`;
  },
  longString(root, r) {
    const slot = r.pick(slots(root));
    if (!slot) return null;
    // Within 64 KiB (the tests' maxBodyBytes) but for the last: a 413.
    const length = r.pick([2_000, 20_000, 50_000, 70_000]);
    const unit = r.pick(['a', 'é', '猫', '😀', ' ', '\\"', '\n']);
    const text = unit.repeat(Math.ceil(length / (new TextEncoder().encode(unit).byteLength + (unit === '\n' ? 1 : 0))));
    slot.set(unit === '\\"' ? new Raw(`"${text}"`) : text);
    return `long ${slot.path} ${length} bytes of ${JSON.stringify(unit)}`;
  },
  surrogate(root, r) {
    const strings = slots(root).filter((s) => typeof s.value === 'string');
    const slot = r.pick(strings.length ? strings : slots(root));
    if (!slot) return null;
    const text = r.pick(['\\ud800', 'x\\udc00y', '\\ud83d', '\\udfff\\ud800', '\\ud83d\\ude00\\ud83d', '\\u0000', '\\uffff', '\\ufeff']);
    slot.set(new Raw(`"${text}"`));
    return `string ${slot.path} → "${text}"`;
  },
  rename(root, r) {
    const targets = objects(root).filter((o) => o.obj.entries.some(([k]) => typeof k === 'string'));
    if (!targets.length) return null;
    const { path, obj } = r.pick(targets);
    const entry = r.pick(obj.entries.filter(([k]) => typeof k === 'string'));
    const name = entry[0] as string;
    entry[0] = r.pick<() => string | Raw>([
      () => new Raw(escapeOne(name, r)),
      () => otherCase(name, r),
      () => new Raw(`"${name}\\ud800"`),
      () => ` ${name}`,
      () => `${name}\u0000`,
      () => '',
    ])();
    return `rename ${path}.${name} → ${nameOf(entry[0])}`;
  },
  addKey(root, r) {
    const targets = objects(root);
    if (!targets.length) return null;
    const { path, obj } = r.pick(targets);
    const name = r.pick<string | Raw>(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', new Raw('"\\u005f_proto__"'), 'then', 'length']);
    const value = r.chance(0.5) ? new Obj([['model', 'claude-x'], ['max_tokens', 5]]) : anyValue(r);
    obj.entries.splice(r.int(obj.entries.length + 1), 0, [name, value]);
    return `add ${path}.${nameOf(name)}`;
  },
  insert(root, r) {
    const arrays = slots(root).filter((s) => Array.isArray(s.value));
    const piece = tree(structuredClone(r.pick(PIECES)));
    if (arrays.length && r.chance(0.7)) {
      const slot = r.pick(arrays);
      const list = slot.value as Value[];
      list.splice(r.int(list.length + 1), 0, piece);
      return `insert into ${slot.path}: ${emit(piece).slice(0, 60)}`;
    }
    const slot = r.pick(slots(root));
    if (!slot) return null;
    slot.set(r.chance(0.5) ? piece : [piece]);
    return `set ${slot.path}: ${emit(piece).slice(0, 60)}`;
  },
  model(root, r) {
    if (!(root instanceof Obj)) return null;
    const entry = root.entries.find(([k]) => k === 'model');
    const value = r.pick(MODELS);
    if (entry) entry[1] = value;
    else root.entries.push(['model', value]);
    return `model → ${JSON.stringify(value)}`;
  },
};

/** Mutations of the text itself: what a tree cannot hold. */
const TEXT_MUTATIONS: Record<string, (text: string, r: Rng) => { text: string; label: string }> = {
  truncate: (text, r) => {
    const at = r.int(text.length);
    return { text: text.slice(0, at), label: `truncate at ${at}/${text.length}` };
  },
  trailing: (text, r) => {
    const tail = r.pick([' x', '}', ']', ',', '{}', '\u0000', '\n{"model":"gpt-4o-mini"}', '//', ' \n\t', 'null']);
    return { text: text + tail, label: `trailing ${JSON.stringify(tail)}` };
  },
  bom: (text) => ({ text: `\ufeff${text}`, label: 'BOM' }),
  doubleBom: (text) => ({ text: `\ufeff\ufeff${text}`, label: 'two BOMs' }),
  notObject: (text, r) => {
    const body = r.pick(['[]', `[${text}]`, '"x"', '1', 'null', 'true', '', ' ', '{}', '{"model":null}']);
    return { text: body, label: `body ${JSON.stringify(body.slice(0, 30))}` };
  },
  stray: (text, r) => {
    const at = r.int(text.length);
    const ch = r.pick(['"', '\\', '{', '}', ',', ':', '\u0000', '\u2028', "'"]);
    return { text: text.slice(0, at) + ch + text.slice(at), label: `insert ${JSON.stringify(ch)} at ${at}` };
  },
};

/** Bytes that are not UTF-8 (a lone continuation byte, a surrogate's CESU-8, an overlong '/'), inside a string. */
function badUtf8(bytes: Uint8Array, r: Rng): { bytes: Uint8Array; label: string } {
  const quotes = bytes.reduce<number[]>((at, b, i) => (b === 0x22 ? [...at, i] : at), []);
  const at = quotes.length ? r.pick(quotes) + 1 : r.int(bytes.length);
  const bad = r.pick([[0x80], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xff, 0xfe], [0xf4, 0x90, 0x80, 0x80]]);
  const out = new Uint8Array(bytes.length + bad.length);
  out.set(bytes.subarray(0, at));
  out.set(bad, at);
  out.set(bytes.subarray(at), at + bad.length);
  return { bytes: out, label: `bytes ${bad.map((b) => b.toString(16)).join(' ')} at ${at}` };
}

const BETAS = ['', ',', ' , ,', 'context-1m-2025-08-07', 'CONTEXT-1M-2025-08-07', 'interleaved-thinking-2025-05-14,token-efficient-tools-2025-02-19', 'x'.repeat(4_000), 'web-search-2025-03-05, context-1m-x'];
const CONTENT_TYPES = ['text/plain', '', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/xml', 'APPLICATION/JSON'];

// ---------------------------------------------------------------- valid bodies, per endpoint

const userMsg = (content: unknown) => ({ role: 'user', content });
const weatherTool = { name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

const messagesSeeds = [
  { model: 'claude-x', max_tokens: 64, system: 'Be brief.', messages: [userMsg('Hi')] },
  { model: 'gpt-4o-mini', max_tokens: 64, stream: true, messages: [userMsg([{ type: 'text', text: 'Hi' }]), { role: 'assistant', content: 'Hello' }, userMsg('More')] },
  { model: 'claude-x', max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 }, tools: [weatherTool], messages: [userMsg('Weather in Oslo?')] },
  {
    model: 'gpt-4o-mini',
    max_tokens: 64,
    system: [{ type: 'text', text: 'sys', cache_control: { type: 'ephemeral' } }],
    messages: [userMsg([{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } }, { type: 'text', text: 'What is it?' }])],
  },
  {
    model: 'claude-x',
    max_tokens: 128,
    tools: [weatherTool],
    tool_choice: { type: 'auto' },
    messages: [
      userMsg('Weather?'),
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } }] },
      userMsg([{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'Sunny' }] }]),
    ],
  },
];

interface JsonTarget {
  path: string;
  face: 'openai' | 'anthropic';
  seeds: Record<string, unknown>[];
}

const JSON_TARGETS: JsonTarget[] = [
  {
    path: '/v1/chat/completions',
    face: 'openai',
    seeds: [
      { model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'Be brief.' }, userMsg('Hi')], max_tokens: 16 },
      { model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, n: 2, messages: [userMsg([{ type: 'text', text: 'Look' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}`, detail: 'low' } }])] },
      { model: 'claude-x', messages: [userMsg('Hi')], max_completion_tokens: 32, tool_choice: 'auto', tools: [{ type: 'function', function: { name: 'get_weather', parameters: weatherTool.input_schema } }] },
      { model: 'mini', messages: [userMsg('Hi')], response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'string' } } } } } },
    ],
  },
  {
    path: '/v1/completions',
    face: 'openai',
    seeds: [
      { model: 'gpt-4o-mini', prompt: 'Say hi', max_tokens: 8 },
      { model: 'gpt-4o-mini', prompt: ['a', 'b'], n: 2, best_of: 3, echo: true, stream: true, max_tokens: 4 },
      { model: 'gpt-4o-mini', prompt: [[1, 2, 3]], max_tokens: 4, suffix: 'end' },
    ],
  },
  {
    path: '/v1/responses',
    face: 'openai',
    seeds: [
      { model: 'gpt-4o-mini', input: 'Hi', max_output_tokens: 16, store: false },
      { model: 'gpt-4o-mini', instructions: 'Be brief', input: [{ role: 'user', content: [{ type: 'input_text', text: 'Hi' }] }], stream: true },
      { model: 'gpt-4o-mini', input: 'Hi', tools: [{ type: 'function', name: 'f', parameters: { type: 'object', properties: {} } }], text: { format: { type: 'text' } } },
      { model: 'gpt-4o-mini', input: 'Again', previous_response_id: 'resp_abc' },
    ],
  },
  {
    path: '/v1/embeddings',
    face: 'openai',
    seeds: [
      { model: 'text-embedding-3-small', input: 'hello' },
      { model: 'text-embedding-3-small', input: ['a', 'b'], dimensions: 8, encoding_format: 'float' },
      { model: 'text-embedding-3-small', input: [[1, 2], [3]] },
    ],
  },
  {
    path: '/v1/moderations',
    face: 'openai',
    seeds: [
      { model: 'gpt-4o-mini', input: 'x' },
      { model: 'gpt-4o-mini', input: [{ type: 'text', text: 'b' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] },
    ],
  },
  {
    path: '/v1/images/generations',
    face: 'openai',
    seeds: [
      { model: 'gpt-4o-mini', prompt: 'a cat', n: 1, size: '1024x1024' },
      { model: 'gpt-4o-mini', prompt: 'a cat', stream: true, partial_images: 1, quality: 'low' },
    ],
  },
  {
    path: '/v1/audio/speech',
    face: 'openai',
    seeds: [
      { model: 'gpt-4o-mini', input: 'Hello', voice: 'alloy' },
      { model: 'gpt-4o-mini', input: 'Hello', voice: 'alloy', instructions: 'Cheerful', response_format: 'mp3', speed: 1.2 },
    ],
  },
  { path: '/v1/messages', face: 'anthropic', seeds: messagesSeeds },
  {
    path: '/v1/messages/count_tokens',
    face: 'anthropic',
    seeds: messagesSeeds.map(({ max_tokens: _cap, stream: _stream, ...rest }: Record<string, unknown>) => rest),
  },
];

interface Case {
  path: string;
  face: 'openai' | 'anthropic';
  label: string;
  body: Uint8Array;
  contentType: string | null;
  /** More request headers (`anthropic-beta`). */
  headers: Record<string, string>;
  /** Why this body must be refused (a name twice, nesting past 64), when a mutation made it so. */
  mustRefuse: string | null;
}

const encoder = new TextEncoder();

function jsonCase(target: JsonTarget, r: Rng): Case {
  const root = tree(structuredClone(r.pick(target.seeds)));
  const labels: string[] = [];
  const names = Object.keys(MUTATIONS);
  // README "Errors": a name twice in one object (case folded) and nesting past 64 levels are
  // 400s wherever they are; a later mutation may undo either, so only the last one counts.
  let mustRefuse: string | null = null;
  for (let i = 0, n = 1 + r.int(3); i < n; i++) {
    const name = r.pick(names);
    const label = MUTATIONS[name]!(root, r);
    if (!label) continue;
    labels.push(label);
    mustRefuse = name === 'duplicate' ? 'a name twice' : name === 'deep' && Number(/ (\d+) deep$/.exec(label)?.[1]) > 64 ? 'nested past 64' : null;
  }
  let text = emit(root);
  if (r.chance(0.3)) {
    const kind = r.pick(Object.keys(TEXT_MUTATIONS));
    const m = TEXT_MUTATIONS[kind]!(text, r);
    text = m.text;
    labels.push(m.label);
    // A stray character or a cut may land in the very name given twice.
    if (!['bom', 'doubleBom', 'trailing'].includes(kind)) mustRefuse = null;
  }
  let body = encoder.encode(text);
  if (r.chance(0.08)) {
    const m = badUtf8(body, r);
    body = m.bytes;
    labels.push(m.label);
    mustRefuse = null;
  }
  let contentType: string | null = 'application/json';
  if (r.chance(0.12)) {
    contentType = r.chance(0.15) ? null : r.pick(CONTENT_TYPES);
    labels.push(`content-type ${JSON.stringify(contentType)}`);
  }
  const headers: Record<string, string> = {};
  if (target.face === 'anthropic' && r.chance(0.15)) {
    headers['anthropic-beta'] = r.pick(BETAS);
    labels.push(`anthropic-beta ${JSON.stringify(headers['anthropic-beta'].slice(0, 40))}`);
  }
  return { path: target.path, face: target.face, label: labels.join('; ') || 'unchanged', body, contentType, headers, mustRefuse };
}

/** A transcription or translation form, written by hand so it can be broken. */
function formCase(path: string, r: Rng): Case {
  const boundary = r.pick(['fuzzboundary', 'x', '----WebKitFormBoundary7MA4YWxkTrZu0gW', 'a'.repeat(70)]);
  const parts: string[][] = [
    ['model', r.chance(0.8) ? 'gpt-4o-mini' : r.pick(MODELS)],
    ['response_format', 'json'],
    ['temperature', r.pick(['0', '0.5', 'NaN', '-1', '1e400', ''])],
  ];
  const file = ['file', 'AUDIO'.repeat(1 + r.int(200))];
  const labels: string[] = [];
  if (r.chance(0.8)) parts.push(file);
  else labels.push('no file');
  const twice = r.chance(0.15);
  let mustRefuse: string | null = null;
  if (twice) {
    mustRefuse = 'a form field twice';
    const [name] = r.pick(parts);
    parts.push([name!, 'gpt-4o-mini']);
    labels.push(`field ${name} twice`);
  }
  if (r.chance(0.1)) {
    parts[0]![0] = r.pick(['MODEL', 'Model', 'mode\u006c', '']);
    mustRefuse = null;
    labels.push(`model field named ${JSON.stringify(parts[0]![0])}`);
  }
  if (r.chance(0.08)) {
    for (let i = 0; i < 70; i++) parts.push([`timestamp_granularities[]`, 'word']);
    labels.push('70 more parts');
  }
  if (r.chance(0.1)) {
    parts.push(['stream', r.pick(['true', 'TRUE', '1', 'yes'])]);
    labels.push('stream');
  }
  let text = parts
    .map(([name, value]) =>
      name === 'file'
        ? `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.mp3"\r\nContent-Type: audio/mpeg\r\n\r\n${value}\r\n`
        : `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
    )
    .join('') + `--${boundary}--\r\n`;
  let contentType: string | null = `multipart/form-data; boundary=${boundary}`;
  const broken = r.int(10);
  if (broken === 0) {
    text = text.slice(0, r.int(text.length));
    labels.push('truncated');
    mustRefuse = null;
  } else if (broken === 1) {
    contentType = r.pick(['multipart/form-data', 'multipart/form-data; boundary=', 'multipart/form-data; boundary="a\\"b"', `multipart/form-data; boundary=${'b'.repeat(71)}`, 'application/json', 'text/plain', null]);
    labels.push(`content-type ${JSON.stringify(contentType)}`);
  } else if (broken === 2) {
    contentType = 'multipart/form-data; boundary=other';
    labels.push('boundary mismatch');
  } else if (broken === 3) {
    text = `\ufeff${text}garbage`;
    labels.push('BOM and trailing garbage');
  } else if (broken === 4) {
    text = text.replace(/Content-Disposition: form-data; name="model"/, 'Content-Disposition: form-data; name="model"\r\nContent-Disposition: form-data; name="evil"');
    labels.push('two Content-Disposition headers');
  }
  return { path, face: 'openai', label: labels.join('; ') || 'unchanged', body: encoder.encode(text), contentType, headers: {}, mustRefuse };
}

// ---------------------------------------------------------------- what every answer must be

/** Stack frames and source locations: never in an answer. */
const STACK = /\n\s+at |\bat [\w$.<>]+ \(|\.ts:\d+|\.js:\d+|node_modules|file:\/\//;

interface Seen {
  status: number;
  node: string | null;
  text: string;
}

/** What is wrong with an answer, or null. */
function problem(c: Case, seen: Seen): string | null {
  const { status, node, text } = seen;
  // A 5xx the router made itself; the node's own (x-router-node names it) is the fleet's.
  if ([500, 502, 503, 504].includes(status) && !node) return `router ${status}`;
  if (STACK.test(text)) return 'stack trace text in the answer';
  if (status < 400) return c.mustRefuse ? `answered ${status}, though the body has ${c.mustRefuse}` : null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return 'error body is not JSON';
  }
  const error = (json as { error?: Record<string, unknown> }).error;
  if (!error || typeof error.message !== 'string' || error.message.trim() === '') return 'no error message';
  if (c.face === 'anthropic') {
    if ((json as { type?: unknown }).type !== 'error' || typeof error.type !== 'string') return 'not Anthropic\'s error shape';
  } else if (!['message', 'type', 'param', 'code'].every((k) => k in error) || typeof error.type !== 'string') {
    return 'not OpenAI\'s error shape';
  }
  return null;
}

async function send(c: Case, key: string): Promise<Seen> {
  const headers = new Headers(c.face === 'anthropic' ? { 'x-api-key': key, 'anthropic-version': '2023-06-01' } : { authorization: `Bearer ${key}` });
  if (c.contentType !== null) headers.set('content-type', c.contentType);
  for (const [name, value] of Object.entries(c.headers)) headers.set(name, value);
  const signal = AbortSignal.timeout(ANSWER_MS);
  const timedOut = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new Error(`no whole answer within ${ANSWER_MS} ms`))));
  const answer = (async () => {
    const res = await exports.default.fetch(new Request(`https://router.test${c.path}`, { method: 'POST', headers, body: c.body, signal, cf: CF.iad } as RequestInit));
    const bytes = new Uint8Array(await res.arrayBuffer());
    // Audio is binary: only text answers are read for stack traces.
    const binary = (res.headers.get('content-type') ?? '').startsWith('audio/');
    return { status: res.status, node: res.headers.get('x-router-node'), text: binary ? '' : new TextDecoder().decode(bytes) };
  })();
  return Promise.race([answer, timedOut]);
}

interface Usage {
  inFlight: number;
  window: { requests: number; tokens: number };
  spend: { heldUsd: number };
}
const usageOf = async (id: string) => (await admin(`/keys/${id}/usage`)).json<Usage>();

/** The key's slot and spend free again (settlement runs after the answer, in waitUntil): bounded poll. */
async function released(id: string): Promise<Usage> {
  let u = await usageOf(id);
  for (let i = 0; i < 40 && (u.inFlight !== 0 || u.spend.heldUsd !== 0); i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    u = await usageOf(id);
  }
  return u;
}

it(`keeps the error promise for mutated bodies on every POST endpoint (seed ${SEED}), and holds nothing after`, async () => {
  await resetWorld();
  // One slot, so a slot left held would refuse the very next request; spend counted (claude-x is priced).
  const { key, id } = await newKey({ limits: { concurrency: 1, rpm: 100_000, tpm: 50_000_000, dailyUsd: 1_000 } });
  const r = rng(SEED);
  const cases: Case[] = [
    ...JSON_TARGETS.flatMap((t) => Array.from({ length: CASES }, () => jsonCase(t, r))),
    ...['/v1/audio/transcriptions', '/v1/audio/translations'].flatMap((p) => Array.from({ length: CASES / 2 }, () => formCase(p, r))),
  ];
  const failures: string[] = [];
  const statuses: Record<number, number> = {};
  for (const [i, c] of cases.entries()) {
    const where = `seed ${SEED} case ${i} POST ${c.path} [${c.label}]`;
    let seen: Seen;
    try {
      seen = await send(c, key);
    } catch (err) {
      // A hang is reported at once: more of them would only run the test out of time.
      failures.push(`${where}: ${String(err)}\n  body: ${new TextDecoder().decode(c.body.subarray(0, 600))}`);
      break;
    }
    statuses[seen.status] = (statuses[seen.status] ?? 0) + 1;
    const wrong = problem(c, seen);
    if (wrong) failures.push(`${where}: ${wrong} — ${seen.status} ${seen.text.slice(0, 300)}\n  body: ${new TextDecoder().decode(c.body.subarray(0, 600))}`);
    const after = await released(id);
    if (after.inFlight !== 0 || after.spend.heldUsd !== 0) {
      failures.push(`${where}: left held — inFlight ${after.inFlight}, heldUsd ${after.spend.heldUsd}`);
      break;
    }
  }
  // Then side by side, 8 at a time: the one slot refuses most (429), and the refusals, the
  // admitted and their settlements interleave; still nothing may stay held.
  // Half of them unmutated, so that they reach admission together.
  const valid = (t: JsonTarget): Case => ({ path: t.path, face: t.face, label: 'unchanged', body: encoder.encode(JSON.stringify(r.pick(t.seeds))), contentType: 'application/json', headers: {}, mustRefuse: null });
  const burst = JSON_TARGETS.flatMap((t) => Array.from({ length: 4 }, () => (r.chance(0.5) ? valid(t) : jsonCase(t, r))));
  for (let at = 0; at < burst.length && failures.length === 0; at += 8) {
    const batch = burst.slice(at, at + 8);
    const answers = await Promise.allSettled(batch.map((c) => send(c, key)));
    answers.forEach((a, j) => {
      const c = batch[j]!;
      const where = `seed ${SEED} burst case ${at + j} POST ${c.path} [${c.label}]`;
      if (a.status === 'rejected') failures.push(`${where}: ${String(a.reason)}`);
      else {
        statuses[a.value.status] = (statuses[a.value.status] ?? 0) + 1;
        const wrong = problem(c, a.value);
        if (wrong) failures.push(`${where}: ${wrong} — ${a.value.status} ${a.value.text.slice(0, 300)}`);
      }
    });
  }
  const afterBurst = await released(id);
  if (afterBurst.inFlight !== 0 || afterBurst.spend.heldUsd !== 0) failures.push(`seed ${SEED} burst: left held — inFlight ${afterBurst.inFlight}, heldUsd ${afterBurst.spend.heldUsd}`);
  expect(failures, `statuses ${JSON.stringify(statuses)}`).toEqual([]);
  // Nothing held: the one-slot key makes an ordinary request.
  const res = await exports.default.fetch(
    new Request('https://router.test/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-x', messages: [userMsg('Still there?')], max_tokens: 8 }),
      cf: CF.iad,
    } as RequestInit),
  );
  expect(res.status, await res.clone().text()).toBe(200);
  await res.arrayBuffer();
  const end = await released(id);
  expect({ inFlight: end.inFlight, heldUsd: end.spend.heldUsd }).toEqual({ inFlight: 0, heldUsd: 0 });
  // A mix that reached nodes as well as refusals (a fuzz of 400s alone would test the parser only).
  expect(statuses[200] ?? 0).toBeGreaterThan(20);
}, 120_000);
