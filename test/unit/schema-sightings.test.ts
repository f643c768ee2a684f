/**
 * Structured-output schemas as the live view keys them (`routing/schema-sightings.ts`): what
 * constrains decoding is found wherever each API puts it; requests without any have no key.
 */
import { describe, expect, it } from 'vitest';
import { noteSchema, schemaHash, schemaOf, schemaSeen } from '../../src/routing/schema-sightings';

const schema = { type: 'object', properties: { a: { type: 'string' } } };

describe('schemaOf', () => {
  it('finds chat, Responses, Anthropic and vLLM schemas and strict tools; nothing else', () => {
    expect(schemaOf({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema } } })).toBeDefined();
    expect(schemaOf({ text: { format: { type: 'json_schema', name: 'x', schema } } })).toBeDefined();
    expect(schemaOf({ output_config: { format: { type: 'json_schema', schema } } })).toBeDefined();
    expect(schemaOf({ guided_json: schema })).toBeDefined();
    expect(schemaOf({ tools: [{ type: 'function', function: { name: 'f', strict: true, parameters: schema } }] })).toBeDefined();
    expect(schemaOf({ tools: [{ type: 'function', name: 'f', strict: true, parameters: schema }] })).toBeDefined();
    expect(schemaOf({ response_format: { type: 'json_object' }, text: { format: { type: 'text' } }, tools: [{ type: 'function', function: { name: 'f', parameters: schema } }] })).toBeUndefined();
  });

  it('keys a schema by its content, per node and model', async () => {
    const a = await schemaHash(schemaOf({ guided_json: schema })!);
    const b = await schemaHash(schemaOf({ guided_json: { ...schema, required: ['a'] } })!);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).not.toBe(b);
    expect(schemaSeen('n-1', 'm', a)).toBe(false);
    noteSchema('n-1', 'm', a);
    expect(schemaSeen('n-1', 'm', a)).toBe(true);
    expect(schemaSeen('n-2', 'm', a) || schemaSeen('n-1', 'm2', a) || schemaSeen('n-1', 'm', b)).toBe(false);
  });
});
