import { pbkdf2 } from 'node:crypto';
import { SettingsError } from '../middleware';
import { HostLookup, type LookupSettings } from './host-lookup';
import { type DnsServer, startDnsServer } from './testing/dns-server';

/*
 * Every lookup here goes through c-ares to a real DNS server on 127.0.0.1 (testing/dns-server.ts),
 * as the gateway's do; nothing is mocked. Only the cache's clock is the test's, to expire entries.
 */

const RECORDS = {
  'data.example.org': { a: '192.0.2.7', ttlSeconds: 600 },
  'short.example.org': { a: '192.0.2.8', ttlSeconds: 5 },
  'v6only.example.org': { aaaa: '2001:db8::7' },
  'early.example.org': { a: '192.0.2.1' },
};

const names = (count: number, prefix = 'h'): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}${i}.example.org`);

describe('HostLookup', () => {
  let server: DnsServer;
  let clock: number;
  const now = () => clock;
  const lookup = (settings: LookupSettings = {}, at: DnsServer = server) =>
    new HostLookup({ servers: [at.address], ...settings }, now);

  beforeAll(async () => (server = await startDnsServer(RECORDS)));
  afterAll(() => server.close());
  beforeEach(() => {
    server.queries.length = 0;
    clock = 1_000_000;
  });

  it('resolves names with one A query each, and IP addresses with none', async () => {
    const report = await lookup().resolveAll([
      'data.example.org',
      'DATA.Example.org',
      '198.51.100.4',
      '2001:db8::1',
    ]);
    expect(report).toEqual({
      addresses: new Map([
        ['data.example.org', '192.0.2.7'],
        ['198.51.100.4', '198.51.100.4'],
        ['2001:db8::1', '2001:db8::1'],
      ]),
      skipped: 0,
      unanswered: 0,
    });
    expect(server.queries).toEqual([{ name: 'data.example.org', type: 'A' }]);
  });

  it('asks for AAAA only when the name has no A record, never for a name that does not exist', async () => {
    const report = await lookup().resolveAll(['v6only.example.org', 'gone.example.org']);
    expect(report.addresses).toEqual(new Map([['v6only.example.org', '2001:db8::7']]));
    expect(server.queries).toEqual(
      expect.arrayContaining([
        { name: 'v6only.example.org', type: 'A' },
        { name: 'v6only.example.org', type: 'AAAA' },
        { name: 'gone.example.org', type: 'A' },
      ]),
    );
    expect(server.queries).toHaveLength(3);
  });

  it("caches addresses for the record's TTL at most cacheTtlSeconds, and failures for negativeTtlSeconds", async () => {
    const hosts = lookup({ cacheTtlSeconds: 60, negativeTtlSeconds: 10 });
    const asked = (name: string) => server.queries.filter((q) => q.name === name).length;
    const resolveAfter = async (seconds: number, ...host: string[]) => {
      clock += seconds * 1000;
      await hosts.resolveAll(host);
    };
    await resolveAfter(0, 'data.example.org', 'short.example.org', 'gone.example.org');
    await resolveAfter(4.999, 'short.example.org', 'gone.example.org');
    expect([asked('short.example.org'), asked('gone.example.org')]).toEqual([1, 1]);
    await resolveAfter(0.001, 'short.example.org'); // its record's TTL: 5 s
    await resolveAfter(4.999, 'gone.example.org');
    expect([asked('short.example.org'), asked('gone.example.org')]).toEqual([2, 1]);
    await resolveAfter(0.001, 'gone.example.org'); // negativeTtlSeconds: 10 s
    await resolveAfter(49.999, 'data.example.org');
    expect([asked('gone.example.org'), asked('data.example.org')]).toEqual([2, 1]);
    await resolveAfter(0.001, 'data.example.org'); // cacheTtlSeconds: 60 s (its record says 600)
    expect(asked('data.example.org')).toBe(2);
  });

  it('looks up at most maxHostsPerTask new names per task; cached names do not count', async () => {
    const hosts = lookup({ maxHostsPerTask: 3 });
    await hosts.resolveAll(['early.example.org']);
    const report = await hosts.resolveAll(['early.example.org', ...names(10)]);
    expect(report.skipped).toBe(7);
    expect(report.addresses.get('early.example.org')).toBe('192.0.2.1');
    expect(server.queries).toHaveLength(1 + 3);
  });

  it('keeps earlier answers cached through a task that names many hosts', async () => {
    const hosts = lookup({ maxHostsPerTask: 10, cacheSize: 20 });
    await hosts.resolveAll(['early.example.org']);
    const flood = await hosts.resolveAll(names(1_000, 'flood'));
    expect(flood.skipped).toBe(990);
    const again = await hosts.resolveAll(['early.example.org']);
    expect(again.addresses.get('early.example.org')).toBe('192.0.2.1');
    expect(server.queries.filter((q) => q.name === 'early.example.org')).toHaveLength(1);
    expect(server.queries).toHaveLength(1 + 10);
  });

  it('has at most `concurrency` lookups in flight, for all tasks together', async () => {
    const slow = await startDnsServer(
      Object.fromEntries(names(12).map((name) => [name, { a: '192.0.2.9' }])),
      { delayMs: 50 },
    );
    try {
      const hosts = lookup({ concurrency: 3, timeoutMs: 5_000, tries: 1 }, slow);
      const reports = await Promise.all([
        hosts.resolveAll(names(12).slice(0, 6)),
        hosts.resolveAll(names(12).slice(6)),
      ]);
      expect(reports.map((r) => r.addresses.size)).toEqual([6, 6]);
      expect(slow.queries).toHaveLength(12);
      expect(slow.peakPending).toBe(3);
    } finally {
      await slow.close();
    }
  });

  describe('against a server that never answers', () => {
    let silent: DnsServer;
    beforeAll(async () => (silent = await startDnsServer('silent')));
    afterAll(() => silent.close());
    beforeEach(() => (silent.queries.length = 0));

    it('gives up at the deadline, remembers the silence, and shares one query per name', async () => {
      const hosts = lookup({ timeoutMs: 50, tries: 2 }, silent);
      const [first, second] = await Promise.all([
        hosts.resolveAll(['dead.example.org']),
        hosts.resolveAll(['DEAD.example.org']),
      ]);
      expect(first).toEqual({ addresses: new Map(), skipped: 0, unanswered: 1 });
      expect(second).toEqual(first);
      const sent = silent.queries.length;
      expect(sent).toBeGreaterThanOrEqual(1);
      expect(sent).toBeLessThanOrEqual(2); // tries
      expect(await hosts.resolveAll(['dead.example.org'])).toEqual(first);
      expect(silent.queries).toHaveLength(sent);
    });

    it('leaves the thread pool free: file and crypto work finishes while lookups hang', async () => {
      // dns.lookup would run these on libuv's four threads; c-ares needs none of them.
      const hosts = lookup(
        { timeoutMs: 1_000, tries: 1, concurrency: 64, maxHostsPerTask: 64 },
        silent,
      );
      let lookupsDone = false;
      const lookups = hosts.resolveAll(names(64)).then((report) => {
        lookupsDone = true;
        return report;
      });
      const hashes = Array.from(
        { length: 8 },
        (_, i) =>
          new Promise<boolean>((resolve, reject) =>
            pbkdf2(`secret ${i}`, 'salt', 1_000, 32, 'sha256', (error) =>
              error ? reject(error) : resolve(lookupsDone),
            ),
          ),
      );
      expect(await Promise.all(hashes)).toEqual(Array(8).fill(false));
      expect((await lookups).unanswered).toBe(64);
    });

    it('gives up waiting for a slot at the deadline, without querying', async () => {
      const hosts = lookup({ timeoutMs: 100, tries: 1, concurrency: 1 }, silent);
      const report = await hosts.resolveAll(names(4));
      expect(report.unanswered).toBe(4);
      // The first lookup held the only resolver for (nearly) all of its deadline, which the others
      // spent waiting: at most one of them got it, with moments left, and none waited on.
      expect(silent.queries[0].name).toBe(names(1)[0]);
      expect(new Set(silent.queries.map((q) => q.name)).size).toBeLessThanOrEqual(2);
    });
  });

  it('refuses servers that are not IP addresses, and a cap the cache cannot hold', () => {
    const errors = (settings: LookupSettings) => {
      try {
        new HostLookup(settings);
        return [];
      } catch (error) {
        return (error as SettingsError).errors;
      }
    };
    expect(errors({ servers: ['10.0.0.2', '10.0.0.2:5353', '[::1]:53', '::1'] })).toEqual([]);
    expect(
      errors({ servers: ['dns.example.org', '10.0.0.2:99999'], maxHostsPerTask: 5, cacheSize: 4 }),
    ).toEqual([
      { field: 'lookup.servers[0]', reason: 'is not an IP address with an optional port' },
      { field: 'lookup.servers[1]', reason: 'is not an IP address with an optional port' },
      {
        field: 'lookup.maxHostsPerTask',
        reason: 'must not exceed lookup.cacheSize (one task could flush the cache)',
      },
    ]);
    expect(() => new HostLookup({ cacheSize: 0 + 1, maxHostsPerTask: 2 })).toThrow(SettingsError);
  });
});
