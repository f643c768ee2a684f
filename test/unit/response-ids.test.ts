import { describe, expect, it } from 'vitest';
import { parseResponseId, responseIdTagger } from '../../src/openai/response-ids';

describe('response ids carry their node and key', () => {
  const tag = responseIdTagger({ nodeId: 'azure:sweden.1', keyId: 'key_abc' });

  it('tags every response id in a text, and parses back to the upstream id and owner', () => {
    const out = tag('{"id":"resp_123","previous_response_id":"resp_0-9_x","text":"say \\"resp_fake\\""}');
    const ids = [...out.matchAll(/"(resp_[^"\\]+)"/g)].map((m) => m[1]!);
    expect(ids).toHaveLength(2); // the escaped one inside a string is left alone
    expect(ids.map((id) => parseResponseId(id))).toEqual([
      { id: 'resp_123', nodeId: 'azure:sweden.1', keyId: 'key_abc' },
      { id: 'resp_0-9_x', nodeId: 'azure:sweden.1', keyId: 'key_abc' },
    ]);
    expect(ids[0]).toMatch(/^resp_123~[A-Za-z0-9_-]+$/); // URL-safe
  });

  it('does not claim ids it did not issue', () => {
    expect(parseResponseId('resp_123')).toBeUndefined();
    expect(parseResponseId('resp_123~%%%')).toBeUndefined();
    expect(parseResponseId('resp_123~bm9zcGFjZQ')).toBeUndefined(); // "nospace": no key part
  });
});
