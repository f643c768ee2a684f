import { describe, expect, it } from 'vitest';
import { longestDeadlineMs, maxTokensParamFor, parseConfig, timeoutsFor } from '../../src/config/load';

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
    expect(r.config.limits.maxBodyBytes).toBe(16 * 1_048_576);
    expect(r.config.limits.promptTokens).toBe('bound');
    expect(r.config.nodes[0]).toMatchObject({ promptOverheadTokens: 0, toolOverheadTokens: 0 });
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
    [{ nodes: [{ ...node, models: ['m', 'n', 'm'] }] }, 'nodes[0].models[2]: "m" is listed twice'],
    [{ nodes: [{ ...node, models: ['m', 'n'] }], models: { m: { fallbacks: ['n', 'n'] } } }, 'models.m.fallbacks[1]: "n" is listed twice'],
    [{ nodes: [node], models: { m: { aliases: ['m'] } } }, 'models.m.aliases[0]'],
    [{ nodes: [node], retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
    [{ nodes: [{ ...node, colour: 'red' }] }, 'nodes[0]: Unrecognized key: "colour"'],
    [{ nodes: [{ ...node, apiKeyEnv: 'not a name' }] }, 'nodes[0].apiKeyEnv'],
    [{ nodes: [{ ...node, apiKeyEnv: 'ADMIN_TOKEN' }] }, "nodes[0].apiKeyEnv: may not name the router's own secrets"],
    [{ nodes: [{ ...node, apiKeyEnv: 'RESPONSE_ID_SECRET' }] }, "nodes[0].apiKeyEnv: may not name the router's own secrets"],
    [{ nodes: [{ ...node, apiKeyEnv: 'ROUTER_CONFIG' }] }, 'nodes[0].apiKeyEnv'],
    [{ nodes: [node], models: { m: { maxTokensParam: 'max_output' } } }, 'models.m.maxTokensParam'],
    [{ nodes: [node], limits: { promptTokens: 'exact' } }, 'limits.promptTokens'],
    [{ nodes: [{ ...node, promptOverheadTokens: -1 }] }, 'nodes[0].promptOverheadTokens'],
    [{ nodes: [{ ...node, toolOverheadTokens: 1.5 }] }, 'nodes[0].toolOverheadTokens'],
  ])('names the bad field: %j', (raw, expected) => {
    expect(message(raw)).toContain(expected);
  });
});

describe('derived settings', () => {
  const config = (extra: Record<string, unknown> = {}) => {
    const r = parseConfig({ nodes: [{ ...node, models: ['m', 'o3', 'gpt-5-mini', 'llama'] }], ...extra });
    if (!r.ok) throw new Error(r.message);
    return r.config;
  };

  it('bounds a JSON answer by the whole deadline unless responseMs is set, per model too', () => {
    expect(timeoutsFor(config(), 'm').responseMs).toBe(120_000);
    expect(timeoutsFor(config({ timeouts: { totalMs: 9_000 } }), 'm').responseMs).toBe(9_000);
    expect(timeoutsFor(config({ models: { m: { timeouts: { responseMs: 300_000 } } } }), 'm').responseMs).toBe(300_000);
  });

  it('sends o-series and gpt-5 caps as max_completion_tokens, others as max_tokens, unless configured', () => {
    const c = config({ models: { llama: { maxTokensParam: 'max_completion_tokens' } } });
    expect(maxTokensParamFor(c, 'o3', 'o3')).toBe('max_completion_tokens');
    expect(maxTokensParamFor(c, 'm', 'openai/o4-mini')).toBe('max_completion_tokens');
    expect(maxTokensParamFor(c, 'gpt-5-mini', 'gpt-5-mini')).toBe('max_completion_tokens');
    expect(maxTokensParamFor(c, 'm', 'gpt-4o')).toBe('max_tokens');
    expect(maxTokensParamFor(c, 'llama', 'llama')).toBe('max_completion_tokens');
  });

  it('takes a model\'s longest deadline across its fallback chain', () => {
    const c = config({ models: { m: { fallbacks: ['llama'] }, llama: { timeouts: { totalMs: 600_000 } } } });
    expect(longestDeadlineMs(c, 'm')).toBe(600_000);
  });
});
