/**
 * Azure OpenAI: both URL styles, the `api-key` header, and Azure's error bodies and
 * rate-limit headers mapped to the router's outcomes.
 */
import { describe, expect, it } from 'vitest';
import { azureAdapter } from '../../src/providers/azure/adapter';
import { azureRateLimit, mapAzureError } from '../../src/providers/azure/errors';
import { AzureOptionsSchema, azureTarget } from '../../src/providers/azure/url';

const GET = { url: 'https://node.example/v1/models', method: 'GET' as const, body: () => undefined };

const node = { baseUrl: 'https://contoso.openai.azure.com', modelMap: { 'gpt-4o': 'gpt4o-prod' } };
const deployments = { style: 'deployments', apiVersion: '2024-10-21' } as const;
const v1 = { style: 'v1' } as const;

describe('Azure target URLs', () => {
  it('puts the modelMap deployment and api-version into the deployments-style URL', () => {
    expect(azureTarget(node, deployments, 'gpt-4o', '/chat/completions')).toEqual({ ok: true, value: 'https://contoso.openai.azure.com/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21' });
    expect(azureTarget(node, deployments, 'text-embedding-3-small', '/embeddings')).toEqual({ ok: true, value: 'https://contoso.openai.azure.com/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21' });
  });

  it('sends Responses outside the deployment and keeps the path query', () => {
    expect(azureTarget(node, { style: 'deployments', apiVersion: '2025-04-01-preview' }, 'gpt-4o', '/responses/resp_1?include=x')).toEqual({
      ok: true,
      value: 'https://contoso.openai.azure.com/openai/responses/resp_1?include=x&api-version=2025-04-01-preview',
    });
  });

  it('uses /openai/v1 with no api-version for the v1 API, and adds one when set', () => {
    expect(azureTarget(node, v1, 'gpt-4o', '/chat/completions')).toEqual({ ok: true, value: 'https://contoso.openai.azure.com/openai/v1/chat/completions' });
    expect(azureTarget(node, { style: 'v1', apiVersion: 'preview' }, 'gpt-4o', '/responses')).toEqual({ ok: true, value: 'https://contoso.openai.azure.com/openai/v1/responses?api-version=preview' });
  });

  it('tolerates a baseUrl that already ends in /openai or /openai/v1', () => {
    for (const baseUrl of ['https://contoso.openai.azure.com/openai', 'https://contoso.openai.azure.com/openai/v1/']) {
      expect(azureTarget({ ...node, baseUrl }, v1, 'gpt-4o', '/embeddings')).toEqual({ ok: true, value: 'https://contoso.openai.azure.com/openai/v1/embeddings' });
    }
  });

  it('escapes the deployment name and refuses dot segments that would leave the deployment', () => {
    expect(azureTarget({ ...node, modelMap: { m: 'a/b' } }, deployments, 'm', '/chat/completions')).toMatchObject({ ok: true, value: expect.stringContaining('/deployments/a%2Fb/chat/completions') });
    expect(azureTarget(node, deployments, 'gpt-4o', '/responses/../deployments/x/chat/completions')).toMatchObject({ ok: false, error: { reason: 'invalid_shape' } });
  });

  it('refuses moderations, which Azure OpenAI does not have', () => {
    expect(azureTarget(node, v1, 'omni-moderation-latest', '/moderations')).toMatchObject({ ok: false, error: { reason: 'unsupported_endpoint' } });
  });

  it('validates per-node options: deployments need a dated api-version', () => {
    expect(AzureOptionsSchema.safeParse({ style: 'deployments' }).success).toBe(false);
    expect(AzureOptionsSchema.safeParse({ style: 'deployments', apiVersion: 'latest' }).success).toBe(false);
    // Before 2024-09-01-preview Azure refuses stream_options: every stream would fail as the caller's 400.
    expect(AzureOptionsSchema.safeParse({ style: 'deployments', apiVersion: '2024-06-01' }).success).toBe(false);
    expect(AzureOptionsSchema.safeParse({ style: 'deployments', apiVersion: '2024-09-01-preview' }).success).toBe(true);
    expect(AzureOptionsSchema.parse({ style: 'deployments', apiVersion: '2024-10-21' })).toEqual(deployments);
    expect(AzureOptionsSchema.parse({ style: 'v1' })).toEqual(v1);
  });
});

describe('Azure adapter', () => {
  it('authenticates with api-key, never Authorization', () => {
    expect(azureAdapter(v1).authHeaders('azure-secret', GET)).toEqual({ 'api-key': 'azure-secret' });
  });

  it('probes the models list of its style', () => {
    expect(azureAdapter(v1).probe(node)).toEqual({ url: 'https://contoso.openai.azure.com/openai/v1/models', method: 'GET' });
    expect(azureAdapter(deployments).probe(node)).toEqual({ url: 'https://contoso.openai.azure.com/openai/models?api-version=2024-10-21', method: 'GET' });
  });

  it('reads usage from the OpenAI-shaped answer', () => {
    expect(azureAdapter(v1).usage({ usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12, prompt_tokens_details: { cached_tokens: 4 } } })).toEqual({ promptTokens: 10, cachedTokens: 4, cacheWriteTokens: 0, completionTokens: 2 });
  });
});

describe('Azure errors and rate-limit headers', () => {
  it('maps 429 to rate limited with the retry-after-ms delay', () => {
    const body = { error: { code: '429', message: 'Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds.' } };
    expect(mapAzureError(429, new Headers({ 'retry-after-ms': '6000', 'retry-after': '6' }), body)).toEqual({
      status: 429,
      fault: 'rate-limited',
      retryAfterMs: 6000,
      body: { error: { message: 'The upstream provider rate-limited this request.', type: 'requests', param: null, code: '429' } },
    });
  });

  it('returns a content-filter 400 to the caller with its code and filter verdict', () => {
    const innererror = { code: 'ResponsibleAIPolicyViolation', content_filter_result: { hate: { filtered: true, severity: 'high' } } };
    const body = { error: { message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.", type: null, param: 'prompt', code: 'content_filter', status: 400, innererror } };
    const m = mapAzureError(400, new Headers(), body);
    expect(m).toMatchObject({ status: 400, fault: 'caller', body: { error: { type: 'invalid_request_error', param: 'prompt', code: 'content_filter', innererror } } });
    expect(m.body.error.message).toContain('content management policy');
  });

  it('treats a missing deployment as the node configuration fault it is', () => {
    const body = { error: { code: 'DeploymentNotFound', message: 'The API deployment for this resource does not exist.' } };
    expect(mapAzureError(404, new Headers(), body)).toMatchObject({ status: 502, fault: 'node', body: { error: { code: 'DeploymentNotFound', type: 'server_error' } } });
  });

  it('treats 401 as a node fault and 5xx as node faults; other 4xx are the caller\'s', () => {
    expect(mapAzureError(401, new Headers(), { error: { code: '401', message: 'Access denied due to invalid subscription key.' } })).toMatchObject({ fault: 'node', body: { error: { type: 'authentication_error' } } });
    expect(mapAzureError(500, new Headers(), null)).toMatchObject({ fault: 'node', status: 500 });
    expect(mapAzureError(422, new Headers(), { error: { message: 'bad', code: 'invalid_value' } })).toMatchObject({ fault: 'caller', body: { error: { message: 'bad' } } });
  });

  it('reads remaining requests and tokens from the quota headers', () => {
    expect(azureRateLimit(new Headers({ 'x-ratelimit-remaining-requests': '59', 'x-ratelimit-remaining-tokens': '79000', 'retry-after-ms': '250' }))).toEqual({ remainingRequests: 59, remainingTokens: 79000, retryAfterMs: 250 });
    expect(azureRateLimit(new Headers({ 'x-ratelimit-remaining-requests': 'lots' }))).toEqual({});
  });
});
