/**
 * Alert coalescing, pure: per node, at most one alert per `health.alertCoalesceMs`. A node
 * that flaps (down, up, down… every probe cycle) would otherwise send one webhook POST per
 * transition — a channel flooded until someone mutes it, and the alert that matters lost in
 * it. The first change after a quiet window is sent at once, and so is a change to a state
 * worse than the last alert reported (degraded, then down 20 s later: the down is not held
 * for the window); other changes within the window are held and counted, and the first cycle
 * after the window ends sends one summary: the state now, the state the last alert reported,
 * the latest reason and how many changes it covers. A node that recovered within the window
 * is therefore still reported, at most one window late; a flapping node sends at most one
 * alert a window beside its (at most two) escalations. `0` sends every transition as it happens.
 */
import type { Transition } from './alerts';
import type { NodeHealth } from './state';

/** Worse states rank higher: a change to a worse state than the last alert said is not held. */
const SEVERITY: Record<NodeHealth['state'], number> = { healthy: 0, degraded: 1, down: 2 };

/** What a node's last alert said, and what has happened since (stored by the HealthMonitor). */
export interface AlertMemo {
  /** When the node's last alert was sent. */
  sentAt: number;
  /** The state that alert reported. */
  reported: NodeHealth['state'];
  /** Transitions since, not yet sent. */
  held: number;
  /** The newest of them. */
  latest?: Transition;
}

/** An alert to send: a transition, or a summary of `changes` transitions (`from` = the state last reported). */
export interface Alert extends Transition {
  changes: number;
}

/**
 * This cycle's alerts and the memo to store. `transitions` holds at most one per node (the
 * health walk's); a node with held changes and no transition this cycle is flushed once its
 * window has passed. Entries with nothing held and their window over are dropped (they act as absent).
 */
export function coalesceAlerts(
  memo: Readonly<Record<string, AlertMemo>>,
  transitions: readonly Transition[],
  windowMs: number,
  now: number,
): { alerts: Alert[]; memo: Record<string, AlertMemo> } {
  const alerts: Alert[] = [];
  const next: Record<string, AlertMemo> = {};
  const byNode = new Map(transitions.map((t) => [t.nodeId, t]));
  for (const id of new Set([...Object.keys(memo), ...byNode.keys()])) {
    const m = memo[id];
    const t = byNode.get(id);
    const held = (m?.held ?? 0) + (t ? 1 : 0);
    const latest = t ?? m?.latest;
    const quiet = m === undefined || now - m.sentAt >= windowMs;
    const worse = t !== undefined && m !== undefined && SEVERITY[t.to] > SEVERITY[m.reported];
    if (held > 0 && latest && (quiet || worse)) {
      const from = held > 1 && m ? m.reported : latest.from;
      alerts.push({ nodeId: id, from, to: latest.to, reason: latest.reason, changes: held });
      next[id] = { sentAt: now, reported: latest.to, held: 0 };
    } else if (held > 0 && m) {
      next[id] = { ...m, held, ...(latest ? { latest } : {}) };
    } else if (m && !quiet) {
      next[id] = m;
    }
  }
  return { alerts, memo: next };
}
