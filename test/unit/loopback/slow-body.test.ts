/**
 * A slow client over real loopback TCP to the router in workerd (Miniflare, as the bench
 * starts it): a request that declares its body's length and then stalls — read by the
 * runtime in one native call, which the router cannot cancel — is answered with the 408 at
 * `limits.bodyReadMs`, and the runtime closes the connection, ending the read the router let
 * go of. In the workerd test pool a request never crosses a socket, so this cannot live there.
 */
import type { Miniflare } from 'miniflare';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleRouter, mintKey, startRouter } from '../../../bench/harness.ts';

const READ_MS = 600;
let mf: Miniflare;
let url: URL;
let key: string;

beforeAll(async () => {
  // No node is ever reached: the body never arrives.
  const config = {
    nodes: [{ id: 'n1', baseUrl: 'http://127.0.0.1:9/v1', region: 'x', lat: 0, lon: 0, models: ['gpt-4o-mini'], apiKeyEnv: 'NODE_KEY' }],
    limits: { maxBodyBytes: 4 * 1_048_576, bodyReadMs: READ_MS },
  };
  mf = startRouter(bundleRouter(), config);
  url = await mf.ready;
  key = await mintKey(url.origin);
}, 60_000);

afterAll(async () => {
  await mf?.dispose();
});

/** Sends the head of a POST declaring `length` bytes and `sent` of them; resolves with what came back and when the socket closed. */
function stallAfter(length: number, sent: string): Promise<{ answer: string; answeredMs: number; closedMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let answer = '';
    let answeredMs = -1;
    const socket: Socket = connect(Number(url.port), url.hostname, () => {
      socket.write(
        `POST /v1/chat/completions HTTP/1.1\r\nhost: ${url.host}\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n${sent}`,
      );
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      if (answeredMs < 0) answeredMs = Date.now() - started;
      answer += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve({ answer, answeredMs, closedMs: Date.now() - started }));
    setTimeout(() => (socket.destroy(), reject(new Error(`no close within 10 s; got: ${answer.slice(0, 200)}`))), 10_000);
  });
}

describe('a client that declares its body and stalls, over loopback', () => {
  for (const [label, length] of [['small (100 KiB)', 100 * 1024], ['large (3 MiB, held in the body budget)', 3 * 1_048_576]] as const) {
    it(`${label}: a 408 request_timeout at bodyReadMs, then the connection is closed`, async () => {
      const { answer, answeredMs, closedMs } = await stallAfter(length, '{"model":"gpt-4o-mini","messages":');
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(answer).toContain('"code":"request_timeout"');
      expect(answeredMs).toBeGreaterThanOrEqual(READ_MS - 50);
      expect(answeredMs).toBeLessThan(READ_MS + 2_000);
      expect(closedMs).toBeLessThan(READ_MS + 4_000);
    }, 20_000);
  }
});
