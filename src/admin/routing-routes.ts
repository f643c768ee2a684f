/**
 * Admin views of routing: `/admin/route` explains the ranking for any location,
 * `/admin/status` shows node health and the colos with published tables, and
 * `/admin/tables` the expected latency in every published table (the console's heatmap).
 */
import { Hono } from 'hono/tiny';
import type { AppEnv } from '../bindings';
import { loadConfig, modelChain } from '../config/load';
import { RouterError } from '../errors/router-error';
import { liveLens } from '../forward/isolate-state';
import { resolveModel } from '../openai/models';
import { callerFromCf } from '../routing/geo';
import { rankCandidates, type Candidate } from '../routing/select';
import { loadRouteTable, publishedTables } from '../routing/table';

function describe(c: Candidate, rank: number | null) {
  const e = c.entry;
  return {
    node: c.node.id,
    region: c.node.region,
    rank,
    expectedMs: c.source === 'geo-class' || !Number.isFinite(c.expectedMs) ? null : Math.round(c.expectedMs),
    source: c.source,
    samples: Math.round(c.samples * 10) / 10,
    ...(e?.sampleMs !== undefined ? { sampleMs: Math.round(e.sampleMs) } : {}),
    ...(e?.priorMs !== undefined ? { priorMs: Math.round(e.priorMs) } : {}),
    ...(c.liveMs !== undefined ? { liveMs: Math.round(c.liveMs) } : {}),
    ...(e?.failureRate !== undefined ? { failureRate: Math.round(e.failureRate * 1000) / 1000 } : {}),
    health: c.health,
    ...(c.penaltyMs !== undefined ? { penaltyMs: Math.round(c.penaltyMs) } : {}),
    ...(c.excluded ? { excluded: c.excluded } : {}),
  };
}

export const routingRoutes = new Hono<AppEnv>()
  .get('/route', async (c) => {
    const config = loadConfig(c.env);
    const q = c.req.query();
    if (!q.model) throw new RouterError(400, 'Query parameter model is required.', { code: 'invalid_request', param: 'model' });
    const model = resolveModel(config, q.model);
    const caller = callerFromCf({ latitude: q.lat, longitude: q.lon, colo: q.colo, country: q.country, continent: q.continent });
    const table = await loadRouteTable(c.env.ROUTER_KV, caller.colo);
    const chain = modelChain(config, model);
    return c.json({
      model,
      caller,
      table: table ? { colo: table.colo, ageMs: Date.now() - table.generatedAt } : null,
      chain: chain.map((m) => {
        const live = liveLens(config, caller.colo, 'chat', m);
        const { ranked, excluded } = rankCandidates(config.nodesByModel.get(m) ?? [], caller, table, config.routing, live ? { live } : {});
        return { model: m, candidates: [...ranked.map((r, i) => describe(r, i + 1)), ...excluded.map((x) => describe(x, null))] };
      }),
      note: "Near-ties (within routing.tieMargin) are ordered by a weighted random draw per request. liveMs is the answering isolate's own recent first-byte estimate for chat from that colo, per model, blended into expectedMs.",
    });
  })
  .get('/status', async (c) => {
    const config = loadConfig(c.env);
    const status = await c.env.HEALTH_MONITOR.getByName('global').status();
    const now = Date.now();
    return c.json({
      nodes: config.nodes.map((n) => {
        const h = status.nodes[n.id];
        return {
          id: n.id,
          region: n.region,
          state: h?.state ?? 'healthy',
          reason: h?.reason ?? 'no probe yet',
          lastProbeMs: h?.lastProbeMs ?? null,
          lastProbeAgeMs: h?.lastProbeAt ? now - h.lastProbeAt : null,
          consecutiveFailures: h?.consecutiveFailures ?? 0,
          lastError: h?.lastError ?? null,
          lastLiveError: status.liveErrors[n.id] ? { ...status.liveErrors[n.id], ageMs: now - status.liveErrors[n.id]!.at } : null,
          stateSinceMs: h?.changedAt ? now - h.changedAt : null,
        };
      }),
      transitions: status.transitions.map((t) => ({ node: t.nodeId, from: t.from, to: t.to, reason: t.reason, at: new Date(t.at).toISOString(), ageMs: now - t.at })),
      colos: status.colos.map((x) => ({ colo: x.colo, tableAgeMs: x.publishedAt ? now - x.publishedAt : null })),
      lastCycleAgeMs: status.lastCycleAt ? now - status.lastCycleAt : null,
      lastPublishAgeMs: status.lastPublishAt ? now - status.lastPublishAt : null,
    });
  })
  .get('/tables', async (c) => {
    const status = await c.env.HEALTH_MONITOR.getByName('global').status();
    const tables = await publishedTables(c.env.ROUTER_KV, status.colos.map((x) => x.colo));
    return c.json({
      nodes: loadConfig(c.env).nodes.map((n) => n.id),
      colos: tables
        .map((t) => ({
          colo: t.colo,
          generatedAt: new Date(t.generatedAt).toISOString(),
          expectedMs: Object.fromEntries(Object.entries(t.nodes).map(([id, e]) => [id, Number.isFinite(e.expectedMs) ? Math.round(e.expectedMs) : null])),
          health: t.health,
        }))
        .sort((a, b) => a.colo.localeCompare(b.colo)),
    });
  });
