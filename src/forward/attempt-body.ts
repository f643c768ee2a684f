/**
 * The body each attempt sends: the caller's own bytes unless something must change, and
 * then only the top-level members that change, spliced into the caller's text (see
 * `http/json-members.ts`) so every other byte — big-integer seeds included — is as sent.
 *
 * What changes, per attempt:
 * - `model`: the node's own name for the attempt's model (mappings, fallbacks);
 * - `stream_options.include_usage`: streams always ask for usage (token settlement);
 * - the completion cap (chat): a request without one gets the model's `defaultMaxTokens` —
 *   the figure its reservation holds, so the upstream cannot write past it — and the cap
 *   travels in the parameter the model accepts (`max_completion_tokens` for o-series and
 *   gpt-5, else `max_tokens`), renamed if the caller used the other one.
 */
import { defaultMaxTokensFor, maxTokensParamFor, type LoadedConfig } from '../config/load';
import { spliceMembers, type MemberEdits } from '../http/json-members';
import type { ParsedRequest } from '../openai/requests';
import type { PlannedAttempt } from './plan';

const CAP_PARAMS = ['max_tokens', 'max_completion_tokens'] as const;

/** The completion cap the caller set (per choice; the larger, if both parameters are set). */
export function callerCap(body: Record<string, unknown>): number | undefined {
  const caps = CAP_PARAMS.map((p) => body[p]).filter((v): v is number => typeof v === 'number');
  return caps.length > 0 ? Math.max(...caps) : undefined;
}

export function attemptEdits(config: LoadedConfig, request: ParsedRequest, attempt: PlannedAttempt, askUsage: boolean): MemberEdits {
  const { body } = request;
  const set: Record<string, unknown> = {};
  const rename: Record<string, string> = {};
  if (attempt.upstreamModel !== body.model) set.model = attempt.upstreamModel;
  if (askUsage) set.stream_options = { ...(body.stream_options as object | null | undefined), include_usage: true };
  if (request.endpoint === 'chat') {
    const param = maxTokensParamFor(config, attempt.model, attempt.upstreamModel);
    const other = CAP_PARAMS.find((p) => p !== param)!;
    const cap = callerCap(body);
    if (cap === undefined) set[param] = defaultMaxTokensFor(config, attempt.model);
    else if (body[param] !== cap) {
      if (body[param] == null && body[other] === cap) rename[other] = param;
      else set[param] = cap;
    }
  }
  return { set, rename };
}

function isEmpty(edits: MemberEdits): boolean {
  return Object.keys(edits.set ?? {}).length === 0 && Object.keys(edits.rename ?? {}).length === 0;
}

/** Bodies per (model, upstream name), built once per request. */
export function bodyBuilder(config: LoadedConfig, request: ParsedRequest, askUsage: boolean): (attempt: PlannedAttempt) => BodyInit {
  const cache = new Map<string, BodyInit>();
  return (attempt) => {
    const key = `${attempt.model}\u0000${attempt.upstreamModel}`;
    let built = cache.get(key);
    if (built === undefined) {
      const edits = attemptEdits(config, request, attempt, askUsage);
      built = isEmpty(edits) ? request.raw : spliceMembers(request.scanned, edits);
      cache.set(key, built);
    }
    return built;
  };
}
