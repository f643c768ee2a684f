/**
 * Alerts on node state changes: a Slack/Discord-compatible `{"text": …}` POST to the
 * configured webhook. Sent in the background (never blocks probing); the message holds
 * node ids, states and reasons only — never a URL with credentials or a secret. Flapping
 * nodes are coalesced before they get here (`alert-coalesce.ts`). An alert
 * that does not arrive (timeout, connection failure, a status other than 2xx) is logged.
 */
import { fetchWithin } from '../http/fetch-within';
import type { NodeHealth } from './state';

export interface Transition {
  nodeId: string;
  from: NodeHealth['state'];
  to: NodeHealth['state'];
  reason: string;
}

const ICON = { healthy: '✅', degraded: '⚠️', down: '🔴' } as const;

/**
 * One alert's text. `changes` > 1: a summary of the changes held within the coalescing window
 * (`alert-coalesce.ts`), `from` being the state the node's last alert reported.
 */
export function alertText(t: Transition & { changes?: number }): string {
  const changes = t.changes ?? 1;
  if (changes <= 1) return `${ICON[t.to]} llm-edge-router: node ${t.nodeId} is ${t.to} (was ${t.from}): ${t.reason}`;
  return `${ICON[t.to]} llm-edge-router: node ${t.nodeId} is ${t.to} after ${changes} state changes since the last alert (which said ${t.from}); latest: ${t.reason}`;
}

/** POST one alert: `{text, node, from, to, changes}` (`changes` 1 for a single transition). */
export async function sendAlert(webhook: string, t: Transition & { changes?: number }): Promise<void> {
  const body = JSON.stringify({ text: alertText(t), node: t.nodeId, from: t.from, to: t.to, changes: t.changes ?? 1 });
  try {
    const sent = await fetchWithin(webhook, { method: 'POST', headers: { 'content-type': 'application/json' }, body }, 5_000, async (res) => {
      await res.body?.cancel();
      return res.status;
    });
    if (sent === 'timeout') console.error(JSON.stringify({ alert: 'webhook timed out', node: t.nodeId }));
    // A webhook that answers but refuses (Slack's 404 `no_service` for a removed hook, Discord's
    // 400 for `text` without `/slack`) loses the alert as surely as one that never answers.
    else if (sent < 200 || sent > 299) console.error(JSON.stringify({ alert: 'webhook refused', node: t.nodeId, status: sent }));
  } catch (err) {
    console.error(JSON.stringify({ alert: 'webhook failed', node: t.nodeId, error: String(err) }));
  }
}
