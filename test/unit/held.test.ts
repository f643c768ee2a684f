import { describe, expect, it } from 'vitest';
import { CORROBORATION_MS, heldFaults, requestMayCause, UnservedKeys } from '../../src/forward/held';
import { classify, type AttemptOutcome, type Verdict } from '../../src/forward/outcome';

const retry = (outcome: AttemptOutcome) => classify(outcome) as Extract<Verdict, { action: 'retry' }>;
const response = (status: number): AttemptOutcome => ({ kind: 'response', status, headers: new Headers() });

describe('requestMayCause: what is held until the walk ends', () => {
  it.each([500, 502, 503, 504, 408])('holds HTTP %i: a request the node chokes on gets one', (status) => {
    expect(requestMayCause(response(status), retry(response(status)))).toBe(true);
  });

  it('holds a timeout, a stream ended before its first chunk, and an answer lost after its headers', () => {
    for (const outcome of [
      { kind: 'timeout', afterMs: 600, stream: true },
      { kind: 'empty-stream' },
      { kind: 'network', message: 'Network connection lost.', answering: true },
    ] as AttemptOutcome[]) {
      expect(requestMayCause(outcome, retry(outcome))).toBe(true);
    }
  });

  it('holds a 200 stream that opened with a node error (vLLM\'s engine failure)', () => {
    expect(requestMayCause(response(200), { action: 'retry', reason: 'stream opened with an error (500)', nodeFault: true })).toBe(true);
  });

  it('counts at once what no request can cause: a failed connection, a redirect, the node\'s credential refused', () => {
    const failed: AttemptOutcome = { kind: 'network', message: 'Network connection lost.' };
    expect(requestMayCause(failed, retry(failed))).toBe(false);
    for (const status of [302, 401, 403]) expect(requestMayCause(response(status), retry(response(status)))).toBe(false);
  });

  it('counts at once a provider\'s node faults on a 4xx (Anthropic 402 billing, Azure 404 DeploymentNotFound)', () => {
    expect(requestMayCause(response(404), { action: 'retry', reason: 'HTTP 404 (azure node fault)', nodeFault: true })).toBe(false);
  });

  it('holds nothing that is not a node fault (a 429 cools its node at once, as before)', () => {
    expect(requestMayCause(response(429), retry(response(429)))).toBe(false);
  });
});

describe('heldFaults: what a walk\'s end records', () => {
  const us = { nodeId: 'n-us' };
  const eu = { nodeId: 'n-eu' };

  it('records every held fault, in order, once an attempt is accepted: the request could be served', () => {
    expect(heldFaults([us, eu], 'served')).toEqual([us, eu]);
  });

  it('records none when the request fails on two nodes or more: the request is the likely cause', () => {
    expect(heldFaults([us, eu], 'unserved')).toEqual([]);
    expect(heldFaults([us, eu, us], 'unserved')).toEqual([]);
  });

  it('records a failure on one node only as before: nothing tells the node and the request apart', () => {
    expect(heldFaults([us], 'unserved')).toEqual([us]);
    expect(heldFaults([us, us], 'unserved')).toEqual([us, us]); // a model's only node, tried again
  });

  it('records none on one node of a walk pinned to it or cut short with other nodes left, unless corroborated', () => {
    // One caller can cut a walk to its nearest node (a generation past the deadline, a drained retry budget).
    for (const narrowed of ['cut', 'pinned'] as const) {
      expect(heldFaults([us], 'unserved', new Set(), narrowed)).toEqual([]);
      expect(heldFaults([us], 'unserved', new Set(['n-us']), narrowed)).toEqual([us]);
      expect(heldFaults([us], 'served', new Set(), narrowed)).toEqual([us]);
    }
  });

  it('records none when the caller ended the walk: a node answered with its error, or it left', () => {
    expect(heldFaults([us], 'callers')).toEqual([]);
    expect(heldFaults([us, eu], 'callers')).toEqual([]);
  });

  it('records nothing when nothing was held', () => {
    expect(heldFaults([], 'unserved')).toEqual([]);
  });
});

describe('UnservedKeys: when inconclusive walks corroborate each other', () => {
  it('takes three distinct keys within the window on the same node; one key repeating is still one', () => {
    const keys = new UnservedKeys();
    expect(keys.note('a', ['n-us'], 0)).toEqual(new Set());
    expect(keys.note('a', ['n-us'], 1_000)).toEqual(new Set());
    expect(keys.note('b', ['n-us', 'n-eu'], 2_000)).toEqual(new Set());
    expect(keys.note('c', ['n-us', 'n-eu'], 3_000)).toEqual(new Set(['n-us']));
  });

  it('forgets keys older than the window', () => {
    const keys = new UnservedKeys();
    keys.note('a', ['n-us'], 0);
    keys.note('b', ['n-us'], 1_000);
    expect(keys.note('c', ['n-us'], CORROBORATION_MS + 500)).toEqual(new Set()); // a has expired
    expect(keys.note('d', ['n-us'], CORROBORATION_MS + 600)).toEqual(new Set(['n-us'])); // b, c, d
  });

  it('does not lend one node\'s keys to another: two keys failing on n-ap leave a third key\'s n-us faults alone', () => {
    const keys = new UnservedKeys();
    keys.note('a', ['n-ap', 'n-solo'], 0);
    keys.note('b', ['n-ap', 'n-solo'], 0);
    expect(keys.note('attacker', ['n-us', 'n-eu'], 0)).toEqual(new Set());
  });

  it('a corroborated end counts the held faults of the corroborated nodes only', () => {
    const us = { nodeId: 'n-us' };
    const eu = { nodeId: 'n-eu' };
    expect(heldFaults([us, eu], 'unserved', new Set(['n-us', 'n-eu']))).toEqual([us, eu]);
    expect(heldFaults([us, eu], 'unserved', new Set(['n-eu']))).toEqual([eu]);
    expect(heldFaults([us, eu], 'callers', new Set(['n-us', 'n-eu']))).toEqual([]);
  });
});
