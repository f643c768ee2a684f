/**
 * The simulated model's function calls in the Responses API, by the rule chat follows
 * (`chat-answer.ts`): given function tools and a `tool_choice` other than `"none"`, it calls the
 * one `tool_choice` names, else the first, with `{"city":"Paris"}` — unless the input ends with
 * a `function_call_output` (the caller answered a call). The output item and its stream events
 * are OpenAI's: `response.output_item.added` (a `function_call` with empty arguments), argument
 * deltas, `response.function_call_arguments.done`, `response.output_item.done`.
 */
import { SIM_TOOL_ARGUMENTS } from './chat-answer.ts';

type Json = Record<string, unknown>;

/** The function the simulated model calls for this Responses body, or undefined for text. */
export function responsesToolToCall(body: Json): string | undefined {
  const tools = Array.isArray(body.tools) ? (body.tools as Json[]).filter((t) => t?.type === 'function') : [];
  const choice = body.tool_choice as Json | string | undefined;
  if (tools.length === 0 || choice === 'none') return undefined;
  if (Array.isArray(body.input) && (body.input.at(-1) as Json | undefined)?.type === 'function_call_output') return undefined;
  const named = typeof choice === 'object' && choice?.type === 'function' ? (choice.name as string | undefined) : undefined;
  return named ?? (tools[0]!.name as string | undefined);
}

/** The completed `function_call` output item. */
export function functionCallItem(name: string, served: number) {
  return { id: `fc_sim${served}`, type: 'function_call', status: 'completed', call_id: `call_sim${served}`, name, arguments: SIM_TOOL_ARGUMENTS };
}

/**
 * The events that stream `item` (after `response.in_progress`, before `response.completed`),
 * its arguments in `chunks` pieces; `deltas` are the indexes (within the returned list) of the
 * content events the stream knobs count.
 */
export function functionCallEvents(event: (type: string, data: Json) => string, item: ReturnType<typeof functionCallItem>, chunks: number): { events: string[]; deltas: number[] } {
  const size = Math.ceil(item.arguments.length / chunks);
  const events = [event('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', arguments: '' } })];
  const deltas: number[] = [];
  for (let i = 0; i * size < item.arguments.length; i++) {
    deltas.push(events.length);
    events.push(event('response.function_call_arguments.delta', { item_id: item.id, output_index: 0, delta: item.arguments.slice(i * size, (i + 1) * size) }));
  }
  events.push(
    event('response.function_call_arguments.done', { item_id: item.id, output_index: 0, arguments: item.arguments }),
    event('response.output_item.done', { output_index: 0, item }),
  );
  return { events, deltas };
}
