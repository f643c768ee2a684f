/**
 * Usage in an audio endpoint's event stream, read as its bytes pass through untouched
 * (`relay.ts` `relayBytes`): a streamed transcription's `transcript.text.done` event
 * (gpt-4o-transcribe: `usage: {type: "tokens", input_tokens, input_token_details, output_tokens}`)
 * and a speech stream's `speech.audio.done` (`stream_format: "sse"`: `usage: {input_tokens,
 * output_tokens}`) — the event's own top-level `type` and `usage`, never text a transcript
 * carries (DESIGN "Settlement reads usage structurally"). Only those events are parsed. An
 * event longer than `maxEventBytes` ends the reading, not the stream; a stream without its
 * done event has no usage and settles at its reservation.
 */
import { spanValue, topLevelMembers } from '../http/json-top';
import { dataOf } from './sse-event';
import { SseSplitter } from './sse-split';
import { usageOfReported, type Usage } from './usage';

/** The events that close an audio stream with its usage. */
const DONE_TYPES: ReadonlySet<string> = new Set(['transcript.text.done', 'speech.audio.done']);
const MAYBE_DONE = /"(?:transcript\.text|speech\.audio)\.done"/;
const encoder = new TextEncoder();

export interface UsageTap {
  take(chunk: Uint8Array): void;
  usage(): Usage | undefined;
}

/** Reads the usage of an audio event stream's done event from the chunks it is given. */
export function audioUsageTap(maxEventBytes: number): UsageTap {
  const decoder = new TextDecoder();
  const splitter = new SseSplitter(maxEventBytes);
  let usage: Usage | undefined;
  let reading = true;
  return {
    take(chunk) {
      if (!reading) return;
      const split = splitter.push(decoder.decode(chunk, { stream: true }));
      for (const event of split.events) usage = doneUsage(event) ?? usage;
      if (split.tooLarge) reading = false;
    },
    usage: () => usage,
  };
}

/** The usage of a done event (`DONE_TYPES`, by its top-level `type`); undefined for any other event. */
export function doneUsage(event: string): Usage | undefined {
  if (!MAYBE_DONE.test(event)) return undefined;
  const bytes = encoder.encode(dataOf(event));
  const members = topLevelMembers(bytes, ['type', 'usage']);
  const type = spanValue(bytes, members.get('type'));
  if (typeof type !== 'string' || !DONE_TYPES.has(type)) return undefined;
  return usageOfReported(spanValue(bytes, members.get('usage')));
}
