/**
 * Worker entry: the HTTP app. (Durable Object classes and the cron handler are exported
 * here as they are added.)
 */
import { app } from './app';
import type { Bindings } from './bindings';

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Bindings>;
