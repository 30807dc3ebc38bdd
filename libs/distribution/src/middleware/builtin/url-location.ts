import { Type } from '@sinclair/typebox';
import { type CityResponse, Reader } from 'mmdb-lib';
import type { GeoPoint } from '../middleware';
import { normalizeUrl, urlScheme } from './task-urls';

/** Where data under a URL prefix, or on matching hosts, lives. Both matchers must match if given. */
export interface LocationRule {
  prefix?: string;
  host?: RegExp;
  location: GeoPoint;
}

/**
 * How a rule of the settings names data (the `distance` and `data-use` middlewares'): a URL prefix,
 * a host pattern, or both. Spread into the rule's object schema.
 */
export const URL_MATCH_PROPERTIES = {
  prefix: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'Input URLs that start with this, literally (a bare absolute path stands for a `file://` URL, in the rule and in the task alike).',
    }),
  ),
  host: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'Input URLs whose host matches this pattern, case-insensitively: `*` stands for any run of characters (dots too), `?` for one.',
    }),
  ),
};

/** Schemes whose authority is a network host; s3://, gs://, … name buckets, not hosts. */
const NETWORK_SCHEMES: ReadonlySet<string> = new Set(['http', 'https', 'ftp', 'ftps', 'sftp']);

/** `*.ebi.ac.uk` → a case-insensitive RegExp; `*` is any run of characters, `?` one character. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, 'i');
}

/** The URL's host in lower case without IPv6 brackets, or undefined. */
export function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase() || undefined;
  } catch {
    return undefined;
  }
}

/** An offline GeoIP database (MaxMind DB format, GeoIP2/GeoLite2 City or alike). */
export type GeoipDatabase = Reader<CityResponse>;

/** Opens a MaxMind database read into memory; throws when the data is not one. */
export function openGeoipDatabase(data: Buffer): GeoipDatabase {
  return new Reader<CityResponse>(data);
}

/** Where a URL's data is by the rules, or else the host whose address may place it, or neither. */
export type UrlPlace = { location: GeoPoint } | { host: string } | undefined;

/**
 * Places a storage URL by the configured rules; else, with a GeoIP database, names the host whose
 * address the database may place (network schemes only). Never asks an online service.
 */
export function placeUrl(
  url: string,
  rules: readonly LocationRule[],
  database?: GeoipDatabase,
): UrlPlace {
  const normalized = normalizeUrl(url);
  const host = hostOf(normalized);
  const rule = rules.find(
    (r) =>
      (r.prefix === undefined || normalized.startsWith(r.prefix)) &&
      (r.host === undefined || (host !== undefined && r.host.test(host))),
  );
  if (rule) return { location: rule.location };
  if (!database || !host || !NETWORK_SCHEMES.has(urlScheme(normalized) ?? '')) return undefined;
  return { host };
}

/** Where the offline GeoIP database puts an IP address, if it has a location for it. */
export function locateAddress(database: GeoipDatabase, address: string): GeoPoint | undefined {
  const location = database.get(address)?.location;
  return location && { latitude: location.latitude, longitude: location.longitude };
}
