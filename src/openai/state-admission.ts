/**
 * A call on state a node holds — a stored response's follow-up (`response-routes.ts`), a
 * Conversations API call (`conversation-routes.ts`): it generates nothing and reserves no
 * tokens or spend, but is one of the key's requests — counted against `rpm`, holding a
 * `concurrency` slot until its answer is delivered.
 */
import type { Context } from 'hono';
import type { AppEnv } from '../bindings';
import type { KeyRecord } from '../auth/keys';
import type { LoadedConfig } from '../config/load';
import { logBackgroundFailure } from '../http/background';
import { admitKey } from '../limits/admission';

/**
 * Runs `work` admitted (its rate-limit headers passed in); the slot is freed once the answer
 * is delivered — `done`, for one still streaming, else at once. The request stays counted in its minute.
 */
export async function admitStateCall(
  c: Context<AppEnv>,
  config: LoadedConfig,
  key: KeyRecord & { id: string },
  work: (headers: Record<string, string>) => Promise<{ response: Response; done?: Promise<unknown> }>,
): Promise<Response> {
  const defer = (w: Promise<unknown>) => c.executionCtx.waitUntil(w.catch(logBackgroundFailure));
  const admission = await admitKey(c.env, config, key, { model: '-', tokens: 0, worstCostUsd: 0 }, defer);
  let done: Promise<unknown> = Promise.resolve();
  try {
    const answered = await work(admission.headers);
    if (answered.done) done = answered.done;
    return answered.response;
  } finally {
    defer(done.catch(() => undefined).then(() => admission.settle({})));
  }
}
