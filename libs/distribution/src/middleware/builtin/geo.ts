import { MiddlewareError, type GeoPoint, type NodeCandidate } from '../middleware';
import { checkKeys, isRecord, settingError } from './settings';

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

const inRange = (value: unknown, limit: number): value is number =>
  typeof value === 'number' && Number.isFinite(value) && Math.abs(value) <= limit;

export function parseGeoPoint(value: unknown, setting: string): GeoPoint {
  if (!isRecord(value)) throw settingError(setting, 'must be { latitude, longitude }');
  checkKeys(value, ['latitude', 'longitude'], `${setting}.`);
  const { latitude, longitude } = value;
  if (!inRange(latitude, 90)) throw settingError(`${setting}.latitude`, 'must be in [-90, 90]');
  if (!inRange(longitude, 180)) {
    throw settingError(`${setting}.longitude`, 'must be in [-180, 180]');
  }
  return { latitude, longitude };
}

/** Named places, from `settings.regions: { name: { latitude, longitude } }`. */
export type Regions = ReadonlyMap<string, GeoPoint>;

export function parseRegions(value: unknown): Regions {
  if (value === undefined) return new Map();
  if (!isRecord(value)) throw settingError('regions', 'must map region names to locations');
  return new Map(
    Object.entries(value).map(([name, point]) => [name, parseGeoPoint(point, `regions.${name}`)]),
  );
}

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
