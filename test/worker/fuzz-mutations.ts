/**
 * What the fuzz test does to a valid body (`fuzz.test.ts`): mutations of its tree (a name
 * dropped, given twice, escaped or spelt in another case; a value of another type, an odd
 * number, nesting, an empty container, a long string, a lone surrogate, a part or tool of
 * another API), of its text (truncated, a BOM, trailing garbage, a stray character) and of
 * its bytes (not UTF-8). Each says what it did, for the failure message.
 */
import { emit, Obj, objects, Raw, slots, tree, type Rng, type Value } from './fuzz-tree';

// ---------------------------------------------------------------- mutations

const ODD_NUMBERS = ['1e400', '-1e400', '1e-400', '-0', '0.0', '1.5', '-1', '0', '9007199254740993', '1E+2', '2147483648', '1' + '0'.repeat(330), '4294967297', '0.1e1'];
const NOT_JSON_NUMBERS = ['NaN', 'Infinity', '-Infinity', '0x10', '+1', '.5', '01', '1.', 'undefined'];
export const MODELS = ['gpt-4o-mini', 'mini', 'claude-x', 'claude-solo', 'solo-model', 'text-embedding-3-small', 'azure-v1', 'gpt-image-1', 'nope-model', '', ' gpt-4o-mini', 'GPT-4O-MINI', 'gpt-4o-mini\u0000'];
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
  r.pick([name.toUpperCase(), name[0] ? name[0].toUpperCase() + name.slice(1) : name, name.replace(/s/, 'ſ'), name.replace(/k/, '\u212a')]);
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

export type Mutation = (root: Value, r: Rng) => string | null;

export const MUTATIONS: Record<string, Mutation> = {
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
export const TEXT_MUTATIONS: Record<string, (text: string, r: Rng) => { text: string; label: string }> = {
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
export function badUtf8(bytes: Uint8Array, r: Rng): { bytes: Uint8Array; label: string } {
  const quotes = bytes.reduce<number[]>((at, b, i) => (b === 0x22 ? [...at, i] : at), []);
  const at = quotes.length ? r.pick(quotes) + 1 : r.int(bytes.length);
  const bad = r.pick([[0x80], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xff, 0xfe], [0xf4, 0x90, 0x80, 0x80]]);
  const out = new Uint8Array(bytes.length + bad.length);
  out.set(bytes.subarray(0, at));
  out.set(bad, at);
  out.set(bytes.subarray(at), at + bad.length);
  return { bytes: out, label: `bytes ${bad.map((b) => b.toString(16)).join(' ')} at ${at}` };
}

export const BETAS = ['', ',', ' , ,', 'context-1m-2025-08-07', 'CONTEXT-1M-2025-08-07', 'interleaved-thinking-2025-05-14,token-efficient-tools-2025-02-19', 'x'.repeat(4_000), 'web-search-2025-03-05, context-1m-x'];
export const CONTENT_TYPES = ['text/plain', '', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/xml', 'APPLICATION/JSON'];
