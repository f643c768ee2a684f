/**
 * The body each attempt sends: the caller's own bytes unless something must change, and
 * then only what changes.
 *
 * JSON bodies: the top-level members that change are spliced into the caller's text (see
 * `http/json-members.ts`), so every other byte — big-integer seeds included — is as sent:
 * - `model`: the node's own name for the attempt's model (mappings, fallbacks);
 * - `stream_options.include_usage`: chat and completions streams always ask for usage;
 * - the output cap, when the caller set none: the figure the reservation holds, so the
 *   upstream cannot write past it (chat: the model's `defaultMaxTokens`, in the parameter
 *   the model accepts — `max_completion_tokens` for o-series and gpt-5, else `max_tokens`,
 *   renamed if the caller used the other; Responses: `max_output_tokens`; legacy
 *   completions: `max_tokens` 16, their usual default, made explicit);
 * - `previous_response_id` and `conversation`: the upstream's own id, restored from the router's tagged one.
 *
 * Multipart forms (audio uploads) go as the router read and wrote them (`openai/requests.ts`),
 * byte for byte on every attempt, re-formed only when the model name changes.
 */
import { defaultMaxTokensFor, maxTokensParamFor, type LoadedConfig } from '../config/load';
import { spliceMembers, type MemberEdits } from '../http/json-members';
import { ENDPOINTS } from '../openai/endpoints';
import type { ParsedRequest } from '../openai/requests';
import type { PlannedAttempt } from './plan';

const CHAT_CAPS = ['max_tokens', 'max_completion_tokens'] as const;

/** The output cap the caller set (per choice; for chat the larger, if both parameters are set). */
export function callerCap(request: Pick<ParsedRequest, 'endpoint' | 'body'>): number | undefined {
  const names = request.endpoint === 'chat' ? CHAT_CAPS : ENDPOINTS[request.endpoint].cap ? [ENDPOINTS[request.endpoint].cap!.param] : [];
  const caps = names.map((p) => request.body[p]).filter((v): v is number => typeof v === 'number');
  return caps.length > 0 ? Math.max(...caps) : undefined;
}

/** The cap a request without one gets for a model (undefined: the endpoint has no output cap). */
export function defaultCap(config: LoadedConfig, request: Pick<ParsedRequest, 'endpoint'>, model: string): number | undefined {
  const cap = ENDPOINTS[request.endpoint].cap;
  if (!cap) return undefined;
  return cap.default === 'model' ? defaultMaxTokensFor(config, model) : cap.default;
}

export interface BodyOptions {
  /** Ask the upstream for stream usage (the caller did not). */
  askUsage: boolean;
  /** The upstream's own id for the caller's `previous_response_id`. */
  previousResponseId?: string | undefined;
  /** The caller's `conversation` with the upstream's own id (`openai/conversation-ids.ts`). */
  conversation?: unknown;
}

export function attemptEdits(config: LoadedConfig, request: ParsedRequest, attempt: PlannedAttempt, options: BodyOptions): MemberEdits {
  const { body } = request;
  const set: Record<string, unknown> = {};
  const rename: Record<string, string> = {};
  // Written also where the caller named none and the router chose OpenAI's default (`requests.ts`).
  if (attempt.upstreamModel !== body.model || request.modelChosen) set.model = attempt.upstreamModel;
  if (options.askUsage) set.stream_options = { ...(body.stream_options as object | null | undefined), include_usage: true };
  if (options.previousResponseId !== undefined) set.previous_response_id = options.previousResponseId;
  if (options.conversation !== undefined) set.conversation = options.conversation;
  const spec = ENDPOINTS[request.endpoint].cap;
  if (!spec) return { set, rename };
  const param = request.endpoint === 'chat' ? maxTokensParamFor(config, attempt.model, attempt.upstreamModel) : spec.param;
  const cap = callerCap(request);
  if (cap === undefined) set[param] = defaultCap(config, request, attempt.model);
  else if (request.endpoint === 'chat' && body[param] !== cap) {
    const other = CHAT_CAPS.find((p) => p !== param)!;
    // Renamed only when the body has no member of that name at all: `"max_tokens":null`
    // beside the other cap would otherwise reach the node as `max_tokens` twice.
    const present = request.kind === 'json' && request.scanned.members.has(param);
    if (!present && body[other] === cap) rename[other] = param;
    else set[param] = cap;
  }
  return { set, rename };
}

function isEmpty(edits: MemberEdits): boolean {
  return Object.keys(edits.set ?? {}).length === 0 && Object.keys(edits.rename ?? {}).length === 0;
}

export interface AttemptBody {
  body: BodyInit;
  contentType: string;
}

/** Bodies per (model, upstream name), built once per request. */
export function bodyBuilder(config: LoadedConfig, request: ParsedRequest, options: BodyOptions): (attempt: PlannedAttempt) => AttemptBody {
  const cache = new Map<string, AttemptBody>();
  return (attempt) => {
    const key = `${attempt.model}\u0000${attempt.upstreamModel}`;
    let built = cache.get(key);
    if (built === undefined) {
      if (request.kind === 'multipart') {
        built = { body: request.raw, contentType: request.contentType };
        if (attempt.upstreamModel !== request.body.model) {
          const form = new FormData();
          for (const [name, value] of request.form) form.append(name, name === 'model' ? attempt.upstreamModel : value);
          // The runtime writes a fresh boundary and its content-type for a FormData body.
          built = { body: form, contentType: '' };
        }
      } else {
        const edits = attemptEdits(config, request, attempt, options);
        built = { body: isEmpty(edits) ? request.raw : spliceMembers(request.scanned, edits), contentType: 'application/json' };
      }
      cache.set(key, built);
    }
    return built;
  };
}
