/**
 * Worker entry: the HTTP app and the Durable Object classes wrangler.toml binds.
 */
import { app } from './app';
import type { Bindings } from './bindings';

export { RateLimiter } from './limits/limiter-do';

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Bindings>;
