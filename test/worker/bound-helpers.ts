/**
 * What the prompt-bound tests share: the reservation the router makes for a body (read from
 * the 429 of a key whose tpm is 1), what the fleet billed for an answer, and a burst of one
 * body against a key's tpm with every request in flight together.
 */
import { expect } from 'vitest';
import { call, callWithConfig, newKey } from './helpers';

export const headersFor = (path: string, key: string): Record<string, string> => (path === '/v1/messages' ? { 'x-api-key': key, 'anthropic-version': '2023-06-01' } : { authorization: `Bearer ${key}` });

const send = (path: string, options: { body: unknown; headers: Record<string, string> }, config?: Record<string, unknown>) => (config ? callWithConfig(config, path, options) : call(path, options));

/** What the router reserves for `body`: the figure its 429 names for a key whose tpm is 1 (no node is called). */
export async function reservation(path: string, body: unknown, config?: Record<string, unknown>): Promise<number> {
  const { key } = await newKey({ limits: { tpm: 1 } });
  const res = await send(path, { body, headers: headersFor(path, key) }, config);
  expect(res.status).toBe(429);
  const { error } = await res.json<{ error: { message: string } }>();
  return Number(/Requested (\d+)\./.exec(error.message)?.[1]);
}

/** Prompt and total tokens the fleet billed for an answer, whatever its endpoint. */
export async function billed(res: Response): Promise<{ prompt: number; total: number }> {
  const { usage } = await res.json<{ usage: Record<string, number> }>();
  const prompt = usage.prompt_tokens ?? usage.input_tokens!;
  return { prompt, total: usage.total_tokens ?? prompt + usage.output_tokens! };
}

export interface Burst {
  served: number;
  refused: number;
  /** Total tokens the fleet billed for the requests served. */
  billed: number;
}

/** `count` requests of `body` against a key with `tpm`, all sent together (make the nodes slow first); what the fleet billed. */
export async function burst(path: string, body: unknown, tpm: number, count: number, config?: Record<string, unknown>): Promise<Burst> {
  const { key } = await newKey({ limits: { tpm } });
  const options = { body, headers: headersFor(path, key) };
  const responses = await Promise.all(Array.from({ length: count }, () => send(path, options, config)));
  let sum = 0;
  let served = 0;
  for (const res of responses) {
    expect([200, 429]).toContain(res.status);
    if (res.status !== 200) await res.text();
    else {
      served++;
      sum += (await billed(res)).total;
    }
  }
  return { served, refused: count - served, billed: sum };
}
