/**
 * Where the caller is, from `request.cf`, parsed defensively: any field may be missing,
 * and latitude/longitude arrive as strings. Local `wrangler dev` supplies a placeholder.
 */

export interface CallerLocation {
  lat?: number;
  lon?: number;
  colo?: string;
  country?: string;
  continent?: string;
}

function coordinate(value: unknown, limit: number): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(n) && Math.abs(n) <= limit ? n : undefined;
}

function code(value: unknown): string | undefined {
  return typeof value === 'string' && /^[A-Za-z0-9]{2,4}$/.test(value) ? value.toUpperCase() : undefined;
}

export function callerFromCf(cf: Record<string, unknown> | undefined): CallerLocation {
  if (!cf) return {};
  const lat = coordinate(cf.latitude, 90);
  const lon = coordinate(cf.longitude, 180);
  const both = lat !== undefined && lon !== undefined;
  return {
    ...(both ? { lat, lon } : {}),
    ...(code(cf.colo) ? { colo: code(cf.colo) } : {}),
    ...(code(cf.country) ? { country: code(cf.country) } : {}),
    ...(code(cf.continent) ? { continent: code(cf.continent) } : {}),
  };
}

const EARTH_RADIUS_KM = 6371;
const rad = (deg: number) => (deg * Math.PI) / 180;

/** Great-circle distance (haversine), km. */
export function distanceKm(aLat: number, aLon: number, bLat: number, bLon: number): number {
  const dLat = rad(bLat - aLat);
  const dLon = rad(bLon - aLon);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(aLat)) * Math.cos(rad(bLat)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}
