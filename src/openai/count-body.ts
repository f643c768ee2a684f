/**
 * The body of a route the router answers by counting (`/v1/messages/count_tokens`,
 * `/v1/responses/input_tokens`), or sends on as it came (`/v1/conversations`, given `raw`): held in the isolate's body budget while it is read and
 * counted, as on every other route; read within `limits.maxBodyBytes` and its deadline; the
 * same checks as every JSON route (depth before the recursive estimate, names once); then held
 * to the route's schema — a 400 `invalid_request` naming the first issue.
 */
import type { Context } from 'hono';
import type * as z from 'zod';
import type { AppEnv } from '../bindings';
import type { LoadedConfig } from '../config/load';
import { RouterError } from '../errors/router-error';
import { readBodyCapped } from '../http/body';
import { withBodyBudget } from '../http/body-budget';
import { checkJsonShape } from '../http/json-shape';
import { MAX_JSON_DEPTH, parseJsonObject } from './requests';

export function withCountedBody<S extends z.ZodType>(c: Context<AppEnv>, config: LoadedConfig, schema: S, count: (body: z.infer<S>, raw: Uint8Array) => Response | Promise<Response>): Promise<Response> {
  const { limits } = config;
  return withBodyBudget(c.req.header('content-length'), limits.maxBodyBytes, limits, async () => {
    const raw = await readBodyCapped(c.req.raw, limits.maxBodyBytes, limits.bodyReadMs);
    checkJsonShape(raw, MAX_JSON_DEPTH);
    const parsed = schema.safeParse(parseJsonObject(raw).json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const param = issue?.path.join('.') || null;
      throw new RouterError(400, `Invalid request: ${param ?? 'body'}: ${issue?.message ?? 'invalid'}`, { code: 'invalid_request', param });
    }
    return count(parsed.data, raw);
  });
}
