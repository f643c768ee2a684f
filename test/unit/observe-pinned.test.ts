/**
 * A pinned attempt (a Responses follow-up on the node holding its `previous_response_id`) is
 * the caller's choice of node: its good news teaches nothing — not the live view, not the
 * tables, and not the prefill fit (`forward/observe.ts`), which one caller's padded bodies
 * would otherwise pull for everyone.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig, type LoadedConfig } from '../../src/config/load';
import { observer, timingSays } from '../../src/forward/observe';
import type { IsolateState } from '../../src/forward/isolate-state';
import { parseJsonRequest } from '../../src/openai/requests';
import { LiveView } from '../../src/routing/live';

const r = parseConfig({ nodes: [{ id: 'a', baseUrl: 'https://x.test/v1', region: 'r', lat: 1, lon: 2, models: ['m'] }] });
if (!r.ok) throw new Error(r.message);
const config: LoadedConfig = r.config;

/**
 * Unpinned streams of one size (the node's level, no spread to learn a slope from), then
 * streams of growing sizes — pinned or not — whose first byte grows 0.01 ms per byte.
 */
function feed(pinned: boolean): LiveView {
  const live = new LiveView(config.routing.live);
  const state = { config, live } as unknown as IsolateState;
  for (let i = 0; i < 60; i++) {
    const spread = i >= 20;
    const bytes = spread ? 1_000 + (i % 8) * 8_000 : 1_000;
    const request = parseJsonRequest('responses', new TextEncoder().encode(JSON.stringify({ model: 'm', stream: true, input: 'x'.repeat(bytes) })));
    const input = { caller: { colo: 'FRA' }, config, request, ...(pinned && spread ? { pinned: { nodeId: 'a', previousResponseId: 'resp_1' } } : {}) };
    observer(input as never, state, timingSays(request))('a', 'm', 100 + bytes * 0.01, true);
  }
  return live;
}

describe('the prefill fit and pinned attempts', () => {
  it('learns from unpinned first bytes, and nothing from pinned ones', () => {
    expect(feed(false).prefill.read('FRA/responses/m')?.msPerByte).toBeGreaterThan(0.005);
    expect(feed(true).prefill.read('FRA/responses/m')?.msPerByte ?? 0).toBe(0);
  });
});
