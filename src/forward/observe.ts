/**
 * What a request's attempts tell the router about nodes (`engine.ts` calls it per attempt):
 * which timings are evidence (`timingSays`, worked out once per request) and where each
 * sample goes — the colo's table (`input.observe`, batched to ColoStats) and the isolate's
 * live view (`routing/live.ts`), with the guards README "What feeds it" describes.
 */
import { imageWork } from '../limits/image-output';
import { drawsImages, ENDPOINTS } from '../openai/endpoints';
import type { ParsedRequest } from '../openai/requests';
import type { Usage } from './usage';
import { callerTimed } from '../routing/caller-timed';
import { noteSchema, schemaSeen } from '../routing/schema-sightings';
import { LIVE_MAX_PROMPT_BYTES } from '../routing/prefill';
import { heardFigures } from '../routing/samples';
import type { ForwardInput } from './engine';
import { coloScope, liveScope, type IsolateState } from './isolate-state';

/** What `observer` reads of the request being forwarded. */
type ObservedRequest = Pick<ForwardInput, 'caller' | 'config' | 'request' | 'pinned' | 'observe'>;

const UPLOADS = new Set(['transcriptions', 'translations']);

/**
 * A JSON generation: its time is judged with what it did taken out (`routing/output-rate.ts`;
 * `answerWork`) — completion tokens; for an image generation the image tokens its usage
 * reports (else `imageWork`); for a transcription or translation the audio its usage reports.
 */
const generation = (request: ParsedRequest) =>
  !request.stream &&
  ENDPOINTS[request.endpoint].quick !== true &&
  (ENDPOINTS[request.endpoint].charge === 'tokens' || drawsImages(request.endpoint) || UPLOADS.has(request.endpoint));

/** What one request's attempt timings say about nodes: worked out once per request (the body walked once), for every `observe`. */
export interface TimingSays {
  /** Past `LIVE_MAX_PROMPT_BYTES`: the live view only learns from it. */
  long: boolean;
  /** The caller's hosts (`routing/caller-timed.ts`) or a pinned follow-up's large stored context are in its time: only its failures count. */
  callerTimed: boolean;
  /** Its first-byte time is the node's: a stream or a quick endpoint, neither long nor caller-timed. */
  firstByte: boolean;
  /** A stream or a quick endpoint, not caller-timed, of any size: its time is a first byte (what the prefill fit learns from). */
  firstByteish: boolean;
  generation: boolean;
  /** What a generation's answer wrote when its usage says nothing (an image model without usage): undefined, no sample. */
  work?: number;
  /** The request's structured-output schemas (`routing/schema-sightings.ts`): a node's first sighting of them is the caller's time. */
  schema?: string;
  /** An audio upload (transcription, translation) of `bytes`: its work is the audio its usage reports; its body is no prompt (never long, no prefill; streamed past 64 KiB, caller-timed). */
  audio?: { bytes: number };
}

/**
 * Bytes a second of 48 kHz 16-bit stereo PCM, denser than any audio a transcription needs. An
 * upload denser still spends its time sending bytes its caller chose to send, not being heard.
 */
export const MAX_AUDIO_BYTES_PER_SECOND = 192_000;

/**
 * More than any answer does (tokens, audio seconds, image work): a node that reports more
 * teaches nothing — its figure would swamp the per-token fits' sums (past ~1e154, Infinity).
 */
const MAX_WORK = 10_000_000;

/** What a generation's answer did, in the unit its time is judged per (`generation`); undefined: no sample. */
export function answerWork(says: TimingSays, u: Usage | undefined): number | undefined {
  const work = workOf(says, u);
  return work !== undefined && work <= MAX_WORK ? work : undefined;
}

function workOf(says: TimingSays, u: Usage | undefined): number | undefined {
  // Whisper reports the seconds it billed, gpt-4o-transcribe its audio and text tokens; neither: nothing to weigh by.
  if (says.audio) {
    const seconds = u?.audio_seconds;
    if (seconds) return says.audio.bytes <= seconds * MAX_AUDIO_BYTES_PER_SECOND ? seconds : undefined;
    return (u && u.prompt_tokens + u.completion_tokens) || undefined;
  }
  // What it wrote by its usage; an image answer without usage (dall-e) by what it asked for.
  return u && (u.completion_tokens > 0 || says.work === undefined) ? u.completion_tokens : says.work;
}

/**
 * A pinned follow-up's stored context (a previous response's, a conversation's items) is read
 * before its first byte as a prompt is, but is not in its body: past this many tokens (about
 * `LIVE_MAX_PROMPT_BYTES` at 4 bytes a token) — or of a size unknown — its time is the
 * caller's making. A caller could otherwise grow a conversation (its items cost no tokens)
 * and stream on it: each first byte a long prefill, read as the node's bad news, moving
 * every other caller's traffic of the model off it.
 */
const MAX_STORED_TOKENS = LIVE_MAX_PROMPT_BYTES / 4;

export function timingSays(request: ParsedRequest, storedTokens = 0): TimingSays {
  // An upload's bytes are audio, not a prompt its node must read before it answers: never long, and not prefill (`observer`).
  const upload = UPLOADS.has(request.endpoint);
  const big = request.raw.byteLength > LIVE_MAX_PROMPT_BYTES;
  const long = !upload && big;
  // But a streamed upload's first byte waits for all of it, and nothing in it says how much audio
  // that was (a JSON answer's usage does): past the same size, a time of the caller's making.
  const caller = callerTimed(request.body) || (upload && request.stream && big) || !(storedTokens <= MAX_STORED_TOKENS);
  const firstByteish = (request.stream || ENDPOINTS[request.endpoint].quick === true) && !caller;
  const says: TimingSays = { long, callerTimed: caller, firstByte: firstByteish && !long, firstByteish, generation: generation(request) };
  if (drawsImages(request.endpoint)) says.work = imageWork(request.body);
  if (upload) says.audio = { bytes: request.raw.byteLength };
  return says;
}

/**
 * An attempt's latency sample: to the colo's table (every outcome) and to the isolate's live
 * view — there first-byte signals as measured, and JSON generations normalised by what they
 * wrote (`answered`); neither table nor live view averages in a raw generation time. `model`:
 * the attempt's (a fallback's own), whose levels the live view keeps apart (`liveScope`).
 */
export type Observe = (nodeId: string, model: string, ms: number, ok: boolean, error?: string, answered?: { model: string; tokens: number }) => void;

export function observer(input: ObservedRequest, state: IsolateState, says: TimingSays): Observe {
  const group = ENDPOINTS[input.request.endpoint].group;
  const colo = coloScope(input.caller.colo, group);
  const { enabled } = input.config.routing.live;
  // Pinned (a Responses follow-up): the caller chose the node, so only its bad news counts (`Evidence.forced`).
  const forced = input.pinned !== undefined;
  const use = !enabled || says.long ? 'learn' : forced ? 'forced' : 'feed';
  // The monitor's figures the last sample batch brought back (the fast channel): heard before this request is planned.
  const bytes = input.request.raw.byteLength;
  const heard = heardFigures();
  if (heard) state.live.hear(heard);
  return function observe(nodeId, model, ms, ok, error, answered) {
    // The caller's hosts in its time: a failure is still one, a time says nothing of the node.
    if (says.callerTimed && ok) return;
    // A schema the node meets for the first time: processed before its first byte, of the caller's choosing (`schema-sightings.ts`).
    if (ok && says.schema !== undefined) {
      const first = !schemaSeen(nodeId, model, says.schema);
      noteSchema(nodeId, model, says.schema);
      if (first) return;
    }
    const now = Date.now();
    const scope = liveScope(input.caller.colo, group, model);
    // Prefill: the time taken to the scope's mean body size (`routing/prefill.ts`); an unforced first byte or answer teaches the fit.
    if (ok && !says.audio) ms = state.live.prefilled(scope, nodeId, ms, bytes, now, !forced && (answered !== undefined || says.firstByteish), answered);
    if (answered) ms = state.live.observeAnswer(scope, model, nodeId, ms, answered.tokens, now, use);
    if (enabled && !answered && (says.firstByte || !ok)) state.live.observe(scope, nodeId, ms, ok, now, { forced });
    // The colo's tables likewise: a pinned caller could otherwise fill them with its node's good samples; and
    // their figure per node pools every model, so a model far slower to its first byte there stays out (`live-units.ts`).
    if (!ok || (!forced && state.live.pooled(colo, scope, model, nodeId, ms, now))) input.observe?.(nodeId, ms, ok, error);
  };
}
