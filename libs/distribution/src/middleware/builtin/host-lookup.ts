import { lookup } from 'node:dns/promises';

/** Resolves a host name to one IP address (rejecting when it cannot). */
export type HostLookup = (host: string) => Promise<string>;
export const HOST_LOOKUP = Symbol('HOST_LOOKUP');

/** The operating system's resolver (getaddrinfo), as every other connection of the process uses. */
export const systemLookup: HostLookup = async (host) => (await lookup(host)).address;

export interface LookupCacheOptions {
  timeoutMs: number;
  /** How long an address is reused. */
  ttlMs: number;
  /** How long a failure (or timeout) is remembered, so a dead name does not cost every task. */
  failureTtlMs: number;
  maxEntries: number;
}

export const LOOKUP_CACHE_DEFAULTS: LookupCacheOptions = {
  timeoutMs: 1_000,
  ttlMs: 5 * 60_000,
  failureTtlMs: 30_000,
  maxEntries: 1_000,
};

interface Entry {
  expires: number;
  address: Promise<string | undefined>;
}

/**
 * A bounded lookup: every call gives up after the timeout, and answers (and failures) are kept in a
 * small LRU with a TTL. Concurrent calls for one host share one query.
 */
export class CachedLookup {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly lookup: HostLookup,
    private readonly options: LookupCacheOptions = LOOKUP_CACHE_DEFAULTS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The host's address, or undefined when it cannot be resolved in time. */
  resolve(host: string): Promise<string | undefined> {
    const key = host.toLowerCase();
    const hit = this.entries.get(key);
    this.entries.delete(key);
    if (hit && hit.expires > this.now()) {
      this.entries.set(key, hit);
      return hit.address;
    }
    const entry: Entry = {
      expires: this.now() + this.options.ttlMs,
      address: withTimeout(this.lookup(host), this.options.timeoutMs).catch(() => {
        entry.expires = this.now() + this.options.failureTtlMs;
        return undefined;
      }),
    };
    this.entries.set(key, entry);
    if (this.entries.size > this.options.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    return entry.address;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
