import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { type CityResponse, Reader } from 'mmdb-lib';
import type { GeoPoint } from '../middleware';
import { parseGeoPoint, type Regions } from './geo';
import type { CachedLookup } from './host-lookup';
import { checkKeys, isRecord, settingError } from './settings';
import { normalizeUrl, urlScheme } from './task-urls';

/** Where data under a URL prefix, or on matching hosts, lives. Both matchers must match if given. */
export interface LocationRule {
  prefix?: string;
  host?: RegExp;
  location: GeoPoint;
}

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

function optionalString(value: unknown, setting: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !value)
    throw settingError(setting, 'must be a non-empty string');
  return value;
}

/** `settings.rules`: [{ prefix?, host?, location? | region? }], tried in order. */
export function parseRules(value: unknown, regions: Regions): LocationRule[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw settingError('rules', 'must be a list');
  return value.map((rule: unknown, i): LocationRule => {
    const at = `rules[${i}]`;
    if (!isRecord(rule)) throw settingError(at, 'must be an object');
    checkKeys(rule, ['prefix', 'host', 'location', 'region'], `${at}.`);
    const prefix = optionalString(rule.prefix, `${at}.prefix`);
    const host = optionalString(rule.host, `${at}.host`);
    if (prefix === undefined && host === undefined) throw settingError(at, 'needs prefix or host');
    if ((rule.location === undefined) === (rule.region === undefined)) {
      throw settingError(at, 'needs exactly one of location and region');
    }
    const region = optionalString(rule.region, `${at}.region`);
    const location =
      region === undefined ? parseGeoPoint(rule.location, `${at}.location`) : regions.get(region);
    if (!location) throw settingError(`${at}.region`, `names an unknown region "${region}"`);
    return {
      ...(prefix !== undefined && { prefix: normalizeUrl(prefix) }),
      ...(host !== undefined && { host: globToRegExp(host) }),
      location,
    };
  });
}

/** The URL's host in lower case without IPv6 brackets, or undefined. */
function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Locates storage URLs: first by the configured rules, then by an offline GeoIP (MaxMind mmdb)
 * database over the address of the URL's host. Never asks an online service.
 */
export class UrlLocator {
  private readonly databases = new Map<string, Promise<Reader<CityResponse>>>();

  constructor(private readonly hosts: CachedLookup) {}

  async locate(
    url: string,
    rules: readonly LocationRule[],
    geoipDatabase?: string,
  ): Promise<GeoPoint | undefined> {
    const normalized = normalizeUrl(url);
    const host = hostOf(normalized);
    const rule = rules.find(
      (r) =>
        (r.prefix === undefined || normalized.startsWith(r.prefix)) &&
        (r.host === undefined || (host !== undefined && r.host.test(host))),
    );
    if (rule) return rule.location;
    if (!geoipDatabase || !host || !NETWORK_SCHEMES.has(urlScheme(normalized) ?? '')) {
      return undefined;
    }
    const address = isIP(host) ? host : await this.hosts.resolve(host);
    if (!address) return undefined;
    const location = (await this.database(geoipDatabase)).get(address)?.location;
    return location && { latitude: location.latitude, longitude: location.longitude };
  }

  /** Each database file is read once; a failed read is retried by the next task. */
  private database(path: string): Promise<Reader<CityResponse>> {
    let database = this.databases.get(path);
    if (!database) {
      database = readFile(path)
        .then((data) => new Reader<CityResponse>(data))
        .catch((error: Error) => {
          this.databases.delete(path);
          throw settingError('geoipDatabase', `names an unreadable database: ${error.message}`);
        });
      this.databases.set(path, database);
    }
    return database;
  }
}
