/**
 * The simulated OpenAI-format model's tool calls: given function `tools`, it calls one, as the
 * Anthropic node does (`anthropic.ts`), so an SDK's tool loop — and the Messages ↔ chat
 * translation of `tool_use` — can be driven end to end through the router. Its rule: a
 * request with function tools whose `tool_choice` is not `"none"` and whose last message is
 * not a tool result calls the tool `tool_choice` names, else the first; the arguments are
 * always `{"city":"Paris"}`. A stream sends the arguments in pieces, one per content chunk.
 * Asked for structured output instead, it answers JSON that fits the schema (`structured.ts`);
 * asked for `n` choices, it gives (and bills) `n` copies of its answer.
 */
import { pieces, structuredAnswer } from './structured.ts';

type Json = Record<string, unknown>;

/** The arguments every simulated call carries. */
export const SIM_TOOL_ARGUMENTS = '{"city":"Paris"}';

/** The name of the function the simulated model calls for this chat body, or undefined for text. */
export function chatToolToCall(body: Json): string | undefined {
  const tools = Array.isArray(body.tools) ? (body.tools as Json[]).filter((t) => t?.type === 'function') : [];
  const choice = body.tool_choice as Json | string | undefined;
  if (tools.length === 0 || choice === 'none') return undefined;
  const messages = Array.isArray(body.messages) ? (body.messages as Json[]) : [];
  if (messages.at(-1)?.role === 'tool') return undefined;
  const named = typeof choice === 'object' ? ((choice?.function as Json | undefined)?.name as string | undefined) : undefined;
  return named ?? ((tools[0]!.function as Json | undefined)?.name as string | undefined);
}

const callId = (served: number) => `call_sim${served}`;

/** A JSON answer's message calling `name`. */
export function toolCallMessage(name: string, served: number) {
  return { role: 'assistant', content: null, tool_calls: [{ id: callId(served), type: 'function', function: { name, arguments: SIM_TOOL_ARGUMENTS } }] };
}

/** Stream chunk `i` of `chunks`: the first names the call, each carries its share of the arguments. */
export function toolCallDelta(name: string, served: number, i: number, chunks: number): Json {
  const size = Math.ceil(SIM_TOOL_ARGUMENTS.length / chunks);
  const args = SIM_TOOL_ARGUMENTS.slice(i * size, (i + 1) * size);
  const call = i === 0 ? { index: 0, id: callId(served), type: 'function', function: { name, arguments: args } } : { index: 0, function: { arguments: args } };
  return { ...(i === 0 ? { role: 'assistant', content: null } : {}), tool_calls: [call] };
}

/** What the simulated chat model answers a body with: a tool call, structured JSON, or its greeting. */
export interface ChatAnswer {
  tool?: string;
  /** Choices (`n`, default 1): each the same answer, each billed. */
  n: number;
  served: number;
  /** A JSON answer's text: the JSON asked for, else `Hello from <node>`. */
  content: string;
  /** A stream's text, one piece per content chunk: the same JSON, else the greeting then ` #1`, ` #2`, …. */
  pieces: string[];
}

export function chatAnswer(body: Json, nodeId: string, served: number, chunks: number): ChatAnswer {
  const structured = structuredAnswer(body, nodeId);
  const greeting = `Hello from ${nodeId}`;
  return {
    tool: chatToolToCall(body),
    n: typeof body.n === 'number' && body.n > 1 ? Math.floor(body.n) : 1,
    served,
    content: structured ?? greeting,
    pieces: structured === undefined ? [greeting, ...Array.from({ length: Math.max(0, chunks - 1) }, (_, i) => ` #${i + 1}`)] : pieces(structured, chunks),
  };
}

function chatMessage(a: ChatAnswer) {
  return a.tool ? toolCallMessage(a.tool, a.served) : { role: 'assistant', content: a.content };
}

function chatDelta(a: ChatAnswer, i: number): Json {
  if (a.tool) return toolCallDelta(a.tool, a.served, i, a.pieces.length);
  return i === 0 ? { role: 'assistant', content: a.pieces[0] } : { content: a.pieces[i] };
}

const finishReason = (a: ChatAnswer) => (a.tool ? 'tool_calls' : 'stop');

/** A JSON answer's `choices`. */
export function chatChoices(a: ChatAnswer) {
  return Array.from({ length: a.n }, (_, index) => ({ index, message: chatMessage(a), finish_reason: finishReason(a), logprobs: null }));
}

/** A stream chunk's `choices`: content chunk `i`, or the finishing chunk. */
export function chunkChoices(a: ChatAnswer, i: number | 'end') {
  return Array.from({ length: a.n }, (_, index) => (i === 'end' ? { index, delta: {}, finish_reason: finishReason(a) } : { index, delta: chatDelta(a, i), finish_reason: null }));
}
