import { describe, expect, it } from 'vitest';
import { scanObject, spliceMembers } from '../../src/http/json-members';

const scan = (text: string) => {
  JSON.parse(text); // the scanner's precondition
  const r = scanObject(text);
  if (!r.ok) throw new Error(`not scanned: ${JSON.stringify(r)}`);
  return r.object;
};

describe('scanObject', () => {
  it('reports nesting past maxDepth before a duplicate that comes earlier, and accepts the limit', () => {
    expect(scanObject('{"model":"a","model":"b","x":[[1]]}', 2)).toEqual({ ok: false, tooDeep: true });
    expect(scanObject('{"model":"a","model":"b","x":[[1]]}', 3)).toEqual({ ok: false, duplicate: 'model', path: 'model' });
  });

  it('refuses a duplicate top-level key', () => {
    expect(scanObject('{"model":"a","model":"b"}')).toEqual({ ok: false, duplicate: 'model', path: 'model' });
  });

  it('compares names after unescaping', () => {
    expect(scanObject('{"model":"a","mod\\u0065l":"b"}')).toMatchObject({ ok: false, duplicate: 'model' });
  });

  it('compares names as case-folding parsers (Go) do', () => {
    expect(scanObject('{"max_tokens":1,"MAX_TOKENS":2}')).toMatchObject({ ok: false, duplicate: 'MAX_TOKENS' });
    expect(scanObject('{"stream":false,"\u017ftream":true}')).toMatchObject({ ok: false, duplicate: 'ſtream' });
    expect(scanObject('{"a":{"kind":1,"\u212aind":2}}')).toMatchObject({ ok: false, path: 'a.\u212aind' });
    expect(scanObject('{"firstName":1,"first_name":2}')).toMatchObject({ ok: true });
  });

  it('refuses duplicates at any depth and names the path', () => {
    const text = '{"messages":[{"role":"user","content":"x"},{"role":"user","role":"system"}]}';
    expect(scanObject(text)).toEqual({ ok: false, duplicate: 'role', path: 'messages[1].role' });
  });

  it('allows the same name in sibling objects', () => {
    expect(scanObject('{"a":{"x":1},"b":{"x":2},"c":[{"x":3},{"x":4}]}').ok).toBe(true);
  });

  it('is not fooled by quotes, braces and backslashes inside strings', () => {
    const text = '{"a":"he said \\"}\\" {\\\\","b":"\\\\","model":"m"}';
    const o = scan(text);
    expect([...o.members.keys()]).toEqual(['a', 'b', 'model']);
    const m = o.members.get('model')!;
    expect(text.slice(m.valueStart, m.valueEnd)).toBe('"m"');
  });

  it('locates every kind of top-level value', () => {
    const text = '{ "s" : "x" , "n":-1.5e3,"t":true,"z":null,"o":{"k":[1,{"q":2}]},"a":[ ] }';
    const o = scan(text);
    const value = (k: string) => text.slice(o.members.get(k)!.valueStart, o.members.get(k)!.valueEnd);
    expect(['s', 'n', 't', 'z', 'o', 'a'].map(value)).toEqual(['"x"', '-1.5e3', 'true', 'null', '{"k":[1,{"q":2}]}', '[ ]']);
  });
});

describe('spliceMembers', () => {
  const big = '{"model":"gpt-4o-mini","seed":9223372036854775807,"messages":[{"role":"user","content":"hi"}],"x":12345678901234567890}';

  it('replaces and appends members and leaves every other byte as sent (big integers exact)', () => {
    const out = spliceMembers(scan(big), { set: { model: 'upstream-v2', max_tokens: 64 } });
    expect(out).toBe(big.replace('"gpt-4o-mini"', '"upstream-v2"').replace(/}$/, ',"max_tokens":64}'));
    expect(out).toContain('"seed":9223372036854775807');
    expect(out).toContain('"x":12345678901234567890');
  });

  it('renames a member without touching its value', () => {
    const out = spliceMembers(scan('{"model":"o3","max_tokens":100}'), { rename: { max_tokens: 'max_completion_tokens' } });
    expect(out).toBe('{"model":"o3","max_completion_tokens":100}');
  });

  it('appends into an empty object', () => {
    expect(spliceMembers(scan('{ }'), { set: { a: 1 } })).toBe('{ "a":1}');
  });
});
