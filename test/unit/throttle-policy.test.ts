import { describe, expect, it } from 'vitest';
import { addressSubject, throttleState } from '../../src/auth/throttle-policy';

describe('throttleState', () => {
  it('refuses from the limit-th failure in the window until that one leaves it', () => {
    expect(throttleState([100, 200], 300, 3, 1_000)).toEqual({ failures: 2, retryAfterMs: 0 });
    expect(throttleState([100, 200, 250], 300, 3, 1_000)).toEqual({ failures: 3, retryAfterMs: 800 });
    // Failures older than the window do not count.
    expect(throttleState([100, 200, 250], 1_150, 3, 1_000)).toEqual({ failures: 2, retryAfterMs: 0 });
    // Past the limit (a pressured limit below what was counted): the wait is until the count is below it.
    expect(throttleState([100, 200, 250, 260], 300, 2, 1_000)).toEqual({ failures: 4, retryAfterMs: 950 });
  });
});

describe('addressSubject', () => {
  it('IPv4 as itself; IPv6 by its /64, however it is written; mapped IPv4 as IPv4; none as "-"', () => {
    expect(addressSubject('203.0.113.7')).toBe('203.0.113.7');
    expect(addressSubject('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressSubject('2001:0DB8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressSubject('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressSubject('::ffff:198.51.100.4')).toBe('198.51.100.4');
    expect(addressSubject('::1')).toBe('0:0:0:0::/64');
    expect(addressSubject(null)).toBe('-');
    expect(addressSubject('  ')).toBe('-');
    expect(addressSubject('1::2::3')).toBe('1::2::3');
    expect(addressSubject('x'.repeat(500))).toHaveLength(64);
  });
});
