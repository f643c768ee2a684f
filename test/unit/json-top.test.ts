import { describe, expect, it } from 'vitest';
import { topLevelMembers, topLevelValue } from '../../src/http/json-top';
import { usageFromJson } from '../../src/forward/usage';

const bytes = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const realUsage = { input_tokens: 120, output_tokens: 30, total_tokens: 150 };

describe('topLevelMembers', () => {
  it('finds a top-level member and skips same-named members nested deeper', () => {
    const text = bytes({ a: { usage: 1 }, b: [{ usage: 2 }], usage: { x: 3 }, c: 'usage' });
    expect(topLevelValue(text, 'usage')).toEqual({ x: 3 });
  });

  it('reads numbers, literals and strings as values, whitespace around them', () => {
    const text = bytes('{ "n" : -1.5e3 , "t":true,"z" :null, "s":"a\\"b" }');
    expect(['n', 't', 'z', 's'].map((k) => topLevelValue(text, k))).toEqual([-1500, true, null, 'a"b']);
  });

  it('is not fooled by quotes, braces and backslashes inside strings', () => {
    const text = bytes('{"a":"he said \\"}\\" {\\\\","b":"\\\\","usage":{"k":1}}');
    expect(topLevelValue(text, 'usage')).toEqual({ k: 1 });
  });

  it('takes the last of a repeated name, as JSON.parse does, and unescapes names', () => {
    expect(topLevelValue(bytes('{"usage":1,"us\\u0061ge":2}'), 'usage')).toBe(2);
  });

  it('has no members when the text is not an object', () => {
    expect(topLevelMembers(bytes('[{"usage":1}]'), ['usage']).size).toBe(0);
  });

  it('reads within a span of a larger text', () => {
    const text = bytes({ type: 'response.completed', response: { output: [{ usage: 0 }], usage: realUsage, metadata: { usage: '{}' } } });
    const span = topLevelMembers(text, ['response']).get('response')!;
    expect(topLevelValue(text, 'usage', span.start, span.end)).toEqual(realUsage);
  });
});

describe('usageFromJson reads the answer\'s own usage, never caller text', () => {
  it('a Responses object whose metadata (after usage, as OpenAI orders it) holds "usage": "{}"', () => {
    const answer = { id: 'resp_1', object: 'response', output: [], usage: realUsage, metadata: { usage: '{}' } };
    expect(usageFromJson(bytes(answer))).toEqual({ prompt_tokens: 120, completion_tokens: 30, total_tokens: 150 });
  });

  it('metadata holding text that looks like a usage object with zero tokens', () => {
    const answer = { id: 'resp_1', output: [], usage: realUsage, metadata: { note: '"usage":{"input_tokens":0,"output_tokens":0}' } };
    expect(usageFromJson(bytes(answer))?.prompt_tokens).toBe(120);
  });

  it('model output quoting a usage object, after the real one in a big answer', () => {
    const answer = { usage: realUsage, choices: [{ message: { content: 'x'.repeat(50_000) + '"usage":{"prompt_tokens":0,"completion_tokens":0}' } }] };
    expect(usageFromJson(bytes(answer))?.completion_tokens).toBe(30);
  });

  it('no top-level usage: unknown (the request settles at its reservation), even if nested text has one', () => {
    expect(usageFromJson(bytes({ metadata: { usage: { input_tokens: 0, output_tokens: 0 } } }))).toBeUndefined();
    expect(usageFromJson(bytes({ usage: '{"input_tokens":0,"output_tokens":0}' }))).toBeUndefined();
  });
});
