import { describe, expect, it } from 'vitest';
import { responseIdSigner, responseIdTagger, verifyResponseId, type ResponseOwner } from '../../src/openai/response-ids';
import { RouterError } from '../../src/errors/router-error';

const signer = responseIdSigner({ RESPONSE_ID_SECRET: 'unit-test-response-id-secret-0123456789' });
const owner: ResponseOwner = { nodeId: 'azure:sweden.1', keyId: 'key_abc', contextTokens: 1234, signer };
const idsIn = (text: string) => [...text.matchAll(/"(resp_[^"\\]+)"/g)].map((m) => m[1]!);

describe('response ids are signed with their node, key and context bound', () => {
  it('tags a response object\'s id and previous_response_id, and they verify back to the upstream id and owner', async () => {
    const out = responseIdTagger(owner)('{"id":"resp_123","object":"response","previous_response_id":"resp_0-9_x","text":"say \\"resp_fake\\""}');
    const ids = idsIn(out);
    expect(ids).toHaveLength(2);
    expect(ids[0]).toMatch(/^resp_123~[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/); // URL-safe
    expect(await Promise.all(ids.map((id) => verifyResponseId(signer, id)))).toEqual([
      { id: 'resp_123', nodeId: 'azure:sweden.1', keyId: 'key_abc', contextTokens: 1234 },
      { id: 'resp_0-9_x', nodeId: 'azure:sweden.1', keyId: 'key_abc', contextTokens: 1234 },
    ]);
  });

  it('tags the response inside SSE events, the same id the same way in every event', () => {
    const tag = responseIdTagger(owner);
    const event = (type: string) => `event: ${type}\ndata: {"type":"${type}","response":{"id":"resp_s1","object":"response"}}`;
    const [a, b] = [tag(event('response.created')), tag(event('response.completed'))];
    expect(idsIn(a)[0]).toContain('resp_s1~');
    expect(idsIn(a)).toEqual(idsIn(b));
  });

  it('never signs a resp_ id the caller planted: echoed metadata, a nested id, the model\'s text', () => {
    const text = '{"id":"resp_mine","object":"response","metadata":{"id":"resp_victim"},"output":[{"id":"resp_victim2","content":[{"text":"resp_victim3"}]}]}';
    expect(idsIn(responseIdTagger(owner)(text))).toEqual([expect.stringMatching(/^resp_mine~/), 'resp_victim', 'resp_victim2', 'resp_victim3']);
    const delta = 'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"resp_victim"}';
    expect(responseIdTagger(owner)(delta)).toBe(delta);
  });

  it('a JSON answer\'s id carries what the provider stored (input + output) when below the bound; an event\'s carries the bound', async () => {
    const context = async (text: string, bound = 1234) => (await verifyResponseId(signer, idsIn(responseIdTagger({ ...owner, contextTokens: bound })(text))[0]!))!.contextTokens;
    expect(await context('{"id":"resp_1","object":"response","usage":{"input_tokens":40,"output_tokens":7}}')).toBe(47);
    expect(await context('{"id":"resp_1","object":"response","usage":{"input_tokens":4000,"output_tokens":7}}')).toBe(1234); // never above the bound
    expect(await context('{"id":"resp_1","object":"response","usage":null}')).toBe(1234); // background: no usage yet
    expect(await context('{"id":"resp_1","object":"response","usage":{"input_tokens":-5,"output_tokens":7}}')).toBe(1234);
    expect(await context('event: response.completed\ndata: {"type":"response.completed","response":{"id":"resp_1","object":"response","usage":{"input_tokens":1,"output_tokens":1}}}')).toBe(1234);
  });

  it('gives a follow-up\'s previous_response_id back exactly as the caller sent it', () => {
    const tagged = 'resp_prev~as-the-caller-sent-it';
    const out = responseIdTagger({ ...owner, previous: { id: 'resp_prev', tagged } })('{"id":"resp_new","object":"response","previous_response_id":"resp_prev"}');
    expect(idsIn(out)[1]).toBe(tagged);
  });

  it('refuses untagged, forged, re-encoded, spliced and malformed ids', async () => {
    const [good] = idsIn(responseIdTagger(owner)('{"id":"resp_123","object":"response"}'));
    const [other] = idsIn(responseIdTagger({ ...owner, keyId: 'key_evil' })('{"id":"resp_999","object":"response"}'));
    const [, payload, mac] = /~([^.]+)\.(.+)$/.exec(good!)!;
    const reencoded = btoa('azure:sweden.1 key_evil 1234').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const bigger = btoa('azure:sweden.1 key_abc 1').replace(/=+$/, '');
    for (const bad of [
      'resp_123',
      `resp_123~${reencoded}.${mac}`, // another key's id in the payload, the old mac
      `resp_123~${bigger}.${mac}`, // a smaller context bound
      `resp_123~${other!.split('~')[1]}`, // the attacker's own valid tag moved onto another id
      `resp_124~${payload}.${mac}`,
      `..~${payload}.${mac}`,
      `resp_../x~${payload}.${mac}`,
      `resp_${'a'.repeat(300)}~${payload}.${mac}`,
      `resp_123~${payload}.${mac}x`,
      '',
    ]) {
      expect(await verifyResponseId(signer, bad), bad).toBeUndefined();
    }
    expect(await verifyResponseId(signer, good!)).toBeDefined();
  });

  it('fails closed without a secret (or with a short one): a 503 naming RESPONSE_ID_SECRET', () => {
    for (const env of [{}, { RESPONSE_ID_SECRET: 'short' }]) {
      let error: unknown;
      try {
        responseIdSigner(env);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(RouterError);
      expect(error).toMatchObject({ status: 503, code: 'response_ids_unavailable', message: expect.stringContaining('RESPONSE_ID_SECRET') });
    }
  });

  it('signs with a different secret to ids that do not verify', async () => {
    const [id] = idsIn(responseIdTagger({ ...owner, signer: responseIdSigner({ RESPONSE_ID_SECRET: 'another-secret-entirely-0123456789abcd' }) })('{"id":"resp_1","object":"response"}'));
    expect(await verifyResponseId(signer, id!)).toBeUndefined();
  });
});
