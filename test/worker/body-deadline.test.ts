/**
 * A request body must arrive whole within `limits.bodyReadMs` (`http/body.ts`): a caller who
 * stalls or trickles his body gets a 408 `request_timeout` in his API's shape, holds nothing
 * (no admission, no node, no room in the isolate's body budget) and is cut off. Real slow
 * clients: request bodies that are streams which stall (never close) or trickle (a chunk every
 * 100 ms, forever).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { heldBodyBytes } from '../../src/http/body-budget';
import { admin, callWithConfig, CF, chatBody, eventually, newKey, nodeRequests, resetWorld, testConfig } from './helpers';
import worker from '../../src/index';
import { env } from 'cloudflare:workers';
import { createExecutionContext } from 'cloudflare:test';

beforeEach(resetWorld);

const READ_MS = 500;

/** The test config (bodies up to 64 KiB: small, uncounted by the body budget) with the deadline at READ_MS. */
function config(extra: Record<string, number> = {}) {
  const c = testConfig();
  c.limits = { ...c.limits, isolateBodyBytes: 2 * 1_048_576, bodyWaitMs: 4_000, bodyReadMs: READ_MS, ...extra };
  return c;
}

/** Bodies up to 4 MiB: one sent without a length holds 4 MiB of the budget. */
const LARGE = { maxBodyBytes: 4 * 1_048_576 };

/** A body that sends `head`, then a byte every `everyMs` (never, when undefined), and never ends; `cut` resolves when the router cancels it. */
function slowBody(head: string, everyMs?: number) {
  let timer: ReturnType<typeof setInterval> | undefined;
  let cut!: () => void;
  const cancelled = new Promise<void>((resolve) => (cut = resolve));
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(head));
      if (everyMs) timer = setInterval(() => controller.enqueue(new TextEncoder().encode(' ')), everyMs);
    },
    cancel() {
      clearInterval(timer);
      cut();
    },
  });
  return { stream, cancelled, stop: () => clearInterval(timer) };
}

/** POST a streamed body to `path` with `headers` (no content-length unless given). */
function send(path: string, key: string, body: ReadableStream<Uint8Array>, headers: Record<string, string> = {}, limits: Record<string, number> = {}) {
  const request = new Request(`https://router.test${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'x-api-key': key, 'anthropic-version': '2023-06-01', 'content-type': 'application/json', ...headers },
    body,
    cf: CF.iad,
  } as RequestInit);
  return Promise.resolve(worker.fetch(request as never, { ...env, ROUTER_CONFIG: JSON.stringify(config(limits)) } as never, createExecutionContext()));
}

const sentToNodes = async () => (await Promise.all(['n-us', 'n-eu', 'n-ap'].map(nodeRequests))).flat().length;

describe('a request body that does not arrive within bodyReadMs', () => {
  it('a small body that stalls is a 408 request_timeout in OpenAI\'s shape, cut off, admitting nothing and reaching no node', async () => {
    const { key, id } = await newKey({ limits: { rpm: 10 } });
    const body = slowBody('{"model":"gpt-4o-mini","messages":');
    const started = Date.now();
    const res = await send('/v1/chat/completions', key, body.stream);
    expect(res.status).toBe(408);
    expect(Date.now() - started).toBeGreaterThanOrEqual(READ_MS - 50);
    expect(Date.now() - started).toBeLessThan(READ_MS + 1_500);
    const { error } = await res.json<{ error: { type: string; code: string; message: string } }>();
    expect(error).toMatchObject({ type: 'invalid_request_error', code: 'request_timeout' });
    expect(error.message).toContain(`${READ_MS} ms`);
    await body.cancelled; // the router let go of the caller's stream
    expect(heldBodyBytes()).toBe(0); // small: never counted
    expect(await sentToNodes()).toBe(0);
    const usage = await (await admin(`/keys/${id}/usage`)).json<{ inFlight: number; window: { requests: number } }>();
    expect(usage).toMatchObject({ inFlight: 0, window: { requests: 0 } });
  });

  it('a body with a declared length that stalls (read natively, whole) is a 408 too', async () => {
    const { key } = await newKey();
    const res = await send('/v1/chat/completions', key, slowBody('{"model":').stream, { 'content-length': '5000' });
    expect(res.status).toBe(408);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe('request_timeout');
    expect(await sentToNodes()).toBe(0);
  });

  it('on /v1/messages and count_tokens: a 408 in Anthropic\'s shape', async () => {
    const { key } = await newKey();
    for (const path of ['/v1/messages', '/v1/messages/count_tokens']) {
      const res = await send(path, key, slowBody('{"model":"gpt-4o-mini",').stream);
      expect(res.status).toBe(408);
      const out = await res.json<{ type: string; error: { type: string; message: string } }>();
      expect(out.type).toBe('error');
      expect(out.error.type).toBe('invalid_request_error');
      expect(out.error.message).toContain('did not arrive');
      expect(res.headers.get('request-id')).toBeTruthy();
    }
  });

  it('a body whose connection breaks mid-way is a 400 request_body_incomplete, not a 500', async () => {
    const { key } = await newKey();
    const broken = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"model":'));
        setTimeout(() => controller.error(new Error('Network connection lost.')), 50);
      },
    });
    const res = await send('/v1/chat/completions', key, broken);
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe('request_body_incomplete');
  });

  it('a large body that trickles gives back its body budget at the deadline: a large body waiting behind it runs', async () => {
    const { key } = await newKey();
    // No length: it holds the cap (4 MiB), the whole budget, while it trickles a byte every 100 ms.
    const trickle = slowBody('{"model":"gpt-4o-mini","messages":', 100);
    const first = send('/v1/chat/completions', key, trickle.stream, {}, LARGE);
    expect(await eventually(async () => heldBodyBytes(), (held) => held > 0)).toBe(4 * 1_048_576);
    const content = 'x'.repeat(1_500_000);
    const big = JSON.stringify(chatBody({ max_tokens: 5, messages: [{ role: 'user', content }] }));
    const second = callWithConfig(config(LARGE), '/v1/chat/completions', { key, body: big, headers: { 'content-length': String(big.length) } });
    const cutAt = await first.then((r: Response) => (expect(r.status).toBe(408), Date.now()));
    await trickle.cancelled;
    const res = await second;
    // Without the deadline the trickler holds the budget until the second's 503 (bodyWaitMs, 4 s).
    expect(res.status).toBe(200);
    expect(Date.now() - cutAt).toBeLessThan(2_000);
    await res.text();
    expect(await sentToNodes()).toBe(1);
    await eventually(async () => heldBodyBytes(), (held) => held === 0);
    expect(heldBodyBytes()).toBe(0);
  });
});
