/**
 * `GET /admin/metrics`: Prometheus text exposition (format 0.0.4) of what the isolate
 * that answers has counted since it started. Workers share no memory, so a scrape sees
 * one isolate: these are for a single `wrangler dev` and for benchmarks, not fleet totals.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../bindings';
import { isolateLeases } from '../limits/leases';

interface Metric {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: { labels: Record<string, string>; value: number }[];
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

export function exposition(metrics: Metric[]): string {
  const lines: string[] = [];
  for (const m of metrics) {
    lines.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
    for (const s of m.samples) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escape(v)}"`);
      lines.push(`${m.name}${labels.length ? `{${labels.join(',')}}` : ''} ${s.value}`);
    }
  }
  return lines.join('\n') + '\n';
}

export const metricsRoutes = new Hono<AppEnv>().get('/metrics', (c) => {
  const calls = isolateLeases.calls;
  const body = exposition([
    {
      name: 'llm_router_limiter_calls_total',
      help: 'Rate-limiter Durable Object calls made by admission: awaited by a request, or in the background (refills, reports).',
      type: 'counter',
      samples: [
        { labels: { wait: 'awaited' }, value: calls.awaited },
        { labels: { wait: 'background' }, value: calls.background },
      ],
    },
    {
      name: 'llm_router_leased_admissions_total',
      help: 'Requests admitted from a lease this isolate held, with no Durable Object call.',
      type: 'counter',
      samples: [{ labels: {}, value: calls.local }],
    },
  ]);
  return c.body(body, 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
});
