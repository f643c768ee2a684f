/**
 * The Azure OpenAI adapter: OpenAI's wire format (no translation: bytes pass through, only
 * the model name spliced), Azure's URLs, `api-key` auth and error/rate-limit mapping.
 */
import type { ProviderAdapter } from '../types';
import { mapAzureError } from './errors';
import { azureAuthHeaders, azureTarget, type AzureOptions } from './url';
import { chatUsageOf } from '../openai/adapter';

export function azureAdapter(azure: AzureOptions): ProviderAdapter {
  return {
    name: 'azure',
    target: (node, model, path) => azureTarget(node, azure, model, path),
    authHeaders: azureAuthHeaders,
    usage: chatUsageOf,
    mapError: mapAzureError,
    // Listing models is unbilled and checks the key; v1 at /openai/v1/models, else /openai/models.
    probe: (node) => {
      const target = azureTarget(node, azure, '', '/models');
      return { url: target.ok ? target.value : node.baseUrl, method: 'GET' };
    },
  };
}
