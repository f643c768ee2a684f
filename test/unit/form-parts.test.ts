/** `form-parts.ts`: delimiter lines counted on a form's bytes, its boundary quoted or not. */
import { describe, expect, it } from 'vitest';
import { checkFormParts, delimiterCount, MAX_FORM_PARTS } from '../../src/http/form-parts';

const bytes = (text: string) => new TextEncoder().encode(text);
const part = (b: string, name: string) => `--${b}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\nv\r\n`;

describe('delimiterCount', () => {
  it('counts the first line and every line that starts with --boundary, the closing one too; not a longer boundary\'s prefix in text', () => {
    expect(delimiterCount(bytes(part('b', 'x') + part('b', 'y') + '--b--\r\n'), 'b')).toBe(3);
    expect(delimiterCount(bytes('preamble\r\n' + part('b', 'x') + '--b--'), 'b')).toBe(2);
    expect(delimiterCount(bytes(part('b', 'x') + 'text --b inside\r\n-b\r\n--c\r\n--b--'), 'b')).toBe(2);
  });

  it('stops counting past stopAfter', () => {
    const many = Array.from({ length: 1_000 }, (_, i) => part('b', `k${i}`)).join('');
    expect(delimiterCount(bytes(many), 'b', 10)).toBe(11);
  });
});

describe('checkFormParts', () => {
  const form = (b: string, n: number) => bytes(Array.from({ length: n }, (_, i) => part(b, `k${i}`)).join('') + `--${b}--\r\n`);

  it(`refuses more than ${MAX_FORM_PARTS} parts, with the boundary quoted or not`, () => {
    expect(() => checkFormParts(form('q b', MAX_FORM_PARTS + 1), 'multipart/form-data; boundary="q b"')).toThrow(/more than 64 parts/);
    expect(() => checkFormParts(form('xyz', MAX_FORM_PARTS + 1), 'multipart/form-data; charset=utf-8; Boundary=xyz')).toThrow(/more than 64 parts/);
  });

  it(`takes ${MAX_FORM_PARTS} parts and names the boundary it counted by for the parser; refuses a form with no usable boundary`, () => {
    expect(checkFormParts(form('xyz', MAX_FORM_PARTS), 'multipart/form-data; boundary=xyz')).toBe('multipart/form-data; boundary="xyz"');
    expect(checkFormParts(form('q b', 2), 'Multipart/Form-Data; boundary="q b"')).toBe('multipart/form-data; boundary="q b"');
    expect(() => checkFormParts(form('xyz', 200), 'multipart/form-data')).toThrow(/boundary/);
    expect(() => checkFormParts(form('a', 2), 'multipart/form-data; boundary="\\a"')).toThrow(/boundary/);
    // Whatever the parser would take for a form is counted: a type that only starts like one too.
    expect(() => checkFormParts(form('a', 200), 'multipart/form-dataX; boundary=a')).toThrow(/more than 64 parts/);
    // Not a form: left to the parser, which refuses it.
    expect(checkFormParts(bytes('{}'), 'application/json')).toBe('application/json');
  });
});
