/**
 * The provider registry: which adapter speaks for a node (`nodes[].provider`), built once per
 * node config object and reused. The engine and the health probes reach providers only
 * through here; a new provider (Bedrock, Vertex) adds a case to `build` and its own folder.
 */
import type { NodeConfig } from '../config/schema';
import { anthropicAdapter } from './anthropic/adapter';
import { azureAdapter } from './azure/adapter';
import { bedrockProvider } from './bedrock/provider';
import { vertexProvider } from './vertex/provider';
import { isClaude } from './vertex/url';
import { openaiAdapter } from './openai/adapter';
import type { ProviderAdapter } from './types';

/** The wire format a node's chat answers come in: what the caller's format is compared with. */
export type WireFormat = 'openai' | 'anthropic';

const built = new WeakMap<NodeConfig, ProviderAdapter>();

function build(node: NodeConfig): ProviderAdapter {
  switch (node.provider) {
    case 'azure':
      // The schema refuses an azure node without `azure`; v1 is the safe reading if one slipped by.
      return azureAdapter(node.azure ?? { style: 'v1' });
    case 'anthropic':
      return anthropicAdapter(node.anthropicVersion);
    // The schema refuses bedrock / vertex nodes without their options.
    case 'bedrock':
      return bedrockProvider(node.bedrock!);
    case 'vertex':
      return vertexProvider(node.vertex!);
    default:
      // `openai`, and node objects built before the field existed (the schema's default).
      return openaiAdapter;
  }
}

/** The adapter for a node (memoised per config object: configs are loaded once per isolate). */
export function adapterFor(node: NodeConfig): ProviderAdapter {
  let adapter = built.get(node);
  if (!adapter) {
    adapter = build(node);
    built.set(node, adapter);
  }
  return adapter;
}

/**
 * The format a node speaks on the wire for a model. Bedrock (Converse) is translated like
 * Anthropic's; Vertex speaks OpenAI for Gemini (its openapi endpoint) and Messages for Claude.
 */
export function wireFormatOf(node: NodeConfig, upstreamModel?: string): WireFormat {
  if (node.provider === 'vertex') return upstreamModel !== undefined && isClaude(upstreamModel) ? 'anthropic' : 'openai';
  return node.provider === 'anthropic' || node.provider === 'bedrock' ? 'anthropic' : 'openai';
}
