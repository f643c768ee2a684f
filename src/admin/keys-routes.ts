/**
 * Admin API for caller keys: create (the key is shown once), list (never plaintext), revoke.
 */
import { Hono } from 'hono/tiny';
import * as z from 'zod';
import type { AppEnv } from '../bindings';
import { loadConfig, formatIssues } from '../config/load';
import { KeyLimitSchema } from '../config/schema';
import { RouterError } from '../errors/router-error';
import { createKey, getKeyById, listKeys, revokeKey } from '../auth/keys';
import { keyUsage } from '../limits/admission';
import { effectiveLimits } from './effective-limits';

const CreateKeySchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  limits: KeyLimitSchema.optional(),
  models: z.array(z.string().min(1)).min(1).optional(),
});

async function jsonBody(request: Request): Promise<unknown> {
  try {
    return await request.json();
  } catch {
    throw new RouterError(400, 'We could not parse the JSON body of your request.', { code: 'invalid_json' });
  }
}

export const keysRoutes = new Hono<AppEnv>()
  .post('/', async (c) => {
    const parsed = CreateKeySchema.safeParse(await jsonBody(c.req.raw));
    if (!parsed.success) {
      throw new RouterError(400, `Invalid key request: ${formatIssues(parsed.error)}`, { code: 'invalid_request' });
    }
    const config = loadConfig(c.env);
    const unknown = parsed.data.models?.filter((m) => !config.modelNames.has(m)) ?? [];
    if (unknown.length > 0) {
      throw new RouterError(400, `Unknown model(s): ${unknown.join(', ')}.`, { code: 'model_not_found', param: 'models' });
    }
    const { key, record } = await createKey(c.env.ROUTER_KV, parsed.data);
    return c.json({ ...record, key }, 201);
  })
  .get('/', async (c) => {
    const limit = c.req.query('limit') === undefined ? 100 : Number(c.req.query('limit'));
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new RouterError(400, 'limit must be a whole number from 1 to 1000.', { code: 'invalid_request', param: 'limit' });
    }
    const cursor = c.req.query('cursor');
    const page = await listKeys(c.env.ROUTER_KV, { limit, cursor }).catch((err: unknown) => {
      if (cursor) throw new RouterError(400, 'cursor is not one this API returned.', { code: 'invalid_request', param: 'cursor' });
      throw err;
    });
    const defaults = loadConfig(c.env).limits.defaults;
    const data = page.data.map((k) => ({ ...k, effectiveLimits: effectiveLimits(k.limits, defaults) }));
    return c.json({ object: 'list', data, has_more: page.nextCursor !== null, next_cursor: page.nextCursor });
  })
  .get('/:id/usage', async (c) => {
    const id = c.req.param('id');
    const entry = await getKeyById(c.env.ROUTER_KV, id);
    if (!entry) throw new RouterError(404, `No key with id '${id}'.`, { code: 'key_not_found' });
    const limits = { ...loadConfig(c.env).limits.defaults, ...entry.record.limits };
    const report = await keyUsage(c.env, id, (work) => c.executionCtx.waitUntil(work.catch(() => undefined)));
    return c.json({ id, name: entry.record.name, limits, ...report });
  })
  .delete('/:id', async (c) => {
    if (!(await revokeKey(c.env.ROUTER_KV, c.req.param('id')))) {
      throw new RouterError(404, `No key with id '${c.req.param('id')}'.`, { code: 'key_not_found' });
    }
    return c.body(null, 204);
  });
