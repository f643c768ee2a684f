import { describe, expect, it } from 'vitest';
import { parseConfig, type LoadedConfig } from '../../src/config/load';
import { planAttempts } from '../../src/forward/plan';
import { callerFromCf, distanceKm } from '../../src/routing/geo';

function config(): LoadedConfig {
  const node = (id: string, lat: number, lon: number, models: string[]) => ({
    id, baseUrl: `http://127.0.0.1:1/${id}/v1`, region: id, lat, lon, models,
  });
  const result = parseConfig({
    nodes: [
      node('us', 39, -77, ['m', 'fb']),
      node('eu', 50, 8, ['m']),
      { ...node('solo', -33, 151, ['only']), modelMap: { only: 'only-v2' } },
    ],
    models: { m: { fallbacks: ['fb'] }, only: { fallbacks: ['m'] } },
  });
  if (!result.ok) throw new Error(result.message);
  return result.config;
}
const none = () => 0;

describe('planAttempts', () => {
  it('orders nodes by distance, then walks the fallback chain', () => {
    const plan = planAttempts(config(), 'm', { lat: 48, lon: 2 }, null, none);
    expect(plan.attempts.map((a) => `${a.node.id}/${a.model}`)).toEqual(['eu/m', 'us/m', 'us/fb', 'us/fb']);
  });

  it('repeats a model’s sole node once, marked for backoff, and maps its upstream name', () => {
    const plan = planAttempts(config(), 'only', {}, null, none);
    expect(plan.attempts.slice(0, 2).map((a) => [a.node.id, a.upstreamModel, a.repeat])).toEqual([
      ['solo', 'only-v2', false],
      ['solo', 'only-v2', true],
    ]);
  });

  it('leaves out ejected nodes, reporting why', () => {
    const plan = planAttempts(config(), 'm', { lat: 48, lon: 2 }, null, (id: string) => (id === 'eu' ? 900 : 0));
    expect(plan.attempts.map((a) => a.node.id)).toEqual(['us', 'us', 'us']);
    expect(plan.skipped).toEqual([{ nodeId: 'eu', model: 'm', reason: 'ejected for 900 ms more' }]);
  });

  it('fails open when every node is ejected', () => {
    const plan = planAttempts(config(), 'm', {}, null, () => 100);
    expect(plan.attempts.length).toBeGreaterThan(0);
  });

  it('keeps config order for callers without coordinates', () => {
    expect(planAttempts(config(), 'm', {}, null, none).attempts[0]!.node.id).toBe('us');
  });
});

describe('callerFromCf', () => {
  it('parses string coordinates and codes', () => {
    expect(callerFromCf({ latitude: '35.6', longitude: '139.7', colo: 'nrt', country: 'JP', continent: 'AS' })).toEqual({
      lat: 35.6, lon: 139.7, colo: 'NRT', country: 'JP', continent: 'AS',
    });
  });
  it('drops missing, half or junk coordinates', () => {
    expect(callerFromCf({ latitude: '35.6' })).toEqual({});
    expect(callerFromCf({ latitude: 'x', longitude: '1' })).toEqual({});
    expect(callerFromCf({ latitude: '95', longitude: '1' })).toEqual({});
    expect(callerFromCf(undefined)).toEqual({});
  });
});

describe('distanceKm', () => {
  it('matches the known Frankfurt–Tokyo great-circle distance (~9,350 km)', () => {
    expect(distanceKm(50.11, 8.68, 35.68, 139.69)).toBeGreaterThan(9300);
    expect(distanceKm(50.11, 8.68, 35.68, 139.69)).toBeLessThan(9400);
  });
});
