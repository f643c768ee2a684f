import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmacSha256 } from '../../src/openai/hmac-sha256';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const utf8 = (text: string) => new TextEncoder().encode(text);

describe('hmacSha256 (synchronous, for tagging ids inside the stream)', () => {
  it('matches RFC 4231 test cases 1, 2 and 6 (long key hashed first)', () => {
    expect(hex(hmacSha256(new Uint8Array(20).fill(0x0b))(utf8('Hi There')))).toBe('b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
    expect(hex(hmacSha256(utf8('Jefe'))(utf8('what do ya want for nothing?')))).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
    expect(hex(hmacSha256(new Uint8Array(131).fill(0xaa))(utf8('Test Using Larger Than Block-Size Key - Hash Key First')))).toBe(
      '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
    );
  });

  it('matches node:crypto for every message length across the padding boundaries, one key reused', () => {
    const key = utf8('a-router-secret-of-some-length-0123456789');
    const mac = hmacSha256(key);
    for (let length = 0; length < 200; length++) {
      const message = Uint8Array.from({ length }, (_, i) => (i * 31 + length) & 0xff);
      expect(hex(mac(message))).toBe(createHmac('sha256', key).update(message).digest('hex'));
    }
  });
});
