/**
 * Fields the router acts on, sent as values an upstream coerces: Python nodes (vLLM's
 * OpenAI server, pydantic in lax mode) read `"true"` or `1` as true and `"3"` as 3. The
 * router must read them as the node will, or refuse them.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { call, newKey, nodeRequests, resetWorld } from './helpers';

beforeEach(resetWorld);

const allNodeRequests = async () => (await Promise.all(['n-us', 'n-eu', 'n-ap'].map(nodeRequests))).reduce((sum, r) => sum + r.length, 0);

describe('values an upstream coerces', () => {
  it('background: "true" is refused like background: true for a key with a concurrency limit (a lax node runs it in the background)', async () => {
    const { key } = await newKey({ limits: { concurrency: 5 } });
    const before = await allNodeRequests();
    for (const background of ['true', 1, 'yes']) {
      const res = await call('/v1/responses', { key, body: { model: 'gpt-4o-mini', input: 'Hi', background } });
      expect(res.status).toBe(400);
      expect((await res.json<{ error: { param: string } }>()).error.param).toBe('background');
    }
    expect(await allNodeRequests()).toBe(before);
  });

  it('partial_images and an image stream flag that are not what OpenAI takes are refused: the reservation counts partial images only as an integer', async () => {
    const { key } = await newKey();
    for (const [field, value] of [['partial_images', '3'], ['partial_images', 4], ['stream', 'true']] as const) {
      const res = await call('/v1/images/generations', { key, body: { model: 'gpt-4o-mini', prompt: 'a cat', [field]: value } });
      expect(res.status).toBe(400);
      expect((await res.json<{ error: { param: string } }>()).error.param).toBe(field);
    }
  });
});

describe('names an upstream folds', () => {
  it('SERVICE_TIER (a Go node reads it as service_tier: priority, billed at about twice the rates) is a 400 for a budgeted key, never forwarded', async () => {
    const { key } = await newKey({ limits: { dailyUsd: 1 } });
    const before = await allNodeRequests();
    for (const name of ['SERVICE_TIER', 'Service_Tier']) {
      const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"max_tokens":10,"${name}":"priority"}`;
      const res = await call('/v1/chat/completions', { key, body });
      expect(res.status, name).toBe(400);
      expect((await res.json<{ error: { code: string; param: string } }>()).error).toMatchObject({ code: 'invalid_request', param: name });
    }
    expect(await allNodeRequests()).toBe(before);
  });
});

describe('names an upstream folds: server-side compaction, reasoning', () => {
  it('CONTEXT_MANAGEMENT (a Go node reads it as context_management: the prompt read twice, held once) is a 400 for a tpm key, never forwarded', async () => {
    const { key } = await newKey({ limits: { tpm: 100_000 } });
    const before = await allNodeRequests();
    const body = `{"model":"gpt-4o-mini","store":false,"input":"Hi","max_output_tokens":10,"Context_Management":[{"type":"compaction"}]}`;
    const res = await call('/v1/responses', { key, body });
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { code: string; param: string } }>()).error).toMatchObject({ code: 'invalid_request', param: 'Context_Management' });
    expect(await allNodeRequests()).toBe(before);
  });

  it('REASONING (a Go node reads it as reasoning: its mode bills pro rates a budget refuses) is a 400, never forwarded', async () => {
    const { key } = await newKey({ limits: { dailyUsd: 1 } });
    const before = await allNodeRequests();
    const body = `{"model":"gpt-4o-mini","store":false,"input":"Hi","max_output_tokens":10,"REASONING":{"mode":"pro"}}`;
    const res = await call('/v1/responses', { key, body });
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { code: string; param: string } }>()).error).toMatchObject({ code: 'invalid_request', param: 'REASONING' });
    expect(await allNodeRequests()).toBe(before);
  });
});

describe('names an upstream folds, inside messages, items and tools', () => {
  it("a part's or tool's TYPE, a part's INPUT_AUDIO, a message's AUDIO (what classifies input for the reservation) is a 400, never forwarded", async () => {
    const { key } = await newKey({ limits: { tpm: 10_000 } });
    const before = await allNodeRequests();
    const user = (content: unknown) => ({ model: 'gpt-4o-mini', max_tokens: 10, messages: [{ role: 'user', content }] });
    const cases: [string, Record<string, unknown>, string][] = [
      // A Go node reads a file part (its pages billed); the router, no `type`, read two short strings.
      ['/v1/chat/completions', user([{ TYPE: 'file', file: { file_id: 'file-abc' } }]), 'messages[0].content[0].TYPE'],
      ['/v1/chat/completions', user([{ type: 'input_audio', Input_Audio: { data: 'UklGRg'.repeat(2_000), format: 'wav' } }]), 'messages[0].content[0].Input_Audio'],
      ['/v1/chat/completions', user([{ type: 'input_audio', input_audio: { DATA: 'UklGRg'.repeat(2_000), format: 'wav' } }]), 'messages[0].content[0].input_audio.DATA'],
      ['/v1/chat/completions', { ...user('Hi'), messages: [{ role: 'assistant', AUDIO: { id: 'audio_abc' } }, { role: 'user', content: 'Hi' }] }, 'messages[0].AUDIO'],
      ['/v1/responses', { model: 'gpt-4o-mini', input: 'Hi', tools: [{ Type: 'web_search' }] }, 'tools[0].Type'],
      // An input item's tools (`additional_tools`): a Go node reads TOOLS as the hosted tools the router never saw.
      ['/v1/responses', { model: 'gpt-4o-mini', input: [{ role: 'user', content: 'Hi' }, { type: 'additional_tools', role: 'developer', TOOLS: [{ type: 'web_search' }] }] }, 'input[1].TOOLS'],
      ['/v1/responses', { model: 'gpt-4o-mini', input: [{ type: 'message', role: 'user', content: [{ TYPE: 'input_file', file_id: 'file-abc' }] }] }, 'input[0].content[0].TYPE'],
    ];
    for (const [path, body, param] of cases) {
      const res = await call(path, { key, body });
      expect(res.status, param).toBe(400);
      expect((await res.json<{ error: { code: string; param: string } }>()).error, param).toMatchObject({ code: 'invalid_request', param });
    }
    expect(await allNodeRequests()).toBe(before);
  });

  it("names inside a tool's schema, a tool call's input or metadata are the caller's own: any case passes", async () => {
    const { key } = await newKey();
    const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { Type: { type: 'string' }, ID: { type: 'string' } } } } }];
    const res = await call('/v1/chat/completions', { key, body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], tools, metadata: { Type: 'x' } } });
    expect(res.status).toBe(200);
  });
});
