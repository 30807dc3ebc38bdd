import { promises as dns, type RecordWithTtl } from 'node:dns';
import { isIP } from 'node:net';
import { type Static, Type } from '@sinclair/typebox';
import { SettingsError } from '../middleware';

/*
 * Host lookups that one task cannot turn against the others. `dns.lookup` (getaddrinfo) runs on
 * libuv's thread pool, four threads shared with file and crypto work: a task naming many dead hosts
 * held them all, and every other request waited. These lookups go through c-ares
 * (`dns.promises.Resolver`), which sends its own UDP queries on the event loop, and are bounded
 * everywhere: a deadline per lookup, a limit on lookups in flight for all tasks together, a cap on
 * the hosts one task may have looked up, and a cache that one task can add at most that cap to.
 */

export const LookupSettingsSchema = Type.Object(
  {
    servers: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        maxItems: 8,
        description:
          "The DNS servers to ask, in order: each an IP address with an optional port (`10.0.0.2`, `10.0.0.2:5353`, `[2001:db8::1]:53`). Without it, the servers the gateway's host is configured with (`/etc/resolv.conf`).",
      }),
    ),
    timeoutMs: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10_000,
        default: 500,
        description:
          'How long one query waits for an answer before it is sent again (or to the next server). A lookup gives up after `timeoutMs` × `tries` in all, the time it waited for a free slot included, and the task is decided without that host.',
      }),
    ),
    tries: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 5,
        default: 2,
        description: 'How often a query is sent to each server before the lookup gives up.',
      }),
    ),
    concurrency: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 256,
        default: 16,
        description:
          'Lookups in flight at once, for all tasks together; more wait for a free slot (within their deadline).',
      }),
    ),
    maxHostsPerTask: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 1_000,
        default: 10,
        description:
          "Distinct host names one task may have looked up (hosts answered from the cache and IP addresses do not count; `0` looks up none). The task is decided without the others, and the middleware's decision says so. At most `cacheSize`.",
      }),
    ),
    cacheSize: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1_000_000,
        default: 10_000,
        description:
          'Answers kept (addresses and failures), least recently used dropped first. One task adds at most `maxHostsPerTask`, so it cannot flush the cache.',
      }),
    ),
    cacheTtlSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 86_400,
        default: 300,
        description:
          "How long an address is kept at most; less when the DNS record's own TTL is shorter. `0` keeps none.",
      }),
    ),
    negativeTtlSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 86_400,
        default: 60,
        description:
          'How long a name that has no address, or whose lookup was not answered, is remembered as such, so that a dead name does not cost every task. `0` remembers none.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      "How host names are looked up for the GeoIP database: through the DNS servers directly (never the operating system's resolver threads), bounded per lookup, per task and overall. A name is asked for its IPv4 address (A); its IPv6 address (AAAA) is asked only when it has no IPv4 one, so most names cost one query. Names are asked as they are: `/etc/hosts` and search domains are not used. IP addresses in URLs need no lookup. The limits and the cache are shared by all tasks of the chain.",
  },
);
export type LookupSettings = Static<typeof LookupSettingsSchema>;
type LookupOptions = Required<Omit<LookupSettings, 'servers'>> & Pick<LookupSettings, 'servers'>;

const DEFAULTS: Omit<LookupOptions, 'servers'> = {
  timeoutMs: 500,
  tries: 2,
  concurrency: 16,
  maxHostsPerTask: 10,
  cacheSize: 10_000,
  cacheTtlSeconds: 300,
  negativeTtlSeconds: 60,
};

/** Whether c-ares can take this server: an IP address, with an optional port (`[::1]:53`). */
function validServer(server: string): boolean {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(server) ?? /^([^:]+):(\d+)$/.exec(server);
  const [address, port] = match ? [match[1], Number(match[2])] : [server, 53];
  return isIP(address) !== 0 && port >= 1 && port <= 65_535;
}

/** What one lookup found: an address (kept for `ttlSeconds`), no address, or no answer in time. */
type Outcome =
  | { kind: 'found'; address: string; ttlSeconds: number }
  | { kind: 'none' }
  | { kind: 'unanswered'; asked: boolean };

/** c-ares codes of a query that got no answer: its timeout, or our deadline cancelling it. */
const UNANSWERED = new Set(['ETIMEOUT', 'ECANCELLED']);

const failed = (error: unknown): Outcome =>
  UNANSWERED.has((error as NodeJS.ErrnoException).code ?? '')
    ? { kind: 'unanswered', asked: true }
    : { kind: 'none' };

const found = ([record]: RecordWithTtl[]): Outcome =>
  record ? { kind: 'found', address: record.address, ttlSeconds: record.ttl } : { kind: 'none' };

/**
 * A's answer, or AAAA's when the name exists without an A record (ENODATA): one query for most
 * names, two only for IPv6-only ones; NXDOMAIN and timeouts end the lookup.
 */
async function addressOf(resolver: dns.Resolver, host: string): Promise<Outcome> {
  try {
    const a = await resolver.resolve4(host, { ttl: true });
    if (a.length) return found(a);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENODATA') return failed(error);
  }
  return resolver.resolve6(host, { ttl: true }).then(found, failed);
}

/**
 * At most `size` resolvers, each running one lookup at a time: the limit on lookups in flight.
 * One resolver per lookup lets a deadline cancel that lookup alone (`cancel` ends every query of
 * its resolver).
 */
class ResolverPool {
  private readonly idle: dns.Resolver[] = [];
  /** Lookups waiting for a resolver, first come first served. */
  private readonly waiting = new Set<(resolver: dns.Resolver) => void>();
  private created = 0;

  constructor(
    private readonly size: number,
    private readonly make: () => dns.Resolver,
  ) {}

  /** A free resolver, or undefined when none frees up within `waitMs`. */
  acquire(waitMs: number): Promise<dns.Resolver | undefined> {
    const free = this.idle.pop() ?? (this.created < this.size ? this.create() : undefined);
    if (free) return Promise.resolve(free);
    return new Promise((resolve) => {
      const take = (resolver: dns.Resolver) => {
        clearTimeout(timer);
        resolve(resolver);
      };
      const timer = setTimeout(() => {
        this.waiting.delete(take);
        resolve(undefined);
      }, waitMs);
      this.waiting.add(take);
    });
  }

  release(resolver: dns.Resolver): void {
    const [next] = this.waiting;
    if (!next) {
      this.idle.push(resolver);
      return;
    }
    this.waiting.delete(next);
    next(resolver);
  }

  private create(): dns.Resolver {
    this.created++;
    return this.make();
  }
}

interface CacheEntry {
  expires: number;
  address?: string;
  /** The lookup got no answer in time (rather than an answer without an address). */
  unanswered?: true;
}

/** What a task's hosts resolved to, and which of them it had to do without. */
export interface LookupReport {
  /** The address of each host that has one, IP addresses as themselves. */
  addresses: Map<string, string>;
  /** Hosts not looked up: beyond the task's `maxHostsPerTask`. */
  skipped: number;
  /** Hosts whose lookup got no answer within its deadline (now or when it was cached). */
  unanswered: number;
}

/**
 * The lookups of one distance middleware's settings, shared by all tasks of a chain: a pool of
 * c-ares resolvers, the answers cached (addresses and failures) in a bounded LRU, and concurrent
 * lookups of one host sharing one query.
 */
export class HostLookup {
  readonly options: LookupOptions;
  private readonly pool: ResolverPool;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<Outcome>>();

  /** Throws a SettingsError (under `lookup`) for a server c-ares cannot use. */
  constructor(
    settings: LookupSettings = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = { ...DEFAULTS, ...settings };
    const { servers, timeoutMs, tries, concurrency, maxHostsPerTask, cacheSize } = this.options;
    const errors = (servers ?? []).flatMap((server, i) =>
      validServer(server)
        ? []
        : [{ field: `lookup.servers[${i}]`, reason: 'is not an IP address with an optional port' }],
    );
    if (maxHostsPerTask > cacheSize) {
      errors.push({
        field: 'lookup.maxHostsPerTask',
        reason: 'must not exceed lookup.cacheSize (one task could flush the cache)',
      });
    }
    if (errors.length) throw new SettingsError(errors);
    this.pool = new ResolverPool(concurrency, () => {
      const resolver = new dns.Resolver({ timeout: timeoutMs, tries });
      if (servers) resolver.setServers(servers);
      return resolver;
    });
  }

  /** How long one lookup may take in all, waiting for a slot included. */
  get deadlineMs(): number {
    return this.options.timeoutMs * this.options.tries;
  }

  /**
   * The addresses of `hosts` (names, or IP addresses which need no lookup), case-insensitively.
   * Cached answers and lookups already running for another task are used as they are; at most
   * `maxHostsPerTask` new lookups are started, the other hosts are skipped.
   */
  async resolveAll(hosts: Iterable<string>): Promise<LookupReport> {
    const report: LookupReport = { addresses: new Map(), skipped: 0, unanswered: 0 };
    const pending: Promise<void>[] = [];
    let started = 0;
    for (const host of new Set([...hosts].map((h) => h.toLowerCase()))) {
      if (isIP(host)) {
        report.addresses.set(host, host);
        continue;
      }
      const cached = this.cached(host);
      if (cached) {
        if (cached.address !== undefined) report.addresses.set(host, cached.address);
        if (cached.unanswered) report.unanswered++;
        continue;
      }
      let lookup = this.inFlight.get(host);
      if (!lookup) {
        if (started >= this.options.maxHostsPerTask) {
          report.skipped++;
          continue;
        }
        started++;
        lookup = this.start(host);
      }
      pending.push(
        lookup.then((outcome) => {
          if (outcome.kind === 'found') report.addresses.set(host, outcome.address);
          if (outcome.kind === 'unanswered') report.unanswered++;
        }),
      );
    }
    await Promise.all(pending);
    return report;
  }

  /** The unexpired entry for `host`, made the most recently used. */
  private cached(host: string): CacheEntry | undefined {
    const entry = this.cache.get(host);
    if (!entry) return undefined;
    this.cache.delete(host);
    if (entry.expires <= this.now()) return undefined;
    this.cache.set(host, entry);
    return entry;
  }

  private start(host: string): Promise<Outcome> {
    const lookup = this.query(host).then((outcome) => {
      this.inFlight.delete(host);
      this.remember(host, outcome);
      return outcome;
    });
    this.inFlight.set(host, lookup);
    return lookup;
  }

  /** One lookup within its deadline: waiting for a resolver, then the queries, then cancelled. */
  private async query(host: string): Promise<Outcome> {
    const deadline = performance.now() + this.deadlineMs;
    const resolver = await this.pool.acquire(this.deadlineMs);
    if (!resolver) return { kind: 'unanswered', asked: false };
    const left = deadline - performance.now();
    if (left <= 0) {
      this.pool.release(resolver);
      return { kind: 'unanswered', asked: false };
    }
    const timer = setTimeout(() => resolver.cancel(), left);
    try {
      return await addressOf(resolver, host);
    } finally {
      clearTimeout(timer);
      this.pool.release(resolver);
    }
  }

  /**
   * Caches an answer: an address for its record's TTL (at most `cacheTtlSeconds`), a failure for
   * `negativeTtlSeconds`. A lookup that never got a slot asked nothing, so it is not remembered.
   */
  private remember(host: string, outcome: Outcome): void {
    if (outcome.kind === 'unanswered' && !outcome.asked) return;
    const { cacheTtlSeconds, negativeTtlSeconds, cacheSize } = this.options;
    const seconds =
      outcome.kind === 'found' ? Math.min(outcome.ttlSeconds, cacheTtlSeconds) : negativeTtlSeconds;
    if (seconds <= 0) return;
    this.cache.set(host, {
      expires: this.now() + seconds * 1000,
      ...(outcome.kind === 'found' && { address: outcome.address }),
      ...(outcome.kind === 'unanswered' && { unanswered: true }),
    });
    for (const oldest of this.cache.keys()) {
      if (this.cache.size <= cacheSize) break;
      this.cache.delete(oldest);
    }
  }
}
