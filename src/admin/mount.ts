/**
 * The admin surface on the app: the console's files and the admin API (`app.ts` mounts it).
 */
import { type Context, type Hono } from 'hono';
import type { AppEnv } from '../bindings';
import { adminAnswerHeaders, adminGuard } from '../auth/admin-guard';
import { httpsOnly, markHttps } from '../auth/https-only';
import { keysRoutes } from './keys-routes';
import { metricsRoutes } from './metrics-routes';
import { routingRoutes } from './routing-routes';
import { usageRoutes } from './usage-routes';

/**
 * The console's files (`public/admin/`): the Worker runs first on `/admin` and `/admin/*`
 * (`run_worker_first` in wrangler.toml) so that they too are served over https only; then
 * Workers Assets serves them, with no token (the page asks for it). Every other path under
 * `/admin/` is the API, behind the token.
 */
const CONSOLE_FILES = ['/admin', '/admin/', '/admin/index.html', '/admin/console.js', '/admin/console.css', '/admin/vendor/*'];

/** The asset as Workers Assets answers it (its `_headers` included), with headers the app may add to. */
async function consoleFile(c: Context<AppEnv>): Promise<Response> {
  const asset = await c.env.ASSETS.fetch(c.req.raw);
  const res = new Response(asset.body, asset);
  markHttps(c.req.url, res.headers);
  return res;
}

export function mountAdmin(app: Hono<AppEnv>): void {
  for (const path of CONSOLE_FILES) app.on(['GET', 'HEAD'], path, httpsOnly(), consoleFile);
  // https before the token is looked at (`auth/https-only.ts`), then the token.
  app.use('/admin/*', adminAnswerHeaders(), httpsOnly(), adminGuard());
  app.route('/admin/keys', keysRoutes);
  app.route('/admin', routingRoutes);
  app.route('/admin', metricsRoutes);
  app.route('/admin', usageRoutes);
}
