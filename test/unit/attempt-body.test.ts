import { describe, expect, it } from 'vitest';
import { parseConfig, type LoadedConfig } from '../../src/config/load';
import { attemptEdits } from '../../src/forward/attempt-body';
import type { PlannedAttempt } from '../../src/forward/plan';
import { parseRequest } from '../../src/openai/requests';

const r = parseConfig({
  nodes: [{ id: 'a', baseUrl: 'https://x.test/v1', region: 'r', lat: 1, lon: 2, models: ['m', 'o3'], modelMap: { m: 'vendor/m' } }],
  models: { o3: { defaultMaxTokens: 8000 } },
});
if (!r.ok) throw new Error(r.message);
const config: LoadedConfig = r.config;
const attempt = (model: string, upstreamModel = model) => ({ node: config.nodes[0]!, model, upstreamModel, repeat: false, expectedMs: 1 }) as PlannedAttempt;
const chat = (body: Record<string, unknown>) => parseRequest('chat', new TextEncoder().encode(JSON.stringify({ messages: [{ role: 'user', content: 'x' }], ...body })));
const no = { askUsage: false };

describe('attemptEdits', () => {
  it('changes nothing when the caller set a cap in the right parameter and the name is the node\'s', async () => {
    expect(attemptEdits(config, await chat({ model: 'm', max_tokens: 5 }), attempt('m'), no)).toEqual({ set: {}, rename: {} });
  });

  it('maps the model, asks for usage keeping the caller\'s stream options, and adds the default cap', async () => {
    const edits = attemptEdits(config, await chat({ model: 'm', stream: true, stream_options: { x: 1 } }), attempt('m', 'vendor/m'), { askUsage: true });
    expect(edits.set).toEqual({ model: 'vendor/m', stream_options: { x: 1, include_usage: true }, max_tokens: 1024 });
  });

  it('uses the model\'s own default cap and parameter', async () => {
    expect(attemptEdits(config, await chat({ model: 'o3' }), attempt('o3'), no).set).toEqual({ max_completion_tokens: 8000 });
  });

  it('renames the caller\'s cap to the parameter the model accepts', async () => {
    expect(attemptEdits(config, await chat({ model: 'o3', max_tokens: 7 }), attempt('o3'), no)).toEqual({ set: {}, rename: { max_tokens: 'max_completion_tokens' } });
  });

  it('sends the larger of two caller caps in the model\'s parameter (the reservation holds the larger)', async () => {
    expect(attemptEdits(config, await chat({ model: 'm', max_tokens: 10, max_completion_tokens: 20 }), attempt('m'), no).set).toEqual({ max_tokens: 20 });
  });

  it('leaves embeddings without a cap', async () => {
    const req = await parseRequest('embeddings', new TextEncoder().encode('{"model":"m","input":"x"}'));
    expect(attemptEdits(config, req, attempt('m'), no)).toEqual({ set: {}, rename: {} });
  });
});
