/**
 * What the relay needs from one SSE event, read structurally (DESIGN "Settlement reads usage
 * structurally"): whether it ends the stream, and the usage it reports.
 *  - chat format (chat, completions, images): `data: [DONE]` ends it; usage is a chunk's
 *    top-level `usage` member (the `choices: []` chunk of `stream_options.include_usage`).
 *  - Responses: an event whose top-level `type` is `response.completed`, `.incomplete` or
 *    `.failed` ends it, and its `response.usage` is the usage.
 *  - images (`image_generation.*`, `image_edit.*`): OpenAI ends the stream after the last
 *    `….completed` event, with no `[DONE]` (`imageCompleted`; the relay counts them).
 * Caller text echoed inside an event (`metadata`, model output) sits in strings or nested
 * objects and never counts: `metadata: {"type": "response.completed"}` in
 * `response.created` does not end a stream, `metadata: {"usage": …}` is not usage.
 */
import { spanValue, topLevelMembers, topLevelValue } from '../http/json-top';
import { usageOfReported, type Usage } from './usage';

export type SseFormat = 'chat' | 'responses';

export interface EventReading {
  /** The stream's end marker. */
  terminal: boolean;
  usage?: Usage;
  /** A chat chunk that carries only usage (`choices: []`). */
  usageOnly: boolean;
}

const NOTHING: EventReading = { terminal: false, usageOnly: false };
const TERMINAL_TYPES = new Set(['response.completed', 'response.incomplete', 'response.failed']);
/** A cheap pre-check: only events that may be terminal are scanned (the rest are most of a stream). */
const MAYBE_TERMINAL = /"response\.(?:completed|incomplete|failed)"/;
const DONE = /^data:\s*\[DONE\]\s*$/m;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The event's data: its `data:` lines' values joined by line feeds (WHATWG SSE). One data
 * line (what OpenAI-style streams send) is sliced out without splitting the event: a
 * terminal event can be megabytes.
 */
export function dataOf(event: string): string {
  const at = event.startsWith('data:') ? 0 : event.indexOf('\ndata:') + 1 || -1;
  if (at < 0) return '';
  const end = event.indexOf('\n', at);
  if (end >= 0 && event.includes('\ndata:', end)) {
    return event
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n');
  }
  return event.slice(at + 5, end < 0 ? event.length : event[end - 1] === '\r' ? end - 1 : end).trimStart();
}

export function readEvent(event: string, format: SseFormat): EventReading {
  if (format === 'chat') {
    if (event.includes('[DONE]') && DONE.test(event)) return { terminal: true, usageOnly: false };
    if (!event.includes('"usage"')) return NOTHING;
    const bytes = encoder.encode(dataOf(event));
    const members = topLevelMembers(bytes, ['usage', 'choices']);
    const usage = usageOfReported(spanValue(bytes, members.get('usage')));
    if (!usage) return NOTHING;
    const choices = members.get('choices');
    const usageOnly = choices !== undefined && choices.end - choices.start < 32 && /^\[\s*\]$/.test(decoder.decode(bytes.subarray(choices.start, choices.end)));
    return { terminal: false, usage, usageOnly };
  }
  if (!MAYBE_TERMINAL.test(event)) return NOTHING;
  const bytes = encoder.encode(dataOf(event));
  const members = topLevelMembers(bytes, ['type', 'response']);
  const type = spanValue(bytes, members.get('type'));
  if (typeof type !== 'string' || !TERMINAL_TYPES.has(type)) return NOTHING;
  const response = members.get('response');
  const usage = response ? usageOfReported(topLevelValue(bytes, 'usage', response.start, response.end)) : undefined;
  return { terminal: true, usageOnly: false, ...(usage ? { usage } : {}) };
}

/** Image streams' finished-image events, by their top-level `type`. */
const IMAGE_COMPLETED_TYPES = new Set(['image_generation.completed', 'image_edit.completed']);

/**
 * Whether an image stream's event delivers a finished image (`image_generation.completed`,
 * `image_edit.completed`), read structurally: the name in a revised prompt is not the type.
 */
export function imageCompleted(event: string): boolean {
  if (!event.includes('_generation.completed"') && !event.includes('image_edit.completed"')) return false;
  const bytes = encoder.encode(dataOf(event));
  const type = spanValue(bytes, topLevelMembers(bytes, ['type']).get('type'));
  return typeof type === 'string' && IMAGE_COMPLETED_TYPES.has(type);
}
