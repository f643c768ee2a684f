/**
 * A request counts in the rollups' hour (and day) it started in, as its budget counts it in
 * the day it was admitted: a stream that crosses midnight UTC is not moved to the next day.
 * The object is a stand-in that keeps the rows it is sent (the hour is decided before any call).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import { resetIsolate } from '../../src/isolate';
import { recordRequest } from '../../src/usage/request-log';
import { flushRollups } from '../../src/usage/rollup-batch';
import type { RollupRow } from '../../src/usage/rollups-do';

const parsed = parseConfig({ nodes: [{ id: 'n', baseUrl: 'https://n.test/v1', region: 'r', lat: 0, lon: 0, models: ['m'] }], logging: { successSampleRate: 0 } });
if (!parsed.ok) throw new Error(parsed.message);
const config = parsed.config;

const MIDNIGHT = Date.UTC(2026, 10, 23);
const sent: RollupRow[] = [];
const ns = { getByName: () => ({ record: async (rows: RollupRow[]) => void sent.push(...rows) }) } as never;

beforeEach(() => {
  resetIsolate();
  sent.length = 0;
});

describe('rollup hour', () => {
  it('is the hour a request started in, not the one it ended in', async () => {
    const r = { requestId: 'req_1', keyId: 'key_1', model: 'm', answeredModel: 'm', node: 'n', colo: 'IAD', endpoint: 'chat', attempts: 1, status: 200, ttfbMs: 300, durationMs: 90_000 };
    recordRequest({}, config, r, MIDNIGHT + 30_000); // started 23:59:00, ended 00:00:30
    await flushRollups(ns, 1, MIDNIGHT + 30_000, true);
    expect(sent.map((row) => new Date(row.hour).toISOString())).toEqual(['2026-11-22T23:00:00.000Z']);
  });
});
