/**
 * Alerts on node state changes: a Slack/Discord-compatible `{"text": …}` POST to the
 * configured webhook. Sent in the background (never blocks probing); the message holds
 * node ids, states and reasons only — never a URL with credentials or a secret. An alert
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

export function alertText(t: Transition): string {
  return `${ICON[t.to]} llm-edge-router: node ${t.nodeId} is ${t.to} (was ${t.from}): ${t.reason}`;
}

export async function sendAlert(webhook: string, t: Transition): Promise<void> {
  const body = JSON.stringify({ text: alertText(t), node: t.nodeId, from: t.from, to: t.to });
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
