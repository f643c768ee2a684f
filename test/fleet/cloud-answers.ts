/**
 * What the simulated cloud nodes (Bedrock, Vertex) share: Anthropic Messages answers (JSON
 * and stream events) and AWS's binary event-stream framing.
 *
 * Frames are encoded by hand here (AWS "Event stream encoding": prelude, string headers,
 * payload, CRC32s via `node:zlib`) while the router decodes with `@smithy/eventstream-codec`:
 * two independent implementations, so a framing mistake on either side fails the tests.
 */
import { crc32 } from 'node:zlib';
import { completionTokens, type Knobs, type SimNode } from './shared.ts';
import { thinkingRule } from './anthropic.ts';
import { messagesInputTokens } from './tokens.ts';

/** One event-stream frame with string headers only (all Bedrock uses). */
export function encodeFrame(headers: Record<string, string>, payload: Buffer | string): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const n = Buffer.from(name, 'utf8');
    const v = Buffer.from(value, 'utf8');
    const h = Buffer.alloc(1 + n.length + 1 + 2 + v.length);
    h.writeUInt8(n.length, 0);
    n.copy(h, 1);
    h.writeUInt8(7, 1 + n.length); // 7 = string
    h.writeUInt16BE(v.length, 2 + n.length);
    v.copy(h, 4 + n.length);
    parts.push(h);
  }
  const headerBytes = Buffer.concat(parts);
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const total = 12 + headerBytes.length + body.length + 4;
  const out = Buffer.alloc(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(headerBytes.length, 4);
  out.writeUInt32BE(crc32(out.subarray(0, 8)), 8);
  headerBytes.copy(out, 12);
  body.copy(out, 12 + headerBytes.length);
  out.writeUInt32BE(crc32(out.subarray(0, total - 4)), total - 4);
  return out;
}

export const eventFrame = (type: string, payload: unknown) =>
  encodeFrame({ ':message-type': 'event', ':event-type': type, ':content-type': 'application/json' }, JSON.stringify(payload));

export const exceptionFrame = (type: string, message: string) =>
  encodeFrame({ ':message-type': 'exception', ':exception-type': type, ':content-type': 'application/json' }, JSON.stringify({ message }));

/** Cache figures the node reports (knobs), Anthropic's names. */
export function cacheUsage(k: Knobs) {
  return { cache_read_input_tokens: k.cacheReadTokens ?? 0, cache_creation_input_tokens: k.cacheWriteTokens ?? 0 };
}

/** A Messages answer for a Messages body (`max_tokens` caps the output). */
export function messagesAnswer(node: SimNode, body: Record<string, unknown>, model: string) {
  const k = node.knobs;
  const output = completionTokens(k, { max_tokens: body.max_tokens });
  return {
    id: `msg_${node.id}_${node.served}`,
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: `Hello from ${node.id}` }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: messagesInputTokens(body), output_tokens: output, ...cacheUsage(k) },
  };
}

/** The stream events of the same answer: `k.chunks` text deltas. */
export function messagesEvents(node: SimNode, body: Record<string, unknown>, model: string): Record<string, unknown>[] {
  const k = node.knobs;
  const answer = messagesAnswer(node, body, model);
  const events: Record<string, unknown>[] = [
    { type: 'message_start', message: { ...answer, content: [], stop_reason: null, usage: { ...answer.usage, output_tokens: 1 } } },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  ];
  for (let i = 0; i < k.chunks; i++) events.push({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: i === 0 ? `Hello from ${node.id}` : ` #${i}` } });
  events.push({ type: 'content_block_stop', index: 0 });
  // Knob `noMessageDelta`: the stream never says what it wrote (as on the Anthropic node).
  if (!(k as typeof k & { noMessageDelta?: boolean }).noMessageDelta)
    events.push({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: answer.usage.output_tokens } });
  events.push({ type: 'message_stop' });
  return events;
}

/** A strict check of a cloud Messages body: the platform's version, a cap, no `model`. */
export function cloudMessagesError(body: Record<string, unknown>, version: string, allowStream: boolean, model?: string): string | undefined {
  if (body.anthropic_version !== version) return `anthropic_version must be "${version}"`;
  if ('model' in body) return 'extraneous key [model] is not permitted';
  if (!allowStream && 'stream' in body) return 'extraneous key [stream] is not permitted';
  if (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 1) return 'max_tokens: required positive integer';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: required non-empty array';
  // Claude's own thinking rules, for the model the URL names.
  return thinkingRule(body, model) ?? undefined;
}
