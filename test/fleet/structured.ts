/**
 * The simulated model's structured outputs: asked for a JSON schema (chat `response_format`,
 * Responses `text.format`), it answers JSON that satisfies it — the subset OpenAI's strict mode
 * takes: objects with their properties, arrays (empty unless `minItems`), strings (`enum`'s
 * first, else `"Hello from <node>"`), numbers, booleans, null, `anyOf` (the first), local
 * `$ref`s — so the SDKs' `parse()` helpers and the AI SDK's object output work against it.
 * `json_object` gets `{}`. Streams split the JSON into the usual number of pieces. A schema
 * that is not one (a subschema or `properties` that is not an object) is OpenAI's 400
 * `Invalid schema for response_format`, thrown as a `SchemaRefusal` the node answers with.
 */
type Json = Record<string, unknown>;

/** A schema OpenAI refuses with a 400 (`fleet.ts` answers it): what is wrong, and the parameter. */
export class SchemaRefusal extends Error {
  readonly param: string;
  constructor(message: string, param: string) {
    super(message);
    this.param = param;
  }
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function sample(schema: Json, root: Json, text: string, depth: number): unknown {
  if (depth > 16) return null;
  if (!isObject(schema)) throw new SchemaRefusal(`Invalid schema: ${JSON.stringify(schema)?.slice(0, 40)} is not a schema object.`, '');
  if (typeof schema.$ref === 'string') {
    const target = schema.$ref.replace(/^#\//, '').split('/').reduce<unknown>((at, key) => (at as Json | undefined)?.[key], root);
    return sample((target as Json | undefined) ?? {}, root, text, depth + 1);
  }
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if ('const' in schema) return schema.const;
  const anyOf = (schema.anyOf ?? schema.oneOf) as Json[] | undefined;
  if (Array.isArray(anyOf) && anyOf.length > 0) return sample(anyOf[0]!, root, text, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, Json>;
      if (!isObject(props)) throw new SchemaRefusal("Invalid schema: 'properties' must be an object.", '');
      return Object.fromEntries(Object.entries(props).map(([key, s]) => [key, sample(s, root, text, depth + 1)]));
    }
    case 'array':
      // A few items at most: the fleet writes a sample, not whatever `minItems` a caller sends.
      return Array.from({ length: Math.min(Math.max(0, Math.floor(Number(schema.minItems ?? 0)) || 0), 8) }, () => sample((schema.items ?? {}) as Json, root, text, depth + 1));
    case 'string':
      return text;
    case 'integer':
    case 'number':
      return Number(schema.minimum ?? 0);
    case 'boolean':
      return false;
    case 'null':
      return null;
    default:
      return {};
  }
}

/** The JSON text a body's structured-output request gets, or undefined when it asks for text. */
export function structuredAnswer(body: Json, nodeId: string): string | undefined {
  const chat = body.response_format as Json | undefined;
  const responses = (body.text as Json | undefined)?.format as Json | undefined;
  const format = chat ?? responses;
  if (format?.type === 'json_object') return '{}';
  if (format?.type !== 'json_schema') return undefined;
  const schema = ((chat ? (chat.json_schema as Json | undefined)?.schema : format.schema) ?? {}) as Json;
  const param = chat ? 'response_format' : 'text.format.schema';
  try {
    return JSON.stringify(sample(schema, schema, `Hello from ${nodeId}`, 0));
  } catch (err) {
    throw err instanceof SchemaRefusal ? new SchemaRefusal(`Invalid schema for ${param}: ${err.message}`, param) : err;
  }
}

/** `text` in `count` pieces (the last ones empty when it is short). */
export function pieces(text: string, count: number): string[] {
  const size = Math.ceil(text.length / Math.max(1, count));
  return Array.from({ length: count }, (_, i) => text.slice(i * size, (i + 1) * size));
}
