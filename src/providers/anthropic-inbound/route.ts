/**
 * The edges of inbound `POST /v1/messages` and `/v1/messages/count_tokens` (Anthropic
 * callers: the Anthropic SDKs, Claude Code). The request runs the router's one pipeline
 * (`app.ts` `proxy`, endpoint `messages`); this module gives it Anthropic's face:
 * - every error, the router's own included (401, 403, 400, 429 from the limits, 503 after
 *   failover), as `{"type":"error","error":{"type","message"}}` with its status and headers
 *   (`retry-after`, `x-should-retry`), plus `request-id` as Anthropic sends it;
 * - the key's limits as Anthropic's headers (`anthropic-ratelimit-{requests,tokens}-{limit,
 *   remaining,reset}`, reset as an RFC 3339 time) beside the router's `x-ratelimit-*`.
 * count_tokens is answered from the router's estimate — text at 4 ASCII characters a token,
 * `limits.promptTokens: "estimate"`'s rule, whatever the setting: it is an answer a caller
 * plans with, not a reservation, so it aims close, not high (Messages requests themselves
 * reserve by the setting, the UTF-8 bound by default). It reaches no node, reserves nothing
 * and counts against no limit.
 */
import type { Context } from 'hono';
import * as z from 'zod';
import type { AppEnv } from '../../bindings';
import { authenticate } from '../../auth/keys';
import { loadConfig, type LoadedConfig } from '../../config/load';
import { errorBody, RouterError } from '../../errors/router-error';
import { estimatePromptTokens } from '../../limits/estimate';
import { imageSize } from '../../limits/image-size';
import { resolveModel } from '../../openai/models';
import { withCountedBody } from '../../openai/count-body';
import { openaiErrorToAnthropic } from './errors';

const KINDS = ['requests', 'tokens'] as const;

/** `1m0s`, `250ms`, `2h3m4s` (the router's `x-ratelimit-reset-*`) → ms. */
function durationMs(value: string): number | undefined {
  const match = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(value);
  if (!match || value === '') return undefined;
  const [, h = '0', m = '0', s = '0', ms = '0'] = match;
  return ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000 + Number(ms);
}

/** Anthropic's rate-limit headers from the router's own, for the same limits. */
export function anthropicRateLimitHeaders(routerHeaders: Record<string, string>, now = Date.now()): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kind of KINDS) {
    const limit = routerHeaders[`x-ratelimit-limit-${kind}`];
    const remaining = routerHeaders[`x-ratelimit-remaining-${kind}`];
    const reset = durationMs(routerHeaders[`x-ratelimit-reset-${kind}`] ?? '');
    if (limit !== undefined) out[`anthropic-ratelimit-${kind}-limit`] = limit;
    if (remaining !== undefined) out[`anthropic-ratelimit-${kind}-remaining`] = remaining;
    if (reset !== undefined) out[`anthropic-ratelimit-${kind}-reset`] = new Date(now + reset).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
  return out;
}

/** Any thrown value as the Anthropic error response a caller of `/v1/messages` gets. */
export function anthropicErrorResponse(thrown: unknown, c: Context<AppEnv>): Response {
  if (!(thrown instanceof RouterError)) {
    console.error(JSON.stringify({ requestId: c.get('requestId'), error: String(thrown), stack: (thrown as Error)?.stack }));
  }
  const err =
    thrown instanceof RouterError ? thrown : new RouterError(500, 'The router failed to handle this request. It has been logged with its request id.', { code: 'internal_error' });
  // The error's own headers win: a refusal carries the key's window as it saw it (at admission,
  // or reserving another attempt since), newer than the admission's state on the context.
  const limits = { ...c.get('rateLimitHeaders'), ...err.headers };
  const requestId = c.get('requestId') ?? '';
  const body = errorBody(err);
  // Anthropic's errors have no `param`: the field at fault goes into the message.
  if (err.param && !body.error.message.includes(err.param)) body.error.message += ` (${err.param})`;
  return new Response(JSON.stringify(openaiErrorToAnthropic(err.status, body)), {
    status: err.status,
    headers: { 'content-type': 'application/json', ...limits, ...anthropicRateLimitHeaders(limits), 'x-request-id': requestId, 'request-id': requestId },
  });
}

/** Wraps the pipeline for `/v1/messages` (its method guard too): Anthropic's headers on answers, Anthropic's errors. */
export function anthropicFace(handler: (c: Context<AppEnv>) => Promise<Response> | Response) {
  return async function messagesHandler(c: Context<AppEnv>): Promise<Response> {
    try {
      const response = await handler(c);
      for (const [name, value] of Object.entries(anthropicRateLimitHeaders(c.get('rateLimitHeaders') ?? {}))) response.headers.set(name, value);
      response.headers.set('request-id', c.get('requestId') ?? '');
      return response;
    } catch (err) {
      return anthropicErrorResponse(err, c);
    }
  };
}

const CountTokensSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(z.looseObject({ role: z.enum(['user', 'assistant']) })).min(1),
  system: z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]).optional(),
  tools: z.array(z.unknown()).optional(),
});

/** `POST /v1/messages/count_tokens`: the router's estimate of the prompt (the heuristic, not the bound), as `{input_tokens}`. */
export async function countTokens(c: Context<AppEnv>): Promise<Response> {
  const config = loadConfig(c.env);
  const key = await authenticate(c.req.raw, c.env.ROUTER_KV, { xApiKey: true });
  return withCountedBody(c, config, CountTokensSchema, (body) => countBody(c, config, key, body));
}

function countBody(c: Context<AppEnv>, config: LoadedConfig, key: { models?: string[] | undefined }, body: z.infer<typeof CountTokensSchema>): Response {
  resolveModel(config, body.model, key.models);
  const system = body.system === undefined ? 0 : estimatePromptTokens({ messages: [{ role: 'system', content: body.system }] }, imageSize, undefined, 'estimate');
  return c.json({ input_tokens: estimatePromptTokens(body, imageSize, undefined, 'estimate') + system });
}
