import { describe, expect, it } from 'vitest';
import { parseConfig, type LoadedConfig } from '../../src/config/load';
import { parseRequest } from '../../src/openai/requests';
import { responseIdSigner, responseIdTagger } from '../../src/openai/response-ids';
import { responseState } from '../../src/openai/response-state';

const build = (extra: Record<string, unknown> = {}, node: Record<string, unknown> = {}) => {
  const r = parseConfig({ nodes: [{ id: 'a', baseUrl: 'https://x.test/v1', region: 'r', lat: 1, lon: 2, models: ['m'], ...node }], ...extra });
  if (!r.ok) throw new Error(r.message);
  return r.config as LoadedConfig;
};
const config = build();
const env = { RESPONSE_ID_SECRET: 'unit-test-response-state-secret-0123456789' };
const responses = (body: Record<string, unknown>) => parseRequest('responses', new TextEncoder().encode(JSON.stringify({ model: 'm', input: 'x', ...body })));
const key = { id: 'key_a' };
const chain = () => ['m'];
const idFor = (keyId: string, contextTokens: number) =>
  JSON.parse(responseIdTagger({ nodeId: 'a', keyId, contextTokens, signer: responseIdSigner(env) })('{"id":"resp_1","object":"response"}')).id as string;

const refusal = async (work: Promise<unknown>) => {
  try {
    await work;
  } catch (err) {
    return err;
  }
  throw new Error('expected a refusal');
};

describe('responseState', () => {
  it('pins a verified previous_response_id to its node and carries its context bound', async () => {
    const id = idFor('key_a', 777);
    const state = await responseState(env, config, await responses({ previous_response_id: id }), key, chain);
    expect(state).toMatchObject({ pinned: { nodeId: 'a', previousResponseId: 'resp_1' }, contextTokens: 777, previous: { id: 'resp_1', tagged: id } });
  });

  it('refuses another key\'s id and a node no longer configured as previous_response_not_found', async () => {
    expect(await refusal(responseState(env, config, await responses({ previous_response_id: idFor('key_b', 1) }), key, chain))).toMatchObject({ status: 400, code: 'previous_response_not_found' });
    const without = build({}, { id: 'b' });
    expect(await refusal(responseState(env, without, await responses({ previous_response_id: idFor('key_a', 1) }), key, chain))).toMatchObject({ status: 400, code: 'previous_response_not_found' });
  });

  it('serves store: false without a secret (no signer), and refuses stored state without one', async () => {
    expect(await responseState({}, config, await responses({ store: false }), key, chain)).toMatchObject({ signer: undefined, contextTokens: 0 });
    expect(await refusal(responseState({}, config, await responses({}), key, chain))).toMatchObject({ status: 503, code: 'response_ids_unavailable' });
  });

  it('refuses background for a key with its own or a default concurrency or tpm limit, or a node that counts either', async () => {
    const background = await responses({ background: true });
    expect(await responseState(env, config, background, key, chain)).toBeDefined();
    for (const [cfg, k] of [
      [config, { id: 'key_a', limits: { concurrency: 3 } }],
      [build({ limits: { defaults: { concurrency: 20 } } }), key],
      [build({}, { limits: { concurrency: 5 } }), key],
      [config, { id: 'key_a', limits: { tpm: 1_000 } }],
      [build({ limits: { defaults: { tpm: 10_000 } } }), key],
      [build({}, { limits: { tpm: 5_000 } }), key],
    ] as const) {
      expect(await refusal(responseState(env, cfg, background, k, chain))).toMatchObject({ status: 400, code: 'background_not_allowed', param: 'background' });
    }
  });

  it('is nothing for other endpoints', async () => {
    const chat = await parseRequest('chat', new TextEncoder().encode('{"model":"m","messages":[{"role":"user","content":"x"}]}'));
    expect(await responseState({}, config, chat, key, chain)).toBeUndefined();
  });
});
