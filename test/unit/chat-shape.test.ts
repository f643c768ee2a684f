import { describe, expect, it } from 'vitest';
import { chatShapeHolds } from '../../src/openai/chat-shape';
import { ChatRequestSchema } from '../../src/openai/requests';

/** Values each checked member takes in the combinations below: valid ones and near misses. */
const POOLS: Record<string, unknown[]> = {
  model: ['gpt-4o-mini', '', 5, null, undefined],
  messages: [[{ role: 'user', content: 'Hi' }], [], [[]], [{ role: '' }], [{ role: 5 }], [null], [{ role: 'user' }, 'x'], {}, undefined],
  stream: [true, false, null, 'true', 0, undefined],
  stream_options: [{ include_usage: true }, {}, { include_usage: null }, { include_usage: 'yes' }, [], 'x', null, undefined],
  max_tokens: [1, 4096, 0, -1, 1.5, 2 ** 53, 1e400, '5', null, undefined],
  max_completion_tokens: [7, 0, 2.5, Number.MAX_SAFE_INTEGER, null, undefined],
  n: [1, 128, 0, 129, 2.5, null, undefined],
  best_of: [1, 20, 0, 21, null, undefined],
};

/** Every value of each pool, with the other members at a valid value (one near miss at a time), and random mixes. */
function bodies(): Record<string, unknown>[] {
  const valid = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] };
  const out: Record<string, unknown>[] = [valid];
  for (const [name, values] of Object.entries(POOLS)) for (const v of values) out.push({ ...valid, [name]: v });
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 2000; i++) {
    const body: Record<string, unknown> = {};
    for (const [name, values] of Object.entries(POOLS)) body[name] = values[Math.floor(next() * values.length)];
    out.push(body);
  }
  // As JSON.parse gives them: no undefined members, Infinity as 1e400 parses.
  return out.map((b) => JSON.parse(JSON.stringify(b, (_k, v) => (v === Infinity ? '__inf__' : v)).replace(/"__inf__"/g, '1e400')));
}

describe('chat body check instead of zod', () => {
  it('accepts only bodies the chat schema accepts, and those as zod returns them', () => {
    let accepted = 0;
    for (const body of bodies()) {
      if (!chatShapeHolds(body)) continue;
      accepted++;
      const parsed = ChatRequestSchema.safeParse(body);
      expect(parsed.success, JSON.stringify(body)).toBe(true);
      expect(parsed.data).toEqual(body);
    }
    // Not vacuous: the common bodies pass the check.
    expect(accepted).toBeGreaterThan(20);
  });

  it('accepts a typical chat body with every checked member set', () => {
    const body = { model: 'm', messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'u' }], stream: true, stream_options: { include_usage: true }, max_tokens: 100, max_completion_tokens: null, n: 2, best_of: 3, temperature: 0.2 };
    expect(chatShapeHolds(body)).toBe(true);
  });

  it('leaves a body with its own __proto__ member to zod', () => {
    expect(chatShapeHolds(JSON.parse('{"model":"m","messages":[{"role":"user"}],"__proto__":{"max_tokens":5}}'))).toBe(false);
  });
});
