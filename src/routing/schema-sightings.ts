/**
 * Structured-output schemas each node has answered, per model: a node processes a schema it has
 * not met before its first byte (OpenAI: "the first request with any schema will have additional
 * latency"; vLLM and SGLang compile its grammar), and a caller can send a new one every time —
 * each first byte then seconds late, read as the node's slowness, moving every caller's traffic
 * of the model off it. A first sighting's time is the caller's making: it feeds neither the live
 * view nor the colo's samples and is not counted in flight (`forward/observe.ts`, `engine.ts`);
 * its failures count. Keyed by a SHA-256 of the schemas, so a caller cannot pass a new schema
 * off as one met before. Per isolate, bounded (cleared whole when full).
 */

const MAX_SIGHTINGS = 10_000;
const seen = new Set<string>();

type Body = Record<string, unknown>;
const object = (v: unknown): Body | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Body) : undefined);

/** vLLM's own constrained-decoding parameters (each compiled as a schema is). */
const GUIDED = ['guided_json', 'guided_regex', 'guided_grammar', 'guided_choice', 'structured_outputs'];

/**
 * What constrains a request's decoding, as one string: a `json_schema` response format (chat's
 * `response_format`, Responses' `text.format`), Anthropic's `output_format` / `output_config.format`,
 * vLLM's guided parameters, and strict tools (`strict: true`, or chat's `function.strict`).
 * Undefined when nothing does.
 */
export function schemaOf(body: Body): string | undefined {
  const parts: unknown[] = [];
  const format = object(body.response_format);
  if (format?.type === 'json_schema') parts.push(['response_format', format]);
  const text = object(object(body.text)?.format);
  if (text?.type === 'json_schema') parts.push(['text', text]);
  if (body.output_format != null) parts.push(['output_format', body.output_format]);
  const config = object(body.output_config)?.format;
  if (config != null) parts.push(['output_config', config]);
  for (const name of GUIDED) if (body[name] != null) parts.push([name, body[name]]);
  if (Array.isArray(body.tools)) {
    for (const tool of body.tools) {
      const t = object(tool);
      if (t && (t.strict === true || object(t.function)?.strict === true)) parts.push(['tool', t]);
    }
  }
  return parts.length > 0 ? JSON.stringify(parts) : undefined;
}

/** The key of a request's schemas: `schemaOf`'s text, hashed. */
export async function schemaHash(schema: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(schema)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Whether `nodeId` has answered a request of `model` with these schemas (in this isolate). */
export function schemaSeen(nodeId: string, model: string, key: string): boolean {
  return seen.has(`${nodeId}>${model}>${key}`);
}

/** Notes that `nodeId` answered a request of `model` with these schemas. */
export function noteSchema(nodeId: string, model: string, key: string): void {
  if (seen.size >= MAX_SIGHTINGS) seen.clear();
  seen.add(`${nodeId}>${model}>${key}`);
}
