/**
 * Bedrock endpoints (AWS "Amazon Bedrock endpoints and quotas", Runtime API reference).
 *
 * Inference goes to `https://bedrock-runtime.{region}.amazonaws.com`:
 * `/model/{modelId}/converse`, `/converse-stream` (chat callers) and `/invoke`,
 * `/invoke-with-response-stream` (Anthropic Messages callers: the body is kept). `modelId`
 * is the node's `modelMap` name — a model id (`anthropic.claude-3-5-haiku-20241022-v1:0`),
 * a cross-region inference profile (`us.anthropic.…`) or an ARN — percent-encoded as one
 * path segment (`:` and `/` included, as the AWS SDKs do).
 *
 * The probe is the control plane's `GetFoundationModel`
 * (`GET https://bedrock.{region}.amazonaws.com/foundation-models/{modelIdentifier}`): signed,
 * unbilled, and it proves the credential and the region. A node whose `baseUrl` is not an
 * AWS host (a VPC endpoint, the simulated fleet) gets the probe on the same host.
 */
import { fail, ok, type Result } from '../types';

/**
 * Whether a model id names Claude: `anthropic.…`, or an inference profile `us.anthropic.…`
 * (AWS's model ids). A name Bedrock cannot be read from (a foundation-model or application
 * inference profile ARN) is not taken for Claude.
 */
export function isBedrockClaude(modelId: string): boolean {
  return /(^|\.)anthropic\./.test(modelId);
}

export type BedrockOperation = 'converse' | 'converse-stream' | 'invoke' | 'invoke-with-response-stream';

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** The runtime base for a region, unless the node names its own `baseUrl`. */
export function bedrockRuntimeBase(region: string, baseUrl?: string): Result<string> {
  if (!REGION.test(region)) return fail('unsupported_value', `"${region}" is not an AWS region name.`, 'region');
  return ok(baseUrl ? baseUrl.replace(/\/+$/, '') : `https://bedrock-runtime.${region}.amazonaws.com`);
}

export function bedrockModelUrl(base: string, modelId: string, op: BedrockOperation): Result<string> {
  if (modelId.length === 0 || modelId.length > 2048) return fail('invalid_shape', 'The Bedrock model id is empty or too long.', 'model');
  return ok(`${base}/model/${encodeURIComponent(modelId)}/${op}`);
}

/** The unbilled, signed probe: `GetFoundationModel` on the control plane of the runtime's region. */
export function bedrockProbeUrl(base: string, modelId: string): string {
  // Inference profiles (`us.anthropic.…`) are not foundation models: probe the model they name.
  const foundation = modelId.replace(/^(us|eu|apac|global|us-gov|jp|au|ca)\./, '');
  const url = new URL(base);
  url.hostname = url.hostname.replace(/^bedrock-runtime(-fips)?\./, 'bedrock$1.');
  return `${url.origin}/foundation-models/${encodeURIComponent(foundation)}`;
}
