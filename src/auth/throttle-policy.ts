/**
 * Pure rules of the failed-authentication throttles (`admin-throttle.ts`, `throttle-do.ts`, `keys.ts`):
 * whose failures count together, whether a count refuses, and the 429 a refusal answers.
 */

import { RouterError } from '../errors/router-error';

/**
 * The 429 a throttle of failed authentications answers (RFC 6585 §4; `Retry-After` RFC 9110
 * §10.2.3, whole seconds, rounded up): `what` happened too often from this address; `retry`
 * ends the sentence after "Retry after N s".
 */
export function attemptsThrottled(retryAfterMs: number, what: string, code: string, retry = ''): RouterError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new RouterError(429, `Too many ${what} from this address. Retry after ${seconds} s${retry}.`, {
    code,
    type: 'requests',
    headers: { 'retry-after': String(seconds), 'x-should-retry': 'false' },
  });
}

/** Where a throttle stands for one subject (an address, or all of them). */
export interface ThrottleState {
  /** Failures counted in the window, this one included if it was. */
  failures: number;
  /** 0 = not refusing; else ms until the count falls below the limit (a refusal's `Retry-After`). */
  retryAfterMs: number;
}

/**
 * The state of a subject whose failures happened at `times` (ascending, ms), against `limit`
 * failures in a sliding window of `windowMs`: refusing while `limit` or more fall in the
 * window, until the one that brought the count to the limit leaves it.
 */
export function throttleState(times: readonly number[], now: number, limit: number, windowMs: number): ThrottleState {
  const inWindow = times.filter((t) => t > now - windowMs);
  const failures = inWindow.length;
  if (failures < limit) return { failures, retryAfterMs: 0 };
  return { failures, retryAfterMs: Math.max(1, inWindow[failures - limit]! + windowMs - now) };
}

/**
 * The subject a client's failures count under: its IPv4 address, or its IPv6 address's /64
 * (one subscriber's network: an attacker holding a /64 has 2^64 addresses, each of which
 * would otherwise get a fresh allowance). IPv4-mapped IPv6 counts as the IPv4 address. No
 * address (no `CF-Connecting-IP`: not through Cloudflare's edge — `wrangler dev`, tests) is
 * `-`, one subject; anything else unparsable counts as itself, its first 64 characters.
 */
export function addressSubject(raw: string | null | undefined): string {
  const ip = raw?.trim().toLowerCase() ?? '';
  if (!ip) return '-';
  if (IPV4.test(ip)) return ip;
  const groups = ip.includes(':') ? ipv6Groups(ip.replace(/%.*$/, '')) : null;
  if (!groups) return ip.slice(0, 64);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`;
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const HEXTET = /^[0-9a-f]{1,4}$/;

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a trailing dotted quad as two), or null. */
function ipv6Groups(ip: string): number[] | null {
  const halves = ip.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string): number[] | null => {
    if (!part) return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && IPV4.test(piece)) {
        const b = piece.split('.').map(Number);
        if (b.some((x) => x > 255)) return null;
        out.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
      } else if (HEXTET.test(piece)) out.push(parseInt(piece, 16));
      else return null;
    }
    return out;
  };
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  return missing >= 1 ? [...head, ...new Array<number>(missing).fill(0), ...tail] : null;
}
