/**
 * `json-shape.ts`: a body's depth and count of objects and arrays are read from its bytes
 * before `JSON.parse` builds it; brackets inside strings (escaped quotes included) are text.
 */
import { describe, expect, it } from 'vitest';
import { BYTES_PER_CONTAINER, checkJsonShape, CONTAINER_FLOOR, jsonShapeFault, SHAPE_CHECK_BYTES } from '../../src/http/json-shape';

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
