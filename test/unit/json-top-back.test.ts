/**
 * The backward walk that settlement reads an answer's usage with (`json-top-back.ts`): the
 * answer's own last top-level member, never text a caller or model put in a string or a
 * nested object — checked on hand-made adversarial answers and against `JSON.parse` on
 * generated ones.
 */
import { describe, expect, it } from 'vitest';
import { lastTopLevelMember } from '../../src/http/json-top-back';
import { spanValue, topLevelMembers } from '../../src/http/json-top';
import { usageFromJson, usageOfReported } from '../../src/forward/usage';
import { rng } from '../../bench/rng';

const bytes = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const usage = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 };
const fake = '"usage":{"prompt_tokens":0,"completion_tokens":0}';
const backValue = (text: Uint8Array, name = 'usage') => {
  const span = lastTopLevelMember(text, name);
  return span ? spanValue(text, span) : span;
};

describe('lastTopLevelMember', () => {
  it('takes the real usage, not one quoted in the content after it', () => {
    const answer = { choices: [{ message: { content: `x ${fake}}` } }], usage, system_fingerprint: `fp ${fake}` };
    expect(backValue(bytes(answer))).toEqual(usage);
  });

  it('crosses a string ending in escaped backslashes, and one with escaped quotes before them', () => {
    const answer = { usage, a: 'C:\\', b: 'say \\"', c: '\\\\"\\', d: `\\",${fake},"x":"\\` };
    expect(backValue(bytes(answer))).toEqual(usage);
  });

  it('a last string member that spells the end of an object with a usage in it', () => {
    const text = bytes(`{"usage":{"prompt_tokens":5,"completion_tokens":1},"system_fingerprint":"x\\",${fake.replace(/"/g, '\\"')}}"}`);
    expect(JSON.parse(new TextDecoder().decode(text)).usage.prompt_tokens).toBe(5);
    expect((backValue(text) as { prompt_tokens: number }).prompt_tokens).toBe(5);
  });

  it('skips a nested usage after the real one (Responses metadata)', () => {
    const answer = { output: [], usage, metadata: { usage: { input_tokens: 0, output_tokens: 0 } }, user: null };
    expect(backValue(bytes(answer))).toEqual(usage);
  });

  it('takes the last of a repeated top-level usage, as JSON.parse does, escaped names included', () => {
    expect(backValue(bytes('{"usage":{"prompt_tokens":1},"n":2,"usage":{"prompt_tokens":3}}'))).toEqual({ prompt_tokens: 3 });
    expect(backValue(bytes('{"usage":1,"us\\u0061ge":2}'))).toBe(2);
    expect(backValue(bytes('{"us\\u0061ge":2,"usage":1}'))).toBe(1);
  });

  it('reads numbers and literals, with whitespace anywhere between tokens', () => {
    expect(backValue(bytes(' {\n "usage" :\t-1.5e3 , "z": null ,"t":true }\r\n'))).toBe(-1500);
    expect(backValue(bytes('{"usage":false}'))).toBe(false);
  });

  it('no top-level usage, an empty object or no object at all: none', () => {
    expect(lastTopLevelMember(bytes({ metadata: { usage }, text: fake }), 'usage')).toBeUndefined();
    expect(lastTopLevelMember(bytes('{}'), 'usage')).toBeUndefined();
    expect(lastTopLevelMember(bytes('[{"usage":1}]'), 'usage')).toBeUndefined();
  });

  it('gives up (for the forward scan) on text no serialiser writes, in what it crosses', () => {
    for (const text of ['{"usage":1', '{"usage" 1}', '{"a":1 "b":2}', '{"usage":1}}', '{"usage":"x}', '{"u\\x":1}']) {
      expect(lastTopLevelMember(bytes(text), 'usage'), text).toBeNull();
    }
  });
});

/** A random JSON value whose strings are full of quotes, backslashes, brackets and usage look-alikes. */
function randomValue(next: () => number, depth: number): unknown {
  const pick = <T>(xs: T[]) => xs[Math.floor(next() * xs.length)]!;
  const str = () => Array.from({ length: Math.floor(next() * 6) }, () => pick(['"', '\\', '\\"', '{', '}', '[', ']', ',', ':', 'usage', fake, 'é', ' '])).join('');
  const kind = depth > 2 ? Math.floor(next() * 3) : Math.floor(next() * 5);
  if (kind === 0) return str();
  if (kind === 1) return pick([0, -1.5, 1e21, true, false, null]);
  if (kind === 2) return Math.floor(next() * 1000);
  if (kind === 3) return Array.from({ length: Math.floor(next() * 3) }, () => randomValue(next, depth + 1));
  return randomObject(next, depth + 1);
}

function randomObject(next: () => number, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const names = ['usage', 'choices', 'metadata', 'a"b', 'c\\', 'id'];
  for (let n = Math.floor(next() * 5); n > 0; n--) out[names[Math.floor(next() * names.length)]!] = randomValue(next, depth);
  if (next() < 0.6) out.usage = next() < 0.8 ? { prompt_tokens: Math.floor(next() * 100), completion_tokens: 3 } : randomValue(next, depth);
  return out;
}

describe('agrees with JSON.parse', () => {
  it('on 3,000 generated answers, serialised compactly and indented, with repeated names spliced in', () => {
    const next = rng(19);
    for (let n = 0; n < 3_000; n++) {
      const answer = randomObject(next, 0);
      let text = n % 3 === 1 ? JSON.stringify(answer, null, 2) : JSON.stringify(answer);
      // A repeated top-level usage (JSON.stringify never writes one): the last must win.
      if (n % 3 === 2 && text.length > 2) text = `{"usage":{"prompt_tokens":999,"completion_tokens":0},${text.slice(1)}`.replace(/,}$/, '}');
      const expected = (JSON.parse(text) as { usage?: unknown }).usage;
      const encoded = bytes(text);
      const span = lastTopLevelMember(encoded, 'usage');
      expect(span, text).not.toBeNull();
      expect(spanValue(encoded, span ?? undefined), text).toEqual(expected);
      expect(span, text).toEqual(topLevelMembers(encoded, ['usage']).get('usage'));
      expect(usageFromJson(encoded), text).toEqual(usageOfReported(expected));
    }
  });
});
