/**
 * Azure OpenAI nodes (provider `azure`), both URL styles, against a fleet node that checks
 * what Azure checks (`api-key`, `api-version`, the deployment in the path); Azure's errors as
 * router outcomes; and failover between an Azure and an Anthropic node serving one model.
 */
import { env } from 'cloudflare:workers';
import { createScheduledController } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import worker from '../../src/index';
import type { RouteTable } from '../../src/routing/scores';
import { clearRouteMemo } from '../../src/routing/table';
import { call, CF, newKey, nodeRequests, resetWorld, setNode, sseEvents } from './helpers';

/** Chicago: nearest the Anthropic node (IAD is nearest the Azure one). */
const ORD = { colo: 'ORD', latitude: '41.97', longitude: '-87.90', country: 'US', continent: 'NA' };

beforeEach(resetWorld);

describe('Azure OpenAI nodes', () => {
  it('deployments style: the deployment from modelMap in the path, api-version in the query, the key in api-key', async () => {
    const { key } = await newKey();
    const res = await call('/v1/chat/completions', { key, body: { model: 'azure-solo', messages: [{ role: 'user', content: 'Hi' }] } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe('Hello from p-azure');
    const [sent] = await nodeRequests('p-azure');
    expect(sent!.path).toBe('/openai/deployments/dep-solo/chat/completions?api-version=2024-10-21');
    expect(sent!.headers['api-key']).toBe('node-secret-azure-0006');
    expect(sent!.headers.authorization).toBeUndefined();
  });

  it('v1 style: /openai/v1/chat/completions, streamed through as OpenAI chunks', async () => {
    const { key } = await newKey();
    const res = await call('/v1/chat/completions', { key, body: { model: 'azure-v1', stream: true, messages: [{ role: 'user', content: 'Hi' }] } });
    expect(res.status).toBe(200);
    expect((await sseEvents(res)).at(-1)).toBe('[DONE]');
    const [sent] = await nodeRequests('p-azv1');
    expect(sent!.path).toBe('/openai/v1/chat/completions');
    expect(sent!.headers['api-key']).toBe('node-secret-azv1-0007');
  });

  it("a content-filter 400 is the caller's: returned with Azure's verdict, no other node tried", async () => {
    const { key } = await newKey();
    await setNode('p-azure', { contentFilter: true });
    const res = await call('/v1/chat/completions', { key, body: { model: 'azure-solo', messages: [{ role: 'user', content: 'Hi' }] } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; innererror?: { code: string } } };
    expect(body.error.code).toBe('content_filter');
    expect(body.error.innererror?.code).toBe('ResponsibleAIPolicyViolation');
    expect(res.headers.get('x-router-attempts')).toBe('1');
  });

  it("a content-filter 400 reaches a Messages caller (Claude Code on an Azure deployment) as Anthropic's invalid_request_error, at once, with Azure's message", async () => {
    const { key } = await newKey();
    await setNode('p-azure', { contentFilter: true });
    const res = await call('/v1/messages', { key, headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' }, body: { model: 'azure-solo', max_tokens: 20, messages: [{ role: 'user', content: 'Hi' }] } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(body.error.message).toMatch(/content management policy|filtered/i);
    expect(res.headers.get('x-router-attempts')).toBe('1');
  });

  it('a 429 with retry-after-ms fails over to the Anthropic node of the same model', async () => {
    const { key } = await newKey();
    await setNode('p-azure', { status: 429, retryAfterMs: 30_000 });
    const res = await call('/v1/chat/completions', { key, cf: CF.iad, body: { model: 'claude-x', messages: [{ role: 'user', content: 'Hi' }] } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('p-anth');
    expect(res.headers.get('x-router-attempts')).toBe('2');
    expect(await nodeRequests('p-azure')).toHaveLength(1);
  });

  it('failover both ways between an Azure and an Anthropic node serving claude-x', async () => {
    const { key } = await newKey();
    await setNode('p-anth', { status: 529 });
    const toAzure = await call('/v1/chat/completions', { key, cf: ORD, body: { model: 'claude-x', stream: true, messages: [{ role: 'user', content: 'Hi' }] } });
    expect(toAzure.headers.get('x-router-node')).toBe('p-azure');
    expect(toAzure.headers.get('x-router-attempts')).toBe('2');
    expect((await sseEvents(toAzure)).at(-1)).toBe('[DONE]');
    await resetWorld();
    await setNode('p-azure', { status: 503 });
    const toAnthropic = await call('/v1/chat/completions', { key, cf: CF.iad, body: { model: 'claude-x', stream: true, messages: [{ role: 'user', content: 'Hi' }] } });
    expect(toAnthropic.headers.get('x-router-node')).toBe('p-anth');
    expect(toAnthropic.headers.get('x-router-attempts')).toBe('2');
    expect((await sseEvents(toAnthropic)).at(-1)).toBe('[DONE]');
  });

  it('DeploymentNotFound (404) is a node fault: the next node answers', async () => {
    const { key } = await newKey();
    await setNode('p-azure', { knownDeployments: ['other'] });
    const res = await call('/v1/chat/completions', { key, cf: CF.iad, body: { model: 'claude-x', messages: [{ role: 'user', content: 'Hi' }] } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-router-node')).toBe('p-anth');
    expect(res.headers.get('x-router-attempts')).toBe('2');
  });

  it("probes each node the provider's way: Anthropic GET /v1/models with x-api-key, Azure's models list with api-key and api-version", async () => {
    await worker.scheduled(createScheduledController({ cron: '* * * * *' }) as never, env as never);
    clearRouteMemo();
    const table = await env.ROUTER_KV.get<RouteTable>('route:_default', 'json');
    expect(table!.health).toMatchObject({ 'p-anth': 'healthy', 'p-azure': 'healthy', 'p-azv1': 'healthy' });
    const [anth] = await nodeRequests('p-anth');
    expect(anth).toMatchObject({ path: '/v1/models', headers: { 'x-api-key': 'node-secret-anth-0005', 'anthropic-version': '2023-06-01' } });
    const [azure] = await nodeRequests('p-azure');
    expect(azure).toMatchObject({ path: '/openai/models?api-version=2024-10-21', headers: { 'api-key': 'node-secret-azure-0006' } });
    const [v1] = await nodeRequests('p-azv1');
    expect(v1).toMatchObject({ path: '/openai/v1/models', headers: { 'api-key': 'node-secret-azv1-0007' } });
  });

  it('Responses on Azure: created at /openai/responses, the stored response fetched there again with api-key and api-version', async () => {
    const { key } = await newKey();
    const created = await call('/v1/responses', { key, body: { model: 'azure-solo', input: 'Hi' } });
    expect(created.status).toBe(200);
    const { id } = (await created.json()) as { id: string };
    const fetched = await call(`/v1/responses/${id}`, { key });
    expect(fetched.status).toBe(200);
    expect(((await fetched.json()) as { id: string }).id).toBe(id);
    const [create, get] = await nodeRequests('p-azure');
    expect(create!.path).toBe('/openai/responses?api-version=2024-10-21');
    expect(get!.path).toMatch(/^\/openai\/responses\/[^/?]+\?api-version=2024-10-21$/);
    expect(get!.headers['api-key']).toBe('node-secret-azure-0006');
  });
});
