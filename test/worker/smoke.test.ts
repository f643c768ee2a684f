import { beforeEach, describe, expect, it } from 'vitest';
import { call, chatBody, newKey, resetWorld } from './helpers';

describe('smoke', () => {
  beforeEach(resetWorld);
  it('forwards a chat completion to the nearest node', async () => {
    const { key } = await newKey();
    const res = await call('/v1/chat/completions', { key, body: chatBody() });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('n-us');
    const json = await res.json<{ choices: { message: { content: string } }[] }>();
    expect(json.choices[0]!.message.content).toBe('Hello from n-us');
  });
});
