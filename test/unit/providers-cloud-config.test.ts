/**
 * Bedrock and Vertex nodes in the config (`nodes[].bedrock`, `nodes[].vertex`), their
 * credentials assembled from the named secrets, and their verdicts through the adapter.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import { credentialFor } from '../../src/forward/upstream';
import { adapterFor } from '../../src/providers/registry';
import { classifyFor } from '../../src/providers/verdict';

const node = (extra: object = {}) => ({ id: 'a', baseUrl: 'https://bedrock-runtime.us-east-1.amazonaws.com', region: 'r', lat: 1, lon: 2, models: ['m'], ...extra });
const bedrock = { provider: 'bedrock', bedrock: { region: 'us-east-1', accessKeyIdEnv: 'AWS_ID', secretAccessKeyEnv: 'AWS_SECRET', sessionTokenEnv: 'AWS_TOKEN' } };
const vertex = { provider: 'vertex', bedrock: undefined, vertex: { project: 'my-project', region: 'europe-west4', serviceAccountEnv: 'VERTEX_SA' } };
const loaded = (extra: object) => {
  const r = parseConfig({ nodes: [node(extra)], models: {} });
  if (!r.ok) throw new Error(r.message);
  return r.config.nodes[0]!;
};

describe('nodes[].bedrock and nodes[].vertex', () => {
  it('serve chat only by default and build their adapters', () => {
    expect(loaded(bedrock)).toMatchObject({ provider: 'bedrock', endpoints: ['chat'] });
    expect(adapterFor(loaded(bedrock)).name).toBe('bedrock');
    expect(adapterFor(loaded(vertex)).name).toBe('vertex');
  });

  it.each([
    [{ provider: 'bedrock' }, 'nodes[0].bedrock: a bedrock node needs bedrock'],
    [{ provider: 'vertex' }, 'nodes[0].vertex: a vertex node needs vertex'],
    [{ bedrock: { region: 'us-east-1' } }, 'nodes[0].bedrock: only for provider "bedrock"'],
    [{ ...bedrock, bedrock: { region: 'us-east-1', accessKeyIdEnv: 'AWS_ID' } }, 'accessKeyIdEnv and secretAccessKeyEnv go together'],
    [{ ...bedrock, bedrock: { region: 'Frankfurt' } }, 'nodes[0].bedrock.region'],
    [{ ...bedrock, bedrock: { region: 'us-east-1', accessKeyIdEnv: 'ADMIN_TOKEN', secretAccessKeyEnv: 'S' } }, 'nodes[0].bedrock.accessKeyIdEnv'],
    [{ ...vertex, vertex: { project: 'My Project', region: 'us-central1', serviceAccountEnv: 'SA' } }, 'nodes[0].vertex.project'],
    [{ ...vertex, endpoints: ['chat', 'embeddings'] }, 'nodes[0].endpoints: a vertex node serves chat only'],
  ])('refuses %j with the path of the bad field', (extra, expected) => {
    const r = parseConfig({ nodes: [node(extra)], models: {} });
    expect(r.ok ? 'ok' : r.message).toContain(expected);
  });
});

describe('cloud credentials from the named secrets', () => {
  it('assembles a Bedrock key pair (+ session token) and names the first missing secret', () => {
    const n = loaded(bedrock);
    expect(JSON.parse(credentialFor(n, { AWS_ID: 'AKIA1', AWS_SECRET: 's3cret', AWS_TOKEN: 'tok' }).credential!)).toEqual({ accessKeyId: 'AKIA1', secretAccessKey: 's3cret', sessionToken: 'tok' });
    expect(credentialFor(n, { AWS_ID: 'AKIA1' })).toEqual({ missing: 'AWS_SECRET' });
    expect(credentialFor(n, { AWS_ID: 'AKIA1', AWS_SECRET: 's' })).toEqual({ missing: 'AWS_TOKEN' });
  });

  it('uses apiKeyEnv as a Bedrock API key when no key pair is named, and the key file for Vertex', () => {
    expect(credentialFor(loaded({ provider: 'bedrock', bedrock: { region: 'us-east-1' }, apiKeyEnv: 'BEDROCK_KEY' }), { BEDROCK_KEY: 'ABSK1' })).toEqual({ credential: 'ABSK1' });
    expect(credentialFor(loaded(vertex), { VERTEX_SA: '{"type":"service_account"}' })).toEqual({ credential: '{"type":"service_account"}' });
    expect(credentialFor(loaded(vertex), {})).toEqual({ missing: 'VERTEX_SA' });
  });
});

describe('verdicts through the cloud adapters', () => {
  const response = (status: number, body: unknown, headers: Record<string, string> = {}) => ({
    outcome: { kind: 'response' as const, status, headers: new Headers(headers) },
    body: new TextEncoder().encode(JSON.stringify(body)),
  });
  it('Bedrock: throttling is rate limited with its cooldown, ModelNotReady a node fault, validation the caller’s', () => {
    const a = adapterFor(loaded(bedrock));
    expect(classifyFor(a, response(429, { message: 'slow' }, { 'x-amzn-errortype': 'ThrottlingException' }))).toMatchObject({ action: 'retry', rateLimited: true, retryAfterMs: 5000 });
    expect(classifyFor(a, response(429, { message: 'warming' }, { 'x-amzn-errortype': 'ModelNotReadyException' }))).toMatchObject({ action: 'retry', nodeFault: true });
    expect(classifyFor(a, response(400, { message: 'bad' }, { 'x-amzn-errortype': 'ValidationException' }))).toEqual({ action: 'return' });
  });
  it('Vertex: RESOURCE_EXHAUSTED is rate limited, UNAUTHENTICATED a node fault', () => {
    const a = adapterFor(loaded(vertex));
    expect(classifyFor(a, response(429, { error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'quota' } }))).toMatchObject({ action: 'retry', rateLimited: true });
    expect(classifyFor(a, response(401, { error: { code: 401, status: 'UNAUTHENTICATED', message: 'token' } }))).toMatchObject({ action: 'retry', nodeFault: true });
  });
});
