/**
 * `GET /admin/metrics`: Prometheus text exposition (format 0.0.4).
 * - From the usage rollups (all isolates, since the first request): requests, errors, tokens
 *   and cost by key, model and node — counters that never go down: an hour leaving the
 *   rollups' 90-day retention is folded into all-time totals (`rollups-do.ts`), so no
 *   `rate()` or `increase()` reads a daily purge as a reset and the whole total as new.
 * - From the health monitor and the published tables: each node's state, and each colo's
 *   expected latency to each node.
 * - The answering isolate's own admission counters (Workers share no memory, so these are
 *   one isolate's: for `wrangler dev` and benchmarks).
 */
import { Hono } from 'hono/tiny';
import type { AppEnv } from '../bindings';
import { loadConfig } from '../config/load';
import { isolateLeases } from '../limits/leases';
import type { HealthState } from '../routing/scores';
import { publishedTables } from '../routing/table';
import { RouterError } from '../errors/router-error';
import { allTimeUsage, type CounterLabel } from '../usage/query';

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

const STATES: HealthState[] = ['healthy', 'degraded', 'down'];

const COUNTER_LABELS: readonly CounterLabel[] = ['key', 'model', 'node'];

/**
 * `labels`: which of key, model and node the usage counters carry (default all three). Each
 * key is a series per model and node it used; with thousands of keys an operator may drop
 * `key` (`labels=model,node`) and read per-key figures from `/admin/usage` instead.
 */
function counterLabels(param: string | undefined): CounterLabel[] {
  if (param === undefined) return [...COUNTER_LABELS];
  const asked = param.split(',').filter(Boolean);
  if (!asked.every((l): l is CounterLabel => (COUNTER_LABELS as string[]).includes(l)) || new Set(asked).size !== asked.length) {
    throw new RouterError(400, 'labels must list key, model and node, each at most once (comma-separated; empty: none).', { code: 'invalid_query', param: 'labels' });
  }
  return COUNTER_LABELS.filter((l) => asked.includes(l));
}

export const metricsRoutes = new Hono<AppEnv>().get('/metrics', async (c) => {
  const config = loadConfig(c.env);
  const labels = counterLabels(c.req.query('labels'));
  const [usage, status] = await Promise.all([
    allTimeUsage(c.env.USAGE_ROLLUPS, config.usage.shards, labels),
    c.env.HEALTH_MONITOR.getByName('global').status(),
  ]);
  const tables = await publishedTables(c.env.ROUTER_KV, status.colos.map((x) => x.colo));
  const labelsOf = (g: (typeof usage)[number]) => Object.fromEntries(labels.map((l) => [l, String(g[l])]));
  const byUsage = (value: (g: (typeof usage)[number]) => number) => usage.map((g) => ({ labels: labelsOf(g), value: value(g) }));
  const calls = isolateLeases.calls;
  const body = exposition([
    { name: 'llm_router_requests_total', help: 'Requests by key, answering model and node (node "-": none answered).', type: 'counter', samples: byUsage((g) => g.requests) },
    { name: 'llm_router_errors_total', help: 'Requests answered with a status of 400 or more.', type: 'counter', samples: byUsage((g) => g.errors) },
    {
      name: 'llm_router_tokens_total',
      help: 'Tokens by kind: input (prompt, cached included), cached (input served from the provider cache), output.',
      type: 'counter',
      samples: usage.flatMap((g) =>
        (['input', 'cached', 'output'] as const).map((kind) => ({
          labels: { ...labelsOf(g), kind },
          value: kind === 'input' ? g.inputTokens : kind === 'cached' ? g.cachedTokens : g.outputTokens,
        })),
      ),
    },
    { name: 'llm_router_cost_usd_total', help: 'Cost in USD of the requests with a known price.', type: 'counter', samples: byUsage((g) => g.costNano / 1e9) },
    { name: 'llm_router_unpriced_requests_total', help: 'Requests whose cost is unknown (no price, or no usage reported).', type: 'counter', samples: byUsage((g) => g.unpriced) },
    {
      name: 'llm_router_node_state',
      help: 'Node health: 1 for the state it is in, 0 for the others.',
      type: 'gauge',
      samples: config.nodes.flatMap((n) => STATES.map((state) => ({ labels: { node: n.id, state }, value: (status.nodes[n.id]?.state ?? 'healthy') === state ? 1 : 0 }))),
    },
    {
      name: 'llm_router_expected_latency_ms',
      help: "Expected time to first byte from a colo to a node, from the colo's published routing table.",
      type: 'gauge',
      samples: tables.flatMap((t) =>
        Object.entries(t.nodes)
          .filter(([, e]) => Number.isFinite(e.expectedMs))
          .map(([node, e]) => ({ labels: { colo: t.colo, node, source: e.source }, value: Math.round(e.expectedMs * 10) / 10 })),
      ),
    },
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
