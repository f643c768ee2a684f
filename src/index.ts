/**
 * Worker entry: the HTTP app, the cron handler, and the Durable Object classes
 * wrangler.toml binds (see src/storage-schema.md).
 */
import { app } from './app';
import type { Bindings } from './bindings';

export { RateLimiter } from './limits/limiter-do';
export { ColoStats } from './routing/colo-stats-do';
export { HealthMonitor } from './health/monitor-do';
export { UsageRollups } from './usage/rollups-do';
export { AuthThrottle } from './auth/throttle-do';

export default {
  fetch: app.fetch,
  /**
   * Every minute (cron runs in no particular colo): one probe cycle and table publish by the
   * HealthMonitor, which also re-arms its own alarm for sub-minute probing.
   */
  async scheduled(_controller, env) {
    await env.HEALTH_MONITOR.getByName('global').tick();
  },
} satisfies ExportedHandler<Bindings>;
