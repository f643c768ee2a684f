/**
 * A JSON body that would build far more than its size when parsed (`http/json-shape.ts`) is
 * refused before it is parsed: `[{},{},…]` in an unknown member (which passes through) built
 * ~21× its size and was held while the request ran, and so did an object of many distinct
 * member names. Real large bodies still pass.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { callWithConfig, chatBody, newKey, nodeRequests, resetWorld, testConfig } from './helpers';

beforeEach(resetWorld);

function config() {
  const c = testConfig();
  c.limits = { ...c.limits, maxBodyBytes: 1_048_575 }; // large, but under the body budget's 1 MiB
  return c;
}

const sent = async () => (await Promise.all(['n-us', 'n-eu', 'n-ap'].map(nodeRequests))).flat().length;
const empties = (n: number) => Array.from({ length: n }, () => ({}));

describe('a body of many empty objects and arrays', () => {
  it('is a 400 invalid_request naming the bound, and reaches no node', async () => {
    const { key } = await newKey();
    const body = JSON.stringify(chatBody({ max_tokens: 5, x_pad: empties(200_000) }));
    const res = await callWithConfig(config(), '/v1/chat/completions', { key, body });
    expect(res.status).toBe(400);
    const { error } = await res.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe('invalid_request');
    expect(error.message).toMatch(/more than \d+ objects and arrays for its \d+ bytes/);
    expect(await sent()).toBe(0);
  });

  it('on count_tokens: a 400 in Anthropic\'s shape', async () => {
    const { key } = await newKey();
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], x_pad: empties(200_000) });
    const res = await callWithConfig(config(), '/v1/messages/count_tokens', { key, body, headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' } });
    expect(res.status).toBe(400);
    expect((await res.json<{ type: string; error: { type: string } }>()).error.type).toBe('invalid_request_error');
  });

  it('of object members with distinct names ({"k0":0,"k1":0,…} in a pass-through member, ~15× its size when parsed and checked): a 400 naming the bound, and no node sees it', async () => {
    const { key } = await newKey();
    const pad = Object.fromEntries(Array.from({ length: 120_000 }, (_, i) => [i.toString(36), 0]));
    const body = JSON.stringify(chatBody({ max_tokens: 5, x_pad: pad }));
    expect(body.length).toBeLessThan(1_048_575);
    const res = await callWithConfig(config(), '/v1/chat/completions', { key, body });
    expect(res.status).toBe(400);
    const { error } = await res.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe('invalid_request');
    expect(error.message).toMatch(/more than \d+ object members for its \d+ bytes/);
    expect(await sent()).toBe(0);
  });

  it('a body past 4 MiB gets no more objects and arrays than a 4 MiB one: 400,000 empty objects beside 8 MiB of text are a 400 (per byte alone, 16 MiB held 1.05M: 93 MB parsed)', async () => {
    const { key } = await newKey();
    const big = testConfig();
    big.limits = { ...big.limits, maxBodyBytes: 16 * 1_048_576 };
    const body = JSON.stringify(chatBody({ max_tokens: 5, x_pad: empties(400_000), x_text: 'x'.repeat(8 * 1_048_576) }));
    const res = await callWithConfig(big, '/v1/chat/completions', { key, body });
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { message: string } }>()).error.message).toMatch(/more than 266240 objects and arrays/);
    expect(await sent()).toBe(0);
  });

  it('an array of 3,000,000 zeros (6 MB; a 16 MiB one built 80 MB in 0.9 s) is a 400, and no node sees it', async () => {
    const { key } = await newKey();
    const big = testConfig();
    big.limits = { ...big.limits, maxBodyBytes: 16 * 1_048_576 };
    const body = JSON.stringify(chatBody({ max_tokens: 5, x_pad: new Array(3_000_000).fill(0) }));
    const res = await callWithConfig(big, '/v1/chat/completions', { key, body });
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { message: string } }>()).error.message).toMatch(/more than 1114112 values/);
    expect(await sent()).toBe(0);
  });

  it('a real large body (300 tools, 200 messages of parts) is served', async () => {
    const { key } = await newKey();
    const tool = (i: number) => ({ type: 'function', function: { name: `f${i}`, parameters: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'array', items: { type: 'number' } } } } } });
    const messages = Array.from({ length: 200 }, (_, i) => ({ role: 'user', content: [{ type: 'text', text: `part ${i} `.repeat(20) }] }));
    const body = JSON.stringify(chatBody({ max_tokens: 5, messages, tools: Array.from({ length: 300 }, (_, i) => tool(i)) }));
    expect(body.length).toBeGreaterThan(65_536);
    const res = await callWithConfig(config(), '/v1/chat/completions', { key, body });
    expect(res.status).toBe(200);
    await res.text();
  });
});
