/**
 * Active probes: an unbilled `GET {baseUrl}{probePath}` per node with the node's own
 * credential and a timeout, run in batches of six (a Worker may have six connections
 * waiting for headers at once).
 */
import type { HealthConfig, NodeConfig } from '../config/schema';
import type { ProbeResult } from './state';

const BATCH = 6;

export async function probeNode(node: NodeConfig, env: Record<string, unknown>, cfg: HealthConfig): Promise<ProbeResult> {
  const started = Date.now();
  const secret = node.apiKeyEnv ? env[node.apiKeyEnv] : undefined;
  if (node.apiKeyEnv && typeof secret !== 'string') return { ok: false, latencyMs: 0, error: `secret ${node.apiKeyEnv} is not set` };
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), cfg.probeTimeoutMs);
  try {
    const res = await fetch(node.baseUrl + cfg.probePath, {
      headers: typeof secret === 'string' ? { authorization: `Bearer ${secret}` } : {},
      signal: abort.signal,
    });
    await res.body?.cancel();
    const latencyMs = Date.now() - started;
    return res.ok ? { ok: true, latencyMs } : { ok: false, latencyMs, error: `HTTP ${res.status}` };
  } catch (err) {
    const latencyMs = Date.now() - started;
    if (abort.signal.aborted) return { ok: false, latencyMs, error: `timeout after ${cfg.probeTimeoutMs} ms` };
    return { ok: false, latencyMs, error: `connection failed (${String((err as Error)?.message ?? err).slice(0, 80)})` };
  } finally {
    clearTimeout(timer);
  }
}

export async function probeAll(nodes: readonly NodeConfig[], env: Record<string, unknown>, cfg: HealthConfig): Promise<Map<string, ProbeResult>> {
  const results = new Map<string, ProbeResult>();
  for (let i = 0; i < nodes.length; i += BATCH) {
    const batch = nodes.slice(i, i + BATCH);
    const done = await Promise.all(batch.map((n) => probeNode(n, env, cfg)));
    batch.forEach((n, j) => results.set(n.id, done[j]!));
  }
  return results;
}
