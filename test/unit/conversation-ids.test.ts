import { describe, expect, it } from 'vitest';
import { conversationIdRestorer, signConversationId, verifyConversationId } from '../../src/openai/conversation-ids';
import { responseIdSigner, responseIdTagger, verifyResponseId } from '../../src/openai/response-ids';

const signer = responseIdSigner({ RESPONSE_ID_SECRET: 'unit-test-response-id-secret-0123456789' });
const b64 = (text: string) => btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

describe('conversation ids are signed with their node and key', () => {
  it('a signed id verifies back to the upstream id, node and key', async () => {
    const tagged = signConversationId(signer, 'conv_abc-1_Z', 'n-eu', 'key_1')!;
    expect(tagged).toMatch(/^conv_abc-1_Z~[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(await verifyConversationId(signer, tagged)).toEqual({ id: 'conv_abc-1_Z', nodeId: 'n-eu', keyId: 'key_1' });
  });

  it('signs only conversation ids: no path segments, dots, other prefixes or overlong ids', () => {
    for (const id of ['resp_1', 'conv_../x', 'conv_a.b', 'conv_', `conv_${'a'.repeat(201)}`, 42, undefined]) expect(signConversationId(signer, id, 'n-eu', 'key_1')).toBeUndefined();
  });

  it('refuses forgeries: untagged, another key re-encoded, a tag moved onto another id, a bad mac, another secret', async () => {
    const tagged = signConversationId(signer, 'conv_a', 'n-eu', 'key_1')!;
    const [, tag] = tagged.split('~') as [string, string];
    const [, mac] = tag.split('.') as [string, string];
    const other = responseIdSigner({ RESPONSE_ID_SECRET: 'another-secret-of-at-least-32-characters' });
    for (const forged of ['conv_a', `conv_a~${b64('n-eu key_2')}.${mac}`, `conv_b~${tag}`, `${tagged.slice(0, -2)}AA`, signConversationId(other, 'conv_a', 'n-eu', 'key_1')!]) {
      expect(await verifyConversationId(signer, forged)).toBeUndefined();
    }
  });

  it('a response id never verifies as a conversation id, nor the other way round', async () => {
    const response = JSON.parse(responseIdTagger({ nodeId: 'n-eu', keyId: 'key_1', contextTokens: 10, signer })('{"id":"resp_a","object":"response"}')).id as string;
    const [, tag] = response.split('~') as [string, string];
    expect(await verifyConversationId(signer, `conv_a~${tag}`)).toBeUndefined();
    expect(await verifyConversationId(signer, response)).toBeUndefined();
    const conversation = signConversationId(signer, 'conv_a', 'n-eu', 'key_1')!;
    expect(await verifyResponseId(signer, conversation)).toBeUndefined();
    expect(await verifyResponseId(signer, `resp_a~${conversation.split('~')[1]}`)).toBeUndefined();
  });
});

describe("answers name the conversation by the caller's id", () => {
  const restore = conversationIdRestorer('conv_up', 'conv_up~tag.mac');

  it("in a conversation object, its deletion, and a response's conversation (JSON and SSE)", () => {
    expect(restore('{"id":"conv_up","object":"conversation","metadata":{}}')).toBe('{"id":"conv_up~tag.mac","object":"conversation","metadata":{}}');
    expect(restore('{"id":"conv_up","object":"conversation.deleted","deleted":true}')).toContain('"conv_up~tag.mac"');
    expect(restore('{"id":"resp_1","object":"response","conversation":{"id":"conv_up"}}')).toContain('"conversation":{"id":"conv_up~tag.mac"}');
    const event = 'event: response.created\ndata: {"type":"response.created","response":{"id":"resp_1","conversation":{"id":"conv_up"}}}\n\n';
    expect(restore(event)).toContain('{"id":"conv_up~tag.mac"}');
  });

  it('leaves other ids, and text that only mentions it, as they are', () => {
    for (const text of ['{"id":"conv_other","object":"conversation"}', '{"object":"list","data":[{"id":"msg_1","text":"conv_up"}]}', 'event: x\ndata: {"delta":"\\"conv_up\\""}\n\n']) {
      expect(restore(text)).toBe(text);
    }
  });
});
