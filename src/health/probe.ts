/**
 * Active probes: an unbilled `GET {baseUrl}{probePath}` per node (Anthropic: `GET {baseUrl}/models`;
 * Azure: the resource's models list; see each provider's adapter) with the node's own
 * credential and a timeout (redirects are failures, never followed), run in batches of six (a Worker may have six connections
 * waiting for headers at once).
 */
import type { HealthConfig, NodeConfig } from '../config/schema';
import { credentialFor } from '../forward/upstream';
import { fetchWithin } from '../http/fetch-within';
import { CredentialError } from '../providers/credential';
import { adapterFor } from '../providers/registry';
import type { ProbeResult } from './state';

const BATCH = 6;

export async function probeNode(node: NodeConfig, env: Record<string, unknown>, cfg: HealthConfig): Promise<ProbeResult> {
  const started = Date.now();
  const { credential, missing } = credentialFor(node, env);
  if (missing) return { ok: false, latencyMs: 0, error: `secret ${missing} is not set` };
  // OpenAI-compatible nodes: `probePath` under baseUrl; other providers: their adapter's own cheap probe.
  const adapter = adapterFor(node);
  const url = adapter.name === 'openai' ? node.baseUrl + cfg.probePath : adapter.probe(node).url;
  try {
    const headers: Record<string, string> = credential ? await adapter.authHeaders(credential, { url, method: 'GET', body: () => undefined }) : {};
    const status = await fetchWithin(url, { headers }, cfg.probeTimeoutMs, async (res) => {
      await res.body?.cancel();
      return res.status;
    });
    const latencyMs = Date.now() - started;
    if (status === 'timeout') return { ok: false, latencyMs, error: `timeout after ${cfg.probeTimeoutMs} ms` };
    return status >= 200 && status < 300 ? { ok: true, latencyMs } : { ok: false, latencyMs, error: `HTTP ${status}` };
  } catch (err) {
    if (err instanceof CredentialError) return { ok: false, latencyMs: Date.now() - started, error: err.message };
    return { ok: false, latencyMs: Date.now() - started, error: `connection failed (${String((err as Error)?.message ?? err).slice(0, 80)})` };
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
