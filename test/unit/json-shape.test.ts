/**
 * `json-shape.ts`: a body's depth and count of objects and arrays are read from its bytes
 * before `JSON.parse` builds it; brackets inside strings (escaped quotes included) are text.
 */
import { describe, expect, it } from 'vitest';
import { BYTES_PER_CONTAINER, BYTES_PER_MEMBER, checkJsonShape, CONTAINER_FLOOR, jsonShapeFault, MEMBER_FLOOR, SHAPE_CHECK_BYTES, shapeBounds } from '../../src/http/json-shape';

const bytes = (text: string) => new TextEncoder().encode(text);
const MiB = 1_048_576;

describe('jsonShapeFault', () => {
  it('nesting past maxDepth is deep, at maxDepth is fine', () => {
    expect(jsonShapeFault(bytes('{"a":[[1]]}'), 2)).toBe('deep');
    expect(jsonShapeFault(bytes('{"a":[[1]]}'), 3)).toBeUndefined();
    expect(jsonShapeFault(bytes('{"x":' + '['.repeat(MiB / 2) + ']'.repeat(MiB / 2) + '}'), 64)).toBe('deep');
  });

  it('more objects and arrays than the floor plus one per 16 bytes is wide; exactly that many is fine', () => {
    const body = (n: number) => '{"x":[' + Array(n).fill('{}').join(',') + ']}';
    // n empty objects plus the top object and the array, in 3n + 7 bytes
    const fits = (k: number) => k + 2 <= CONTAINER_FLOOR + Math.floor((3 * k + 7) / BYTES_PER_CONTAINER);
    let n = CONTAINER_FLOOR;
    while (fits(n + 1)) n++;
    expect(body(n).length).toBe(3 * n + 7);
    expect(jsonShapeFault(bytes(body(n)), 64)).toBeUndefined();
    expect(jsonShapeFault(bytes(body(n + 1)), 64)).toBe('wide');
    expect(jsonShapeFault(bytes(body(Math.floor(MiB / 3))), 64)).toBe('wide');
  });

  it('more object members than the floor plus one per 32 bytes is members; exactly that many is fine; colons in strings are text', () => {
    // n members "<6 digits>":0 in one object, beside "x": n + 1 members in 11n + 7 bytes
    const body = (n: number) => '{"x":{' + Array.from({ length: n }, (_, i) => `"${String(i).padStart(6, '0')}":0`).join(',') + '}}';
    const fits = (k: number) => k + 1 <= MEMBER_FLOOR + Math.floor((11 * k + 7) / BYTES_PER_MEMBER);
    let n = MEMBER_FLOOR;
    while (fits(n + 1)) n++;
    expect(body(n).length).toBe(11 * n + 7);
    expect(jsonShapeFault(bytes(body(n)), 64)).toBeUndefined();
    expect(jsonShapeFault(bytes(body(n + 1)), 64)).toBe('members');
    expect(jsonShapeFault(bytes(JSON.stringify({ a: ':'.repeat(MiB) })), 64)).toBeUndefined();
    expect(() => checkJsonShape(bytes(body(n + 1)), 64)).toThrow(/object members for its/);
  });

  it('array elements past the floor plus one per 4 bytes are values; 300,000 token ids for embeddings (OpenAI\'s most) are fine; commas in strings are text', () => {
    const zeros = (n: number) => bytes('{"x":[' + Array(n).fill('0').join(',') + ']}');
    expect(jsonShapeFault(zeros(2 * MiB), 64)).toBe('values');
    expect(() => checkJsonShape(zeros(2 * MiB), 64)).toThrow(/values in its arrays and objects/);
    const ids = { model: 'e', input: [Array.from({ length: 300_000 }, (_, i) => 100_000 + (i % 900_000))] };
    expect(jsonShapeFault(bytes(JSON.stringify(ids)), 64)).toBeUndefined();
    expect(jsonShapeFault(bytes(JSON.stringify({ a: ','.repeat(MiB) })), 64)).toBeUndefined();
  });

  it('bounds grow with the body up to 4 MiB and no further', () => {
    expect(shapeBounds(MiB)).toEqual({ containers: 69_632, members: 49_152, values: 327_680 });
    expect(shapeBounds(4 * MiB)).toEqual({ containers: 266_240, members: 147_456, values: 1_114_112 });
    expect(shapeBounds(16 * MiB)).toEqual(shapeBounds(4 * MiB));
  });

  it('brackets inside strings are text, escaped quotes included', () => {
    const text = JSON.stringify({ a: '[[[[{{{{"\\"[[[[', b: ['x"]]]]'] });
    expect(jsonShapeFault(bytes(text), 2)).toBeUndefined();
    expect(jsonShapeFault(bytes(JSON.stringify({ a: '['.repeat(200_000) })), 1)).toBeUndefined();
  });

  it('real requests are far from the bounds: 1 MiB of text, 500 tools, 2,048 token arrays', () => {
    const chat = { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'x'.repeat(MiB) }] }] };
    const tool = (i: number) => ({ type: 'function', function: { name: `f${i}`, parameters: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'array', items: { type: 'number' } } } } } });
    const tools = { model: 'm', messages: [{ role: 'user', content: 'Hi' }], tools: Array.from({ length: 500 }, (_, i) => tool(i)) };
    const embeddings = { model: 'e', input: Array.from({ length: 2048 }, () => [1]) };
    for (const body of [chat, tools, embeddings]) expect(jsonShapeFault(bytes(JSON.stringify(body)), 64)).toBeUndefined();
  });
});

describe('checkJsonShape', () => {
  it('refuses a wide body with a 400 naming the bound; leaves bodies under SHAPE_CHECK_BYTES to the parser', () => {
    const wide = '[' + Array(Math.floor(SHAPE_CHECK_BYTES / 3)).fill('{}').join(',') + ']';
    expect(() => checkJsonShape(bytes(wide), 64)).toThrow(/objects and arrays for its/);
    const small = '[' + Array(Math.floor(SHAPE_CHECK_BYTES / 3) - 10).fill('{}').join(',') + ']';
    expect(() => checkJsonShape(bytes(small), 64)).not.toThrow();
    expect(() => checkJsonShape(bytes('{"x":' + '['.repeat(SHAPE_CHECK_BYTES) + ']'.repeat(SHAPE_CHECK_BYTES) + '}'), 64)).toThrow(/more than 64 levels deep/);
  });
});
