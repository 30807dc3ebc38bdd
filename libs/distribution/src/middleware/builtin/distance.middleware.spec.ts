import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TesInput, TesTaskRequest } from '@protes/tes';
import { MiddlewareError, type NodeCandidate, type SettingsFiles } from '../middleware';
import { DirectorySettingsFiles } from '../settings-files';
import { DistanceMiddleware } from './distance.middleware';
import { type DnsServer, startDnsServer } from './testing/dns-server';
import { context, contextFor, names, node, settingsErrors, task } from './testing/fixtures';
import { buildMmdb, cityAt } from './testing/mmdb-writer';

const HEIDELBERG = { latitude: 49.3988, longitude: 8.6724 };
const BARCELONA = { latitude: 41.3874, longitude: 2.1686 };
const STOCKHOLM = { latitude: 59.3293, longitude: 18.0686 };

const regions = { heidelberg: HEIDELBERG, barcelona: BARCELONA, stockholm: STOCKHOLM };
const rules = [
  { host: '*.crg.eu', region: 'barcelona' },
  { prefix: 's3://sthlm-data/', location: STOCKHOLM },
  { prefix: '/mnt/hd/', region: 'heidelberg' },
];
const settings = { regions, rules };

/** Incoming order deliberately not the expected one. */
const nodes = () => [
  node('hd', { location: HEIDELBERG }),
  node('sto', { region: 'stockholm' }),
  node('bcn', { location: BARCELONA }),
];

const inputs = (...urls: string[]): TesInput[] => urls.map((url, i) => ({ url, path: `/in/${i}` }));

describe('DistanceMiddleware', () => {
  const middleware = new DistanceMiddleware();
  /** Handles a task as the chain would: settings checked and prepared first. */
  const handle = async (
    candidates: NodeCandidate[],
    t: TesTaskRequest,
    with_: Record<string, unknown> = settings,
    m = middleware,
    files?: SettingsFiles,
  ) => m.handle(await contextFor(m, candidates, t, with_, files));
  const rank = async (
    urls: string[],
    extra: Record<string, unknown> = {},
    m = middleware,
    files?: SettingsFiles,
  ) =>
    names(
      await handle(nodes(), task({ inputs: inputs(...urls) }), { ...settings, ...extra }, m, files),
    );

  it('is named distance', () => {
    expect(middleware.name).toBe('distance');
  });

  describe('with rules', () => {
    it('puts the node nearest to the data first', async () => {
      expect(await rank(['https://ftp.crg.eu/genomes/a.bam', 'https://FTP.CRG.EU/b.bam'])).toEqual([
        'bcn',
        'hd',
        'sto',
      ]);
      expect(await rank(['s3://sthlm-data/x.cram'])).toEqual(['sto', 'hd', 'bcn']);
      // A bare path is a file:// URL, and prefix rules match it either way.
      expect(await rank(['/mnt/hd/ref.fa'])).toEqual(['hd', 'bcn', 'sto']);
    });

    it('minimizes the total distance over all inputs', async () => {
      // Three inputs in Stockholm, one in Barcelona: Stockholm; one each: Barcelona and Stockholm
      // tie exactly (d(bcn,sto) either way) and keep their incoming order; Heidelberg is 4 km worse.
      const sthlm = 's3://sthlm-data/';
      expect(await rank([`${sthlm}1`, `${sthlm}2`, `${sthlm}3`, 'http://x.crg.eu/4'])).toEqual([
        'sto',
        'hd',
        'bcn',
      ]);
      expect(await rank([`${sthlm}1`, 'http://x.crg.eu/2'])).toEqual(['sto', 'bcn', 'hd']);
    });

    it('uses the first rule that matches, and needs both matchers of a rule to match', async () => {
      const both = [
        { host: 'data.example.org', prefix: 'https://data.example.org/eu/', region: 'barcelona' },
        { host: '*.example.org', region: 'stockholm' },
      ];
      expect(await rank(['https://data.example.org/eu/1'], { rules: both })).toEqual([
        'bcn',
        'hd',
        'sto',
      ]);
      expect(await rank(['https://data.example.org/us/1'], { rules: both })).toEqual([
        'sto',
        'hd',
        'bcn',
      ]);
    });

    it('weighs inputs by the sizes in protes.size tags when weightBySize is set', async () => {
      const sized = task({
        inputs: inputs(
          's3://sthlm-data/small',
          'https://ftp.crg.eu/big',
          'https://ftp.crg.eu/unknown',
        ),
        tags: {
          'protes.size:/in/0': '10000000',
          'protes.size:/in/1': '10',
          'protes.size:/in/2': 'n/a',
        },
      });
      const by = async (weightBySize: boolean) =>
        names(await handle(nodes(), sized, { ...settings, weightBySize }));
      expect(await by(false)).toEqual(['bcn', 'hd', 'sto']);
      // 10 MB in Stockholm against 10 B + (unknown: the mean of the known, ≈ 5 MB) in Barcelona.
      expect(await by(true)).toEqual(['sto', 'hd', 'bcn']);
    });

    it('ignores inline inputs and URLs no rule matches', async () => {
      const mixed = task({
        inputs: [
          { path: '/in/inline', content: 'ACGT', url: 's3://sthlm-data/ignored' },
          { path: '/in/remote', url: 'https://ftp.crg.eu/a' },
          { path: '/in/unknown', url: 'gs://somewhere/b' },
        ],
      });
      expect(names(await handle(nodes(), mixed))).toEqual(['bcn', 'hd', 'sto']);
    });
  });

  describe('ranking', () => {
    it('puts nodes without a location last and unhealthy nodes after healthy ones', async () => {
      const candidates = [
        node('nowhere'),
        node('sick-bcn', { location: BARCELONA }, { healthy: false }),
        ...nodes(),
      ];
      const out = await handle(candidates, task({ inputs: inputs('https://ftp.crg.eu/a') }));
      expect(names(out)).toEqual(['bcn', 'hd', 'sto', 'nowhere', 'sick-bcn']);
    });

    it('fails (so a fallback runs) when no input or no node can be located', async () => {
      await expect(rank(['gs://somewhere/x'])).rejects.toThrow(
        new MiddlewareError('no input of the task could be located'),
      );
      const inline = task({ inputs: [{ path: '/in/x', content: 'x' }] });
      await expect(handle(nodes(), inline)).rejects.toThrow(MiddlewareError);
      await expect(handle(nodes(), task())).rejects.toThrow(MiddlewareError);
      const unlocated = handle(
        [node('x'), node('y')],
        task({ inputs: inputs('s3://sthlm-data/a') }),
      );
      await expect(unlocated).rejects.toThrow(
        new MiddlewareError('no candidate node has a location'),
      );
    });

    it('fails naming "regions" when a node is in a region the settings do not define', async () => {
      await expect(
        handle([node('far', { region: 'mars' })], task({ inputs: inputs('s3://sthlm-data/a') })),
      ).rejects.toThrow('node far is in region "mars", which setting "regions" does not define');
    });

    it('fails when its settings were not prepared (a chain always prepares them)', async () => {
      await expect(
        middleware.handle(
          context(nodes(), task({ inputs: inputs('s3://sthlm-data/a') }), settings),
        ),
      ).rejects.toThrow(new MiddlewareError('its settings were not prepared'));
    });
  });

  describe('with a GeoIP database', () => {
    let dir: string;
    let allowed: string;
    let geoipDatabase: string;
    let files: SettingsFiles;
    const database = buildMmdb([
      { network: '127.0.0.1/32', data: cityAt(STOCKHOLM.latitude, STOCKHOLM.longitude) },
      { network: '127.0.0.2/32', data: { country: { iso_code: 'XX' } } },
      { network: '::1/128', data: cityAt(BARCELONA.latitude, BARCELONA.longitude) },
    ]);

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'protes-distance-'));
      allowed = join(dir, 'geo');
      mkdirSync(allowed);
      geoipDatabase = join(allowed, 'city.mmdb');
      writeFileSync(geoipDatabase, database);
      files = new DirectorySettingsFiles([allowed]);
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const geo = (urls: string[], extra: Record<string, unknown> = {}, m = middleware) =>
      rank(urls, { geoipDatabase, ...extra }, m, files);

    it('locates IP literal hosts without DNS', async () => {
      expect(await geo(['http://127.0.0.1:8000/data/x'], { rules: [] })).toEqual([
        'sto',
        'hd',
        'bcn',
      ]);
      expect(await geo(['ftp://[::1]/pub/x'], { rules: [] })).toEqual(['bcn', 'hd', 'sto']);
    });

    it('prefers rules over the database', async () => {
      const rule = [{ host: '127.0.0.1', region: 'heidelberg' }];
      expect(await geo(['http://127.0.0.1/x'], { rules: rule })).toEqual(['hd', 'bcn', 'sto']);
    });

    describe('looking host names up', () => {
      let dns: DnsServer;
      let silent: DnsServer;
      beforeAll(async () => {
        dns = await startDnsServer({
          'data.example.org': { a: '127.0.0.1' },
          'v6.example.org': { aaaa: '::1' },
        });
        silent = await startDnsServer('silent');
      });
      afterAll(async () => Promise.all([dns.close(), silent.close()]));
      beforeEach(() => (dns.queries.length = 0));

      /** A chain's context for these URLs, prepared once as the chain does for all its tasks. */
      const prepared = (lookup: Record<string, unknown>) => (urls: string[]) =>
        contextFor(
          middleware,
          nodes(),
          task({ inputs: inputs(...urls) }),
          { regions, geoipDatabase, lookup },
          files,
        );

      it('asks the configured DNS servers, once per host for all tasks of a chain', async () => {
        const ready = await prepared({ servers: [dns.address] })([
          'https://data.example.org/a',
          'https://DATA.example.org/b',
          'https://v6.example.org/c',
          'https://gone.example/d',
        ]);
        for (let i = 0; i < 2; i++) {
          const out = await middleware.handle({ ...ready });
          // Stockholm (data.example.org, twice) outweighs Barcelona (v6.example.org).
          expect(names(out)).toEqual(['sto', 'hd', 'bcn']);
          expect(out.reason).toBeUndefined();
        }
        expect(dns.queries.map((q) => `${q.type} ${q.name}`).sort()).toEqual([
          'A data.example.org',
          'A gone.example',
          'A v6.example.org',
          'AAAA v6.example.org',
        ]);
      });

      it('looks up only network schemes, and skips records without a location', async () => {
        const ready = await prepared({ servers: [dns.address] })([
          's3://bucket/x',
          'gs://bucket/y',
          'file:///z',
          'http://127.0.0.2/y',
        ]);
        await expect(middleware.handle(ready)).rejects.toThrow(
          new MiddlewareError('no input of the task could be located'),
        );
        expect(dns.queries).toEqual([]);
      });

      it('decides without the hosts past lookup.maxHostsPerTask, and says so', async () => {
        const many = Array.from({ length: 5 }, (_, i) => `https://h${i}.example.org/x`);
        const ready = await prepared({ servers: [dns.address], maxHostsPerTask: 2 })([
          'ftp://[::1]/located-without-dns',
          ...many,
        ]);
        const out = await middleware.handle(ready);
        expect(names(out)).toEqual(['bcn', 'hd', 'sto']);
        expect(out.reason).toBe(
          'decided without 3 input hosts: 3 not looked up (over lookup.maxHostsPerTask, 2)',
        );
        expect(dns.queries).toHaveLength(2);
      });

      it('decides without the hosts a server does not answer in time, or fails saying so', async () => {
        const dead = prepared({ servers: [silent.address], timeoutMs: 20, tries: 1 });
        const out = await middleware.handle(
          await dead(['http://127.0.0.1/x', 'https://a.example.org/y']),
        );
        expect(names(out)).toEqual(['sto', 'hd', 'bcn']);
        expect(out.reason).toBe('decided without 1 input hosts: 1 not answered within 20 ms');
        await expect(
          middleware.handle(await dead(['https://a.example.org/y', 'https://b.example.org/z'])),
        ).rejects.toThrow(
          new MiddlewareError(
            'no input of the task could be located (decided without 2 input hosts: 2 not answered within 20 ms)',
          ),
        );
      });
    });

    it('reads the database once, when the settings are prepared, never per task', async () => {
      const copy = join(allowed, 'once.mmdb');
      writeFileSync(copy, database);
      const ready = await contextFor(
        middleware,
        nodes(),
        task({ inputs: inputs('http://127.0.0.1/x') }),
        { regions, geoipDatabase: copy },
        files,
      );
      rmSync(copy);
      for (let i = 0; i < 2; i++) {
        expect(names(await middleware.handle({ ...ready }))).toEqual(['sto', 'hd', 'bcn']);
      }
    });

    it('reads a relative path from the working directory, within an allowed directory', async () => {
      const relative = new DirectorySettingsFiles(['geo'], dir);
      expect(
        names(
          await handle(
            nodes(),
            task({ inputs: inputs('http://127.0.0.1/x') }),
            { regions, geoipDatabase: 'geo/city.mmdb' },
            middleware,
            relative,
          ),
        ),
      ).toEqual(['sto', 'hd', 'bcn']);
    });

    it.each([
      [
        'outside the allowed directories',
        () => join(dir, 'elsewhere.mmdb'),
        /must name a file under a directory of middleware\.fileDirs/,
      ],
      [
        'escaping them with ..',
        () => join(allowed, '..', 'elsewhere.mmdb'),
        /must name a file under/,
      ],
      ['missing', () => join(allowed, 'missing.mmdb'), /^cannot be read \(ENOENT\)$/],
      ['a directory', () => allowed, /^is not a regular file$/],
      [
        'not a MaxMind database',
        () => join(allowed, 'garbage.mmdb'),
        /^is not a MaxMind database \(\.mmdb\)$/,
      ],
    ])('refuses a geoipDatabase %s, naming the setting', async (_case, path, reason) => {
      writeFileSync(join(dir, 'elsewhere.mmdb'), database);
      writeFileSync(join(allowed, 'garbage.mmdb'), 'not a database, and not to be echoed');
      const errors = await settingsErrors(middleware, { geoipDatabase: path() }, files);
      expect(errors).toEqual([{ field: 'geoipDatabase', reason: expect.stringMatching(reason) }]);
      expect(JSON.stringify(errors)).not.toContain('echoed');
      expect(JSON.stringify(errors)).not.toContain(dir);
    });

    it('refuses a link that leads out of the allowed directories', async () => {
      writeFileSync(join(dir, 'outside.mmdb'), database);
      symlinkSync(join(dir, 'outside.mmdb'), join(allowed, 'link.mmdb'));
      expect(
        await settingsErrors(middleware, { geoipDatabase: join(allowed, 'link.mmdb') }, files),
      ).toEqual([
        { field: 'geoipDatabase', reason: expect.stringMatching(/must name a file under/) },
      ]);
    });

    it('refuses any file when no directory is allowed', async () => {
      expect(await settingsErrors(middleware, { geoipDatabase })).toEqual([
        {
          field: 'geoipDatabase',
          reason: 'names a file, but middleware.fileDirs allows no directory',
        },
      ]);
    });
  });

  describe('settings', () => {
    it('takes good settings, and none at all', async () => {
      expect(await settingsErrors(middleware, settings)).toEqual([]);
      expect(await settingsErrors(middleware, {})).toEqual([]);
      expect(
        await settingsErrors(middleware, {
          rules: [
            {
              prefix: 's3://a/',
              host: '*.example.org',
              location: { latitude: -90, longitude: 180 },
            },
          ],
          regions: {},
          weightBySize: true,
        }),
      ).toEqual([]);
    });

    it.each([
      [{ rule: [] }, 'rule', 'is not a known setting'],
      [{ rules: {} }, 'rules', 'must be array'],
      [{ rules: [{ region: 'barcelona' }] }, 'rules[0]', 'needs `prefix` or `host`'],
      [{ rules: [{ host: 'a' }] }, 'rules[0]', 'needs exactly one of `location`, `region`'],
      [
        { rules: [{ host: 'a', region: 'barcelona', location: HEIDELBERG }] },
        'rules[0]',
        'needs exactly one of `location`, `region`',
      ],
      [
        { rules: [{ host: 'a', region: 'mars' }] },
        'rules[0].region',
        'names a region that setting "regions" does not define',
      ],
      [
        { rules: [{ host: '', region: 'barcelona' }] },
        'rules[0].host',
        'must NOT have fewer than 1 characters',
      ],
      [
        { rules: [{ host: 'a', hosts: 'b', region: 'barcelona' }] },
        'rules[0].hosts',
        'is not a known setting',
      ],
      [
        { rules: [{ prefix: 'x', location: { latitude: 0, longitude: 200 } }] },
        'rules[0].location.longitude',
        'must be <= 180',
      ],
      [
        { rules: [{ prefix: 'x', location: { latitude: 91, longitude: 0 } }] },
        'rules[0].location.latitude',
        'must be <= 90',
      ],
      [{ regions: { x: 'here' } }, 'regions.x', 'must be object'],
      [{ regions: { 'eu west': { latitude: 0 } } }, 'regions["eu west"].longitude', 'is required'],
      [
        { regions: { x: { latitude: 0, longitude: 0, altitude: 3 } } },
        'regions.x.altitude',
        'is not a known setting',
      ],
      [{ geoipDatabase: 7 }, 'geoipDatabase', 'must be string'],
      [{ geoipDatabase: '' }, 'geoipDatabase', 'must NOT have fewer than 1 characters'],
      [{ weightBySize: 'yes' }, 'weightBySize', 'must be boolean'],
      [{ lookup: { tries: 0 } }, 'lookup.tries', 'must be >= 1'],
      [{ lookup: { ttl: 5 } }, 'lookup.ttl', 'is not a known setting'],
      [{ lookup: { servers: [] } }, 'lookup.servers', 'must NOT have fewer than 1 items'],
      [
        { lookup: { servers: ['dns.example.org'] } },
        'lookup.servers[0]',
        'is not an IP address with an optional port',
      ],
      [
        { lookup: { maxHostsPerTask: 20, cacheSize: 10 } },
        'lookup.maxHostsPerTask',
        'must not exceed lookup.cacheSize (one task could flush the cache)',
      ],
    ])('refuses %j, naming %s', async (bad, field, reason) => {
      expect(await settingsErrors(middleware, bad)).toEqual([{ field, reason }]);
    });

    it('names every bad setting at once', async () => {
      expect(
        (
          await settingsErrors(middleware, {
            weightBySize: 1,
            rules: [{ host: 'a', region: 'x' }, {}],
          })
        ).map((e) => e.field),
      ).toEqual(['rules[1]', 'rules[1]', 'weightBySize']);
    });
  });
});
