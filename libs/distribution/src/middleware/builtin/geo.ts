import { Type } from '@sinclair/typebox';
import { type GeoPoint, MiddlewareError, type NodeCandidate } from '../middleware';

/** Mean Earth radius (IUGG), km. */
const EARTH_RADIUS_KM = 6371.0088;
const RAD = Math.PI / 180;

/** Great-circle distance in km by the haversine formula. */
export function haversineKm(a: GeoPoint, b: GeoPoint): number {
  const dLat = (b.latitude - a.latitude) * RAD;
  const dLon = (b.longitude - a.longitude) * RAD;
  const h =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(a.latitude * RAD) * Math.cos(b.latitude * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** A place in settings: `{ latitude, longitude }` in degrees. */
export const geoPointSchema = (description?: string) =>
  Type.Object(
    {
      latitude: Type.Number({
        minimum: -90,
        maximum: 90,
        description: 'Degrees north; south is negative.',
      }),
      longitude: Type.Number({
        minimum: -180,
        maximum: 180,
        description: 'Degrees east; west is negative.',
      }),
    },
    { additionalProperties: false, ...(description && { description }) },
  );

/** Named places, from `settings.regions: { name: { latitude, longitude } }`. */
export type Regions = ReadonlyMap<string, GeoPoint>;

/** A node's place: its own location, else its region's; undefined when it declares neither. */
export function nodeLocation(candidate: NodeCandidate, regions: Regions): GeoPoint | undefined {
  const { location, region } = candidate.metadata;
  if (location || region === undefined) return location;
  const point = regions.get(region);
  if (!point) {
    throw new MiddlewareError(
      `node ${candidate.name} is in region "${region}", which setting "regions" does not define`,
    );
  }
  return point;
}
