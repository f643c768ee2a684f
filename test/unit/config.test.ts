import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';

const node = { id: 'a', baseUrl: 'https://x.test/v1/', region: 'r', lat: 1, lon: 2, models: ['m'] };
const message = (raw: unknown) => {
  const r = parseConfig(raw);
  return r.ok ? 'ok' : r.message;
};

describe('parseConfig', () => {
  it('accepts a minimal config, filling defaults and trimming the base URL', () => {
    const r = parseConfig({ nodes: [node] });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.nodes[0]!.baseUrl).toBe('https://x.test/v1');
    expect(r.config.retry.maxAttempts).toBe(4);
    expect(r.config.retry.budget.ratio).toBe(0.2);
    expect(r.config.limits.maxBodyBytes).toBe(1_048_576);
  });

  it('accepts the same document as a JSON string', () => {
    expect(message(JSON.stringify({ nodes: [node] }))).toBe('ok');
  });

  it.each([
    [undefined, 'ROUTER_CONFIG is not set'],
    ['{', 'not valid JSON'],
    [{ nodes: [] }, 'nodes: at least one node is required'],
    [{ nodes: [{ ...node, lat: 91 }] }, 'nodes[0].lat'],
    [{ nodes: [{ ...node, baseUrl: 'ftp://x' }] }, 'nodes[0].baseUrl: must be an http(s) URL'],
    [{ nodes: [node, node] }, 'nodes[1].id: duplicate node id "a"'],
    [{ nodes: [{ ...node, modelMap: { z: 'q' } }] }, 'nodes[0].modelMap.z'],
    [{ nodes: [node], models: { nope: {} } }, 'models.nope: no node serves "nope"'],
    [{ nodes: [node], models: { m: { fallbacks: ['m'] } } }, 'models.m.fallbacks[0]'],
    [{ nodes: [node], models: { m: { aliases: ['m'] } } }, 'models.m.aliases[0]'],
    [{ nodes: [node], retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
    [{ nodes: [{ ...node, colour: 'red' }] }, 'nodes[0]: Unrecognized key: "colour"'],
    [{ nodes: [{ ...node, apiKeyEnv: 'not a name' }] }, 'nodes[0].apiKeyEnv'],
  ])('names the bad field: %j', (raw, expected) => {
    expect(message(raw)).toContain(expected);
  });
});
