/**
 * A too-large upload from Node's own `fetch`, over real loopback TCP to the router in
 * workerd (Miniflare, started by `bench/harness.ts` as the bench does): the client reads a 413 in the OpenAI
 * error shape, not a connection reset. In the workerd test pool a request never crosses a
 * socket, so this one cannot live there. Node's fetch writes its whole body before reading
 * the answer: a router that answers without reading the upload resets it mid-write (EPIPE).
 */
import type { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleRouter, mintKey, startRouter } from '../../../bench/harness.ts';

const MiB = 1_048_576;
let mf: Miniflare;
let url: string;
let key: string;

beforeAll(async () => {
  // No node is ever reached: the body is refused before routing.
  const config = { nodes: [{ id: 'n1', baseUrl: 'http://127.0.0.1:9/v1', region: 'x', lat: 0, lon: 0, models: ['gpt-4o-mini'], apiKeyEnv: 'NODE_KEY' }], limits: { maxBodyBytes: MiB } };
  mf = startRouter(bundleRouter(), config);
  url = (await mf.ready).origin;
  key = await mintKey(url);
}, 60_000);

afterAll(async () => {
  await mf?.dispose();
});

async function expect413(body: BodyInit) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body,
    duplex: 'half',
  } as RequestInit);
  expect(res.status).toBe(413);
  expect(await res.json()).toEqual({
    error: { message: 'Request body is larger than the 1048576-byte limit.', type: 'invalid_request_error', param: null, code: 'request_too_large' },
  });
}

// Whether the old router's early answer reset the upload depended on timing; each size, in each
// framing, made it likely (8 and 30 MiB reset most often in a loaded run).
const SIZES_MIB = [8, 30, 60];

describe('a too-large upload over loopback from Node fetch', () => {
  it(`with Content-Length (${SIZES_MIB.join(', ')} MiB): the client reads the 413, not a reset`, async () => {
    for (const size of SIZES_MIB) await expect413(new Uint8Array(size * MiB).fill(32));
  }, 90_000);

  it(`chunked, no Content-Length (${SIZES_MIB.join(', ')} MiB): the client reads the 413, not a reset`, async () => {
    for (const size of SIZES_MIB) {
      let sent = 0;
      const piece = new Uint8Array(MiB).fill(32);
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < size) controller.enqueue(piece);
          else controller.close();
        },
      });
      await expect413(stream);
    }
  }, 90_000);
});
