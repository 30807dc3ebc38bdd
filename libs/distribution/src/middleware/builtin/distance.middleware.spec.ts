import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TesInput } from '@protes/tes';
import { MiddlewareError } from '../middleware';
import { DistanceMiddleware } from './distance.middleware';
import type { HostLookup } from './host-lookup';
import { context, names, node, task } from './testing/fixtures';
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

/** A resolver that must not be reached: the tests never resolve real names. */
const noLookup: HostLookup = (host) => Promise.reject(new Error(`unexpected lookup of ${host}`));

describe('DistanceMiddleware', () => {
  const middleware = new DistanceMiddleware(noLookup);
  const rank = async (urls: string[], extra: Record<string, unknown> = {}, m = middleware) =>
    names(
      await m.handle(
        context(nodes(), task({ inputs: inputs(...urls) }), { ...settings, ...extra }),
      ),
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
        names(await middleware.handle(context(nodes(), sized, { ...settings, weightBySize })));
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
      expect(names(await middleware.handle(context(nodes(), mixed, settings)))).toEqual([
        'bcn',
        'hd',
        'sto',
      ]);
    });
  });

  describe('ranking', () => {
    it('puts nodes without a location last and unhealthy nodes after healthy ones', async () => {
      const candidates = [
        node('nowhere'),
        node('sick-bcn', { location: BARCELONA }, { healthy: false }),
        ...nodes(),
      ];
      const out = await middleware.handle(
        context(candidates, task({ inputs: inputs('https://ftp.crg.eu/a') }), settings),
      );
      expect(names(out)).toEqual(['bcn', 'hd', 'sto', 'nowhere', 'sick-bcn']);
    });

    it('fails (so a fallback runs) when no input or no node can be located', async () => {
      await expect(rank(['gs://somewhere/x'])).rejects.toThrow(
        new MiddlewareError('no input of the task could be located'),
      );
      const inline = task({ inputs: [{ path: '/in/x', content: 'x' }] });
      await expect(middleware.handle(context(nodes(), inline, settings))).rejects.toThrow(
        MiddlewareError,
      );
      await expect(middleware.handle(context(nodes(), task(), settings))).rejects.toThrow(
        MiddlewareError,
      );
      const unlocated = context(
        [node('x'), node('y')],
        task({ inputs: inputs('s3://sthlm-data/a') }),
        settings,
      );
      await expect(middleware.handle(unlocated)).rejects.toThrow(
        new MiddlewareError('no candidate node has a location'),
      );
    });
  });

  describe('with a GeoIP database', () => {
    let dir: string;
    let geoipDatabase: string;

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'protes-distance-'));
      geoipDatabase = join(dir, 'city.mmdb');
      writeFileSync(
        geoipDatabase,
        buildMmdb([
          { network: '127.0.0.1/32', data: cityAt(STOCKHOLM.latitude, STOCKHOLM.longitude) },
          { network: '127.0.0.2/32', data: { country: { iso_code: 'XX' } } },
          { network: '::1/128', data: cityAt(BARCELONA.latitude, BARCELONA.longitude) },
        ]),
      );
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('locates IP literal hosts without DNS', async () => {
      expect(await rank(['http://127.0.0.1:8000/data/x'], { geoipDatabase, rules: [] })).toEqual([
        'sto',
        'hd',
        'bcn',
      ]);
      expect(await rank(['ftp://[::1]/pub/x'], { geoipDatabase, rules: [] })).toEqual([
        'bcn',
        'hd',
        'sto',
      ]);
    });

    it('prefers rules over the database', async () => {
      const rule = [{ host: '127.0.0.1', region: 'heidelberg' }];
      expect(await rank(['http://127.0.0.1/x'], { geoipDatabase, rules: rule })).toEqual([
        'hd',
        'bcn',
        'sto',
      ]);
    });

    it('resolves names through the injected lookup, once per host', async () => {
      const asked: string[] = [];
      const lookup: HostLookup = (host) => {
        asked.push(host);
        return host === 'data.example.org'
          ? Promise.resolve('127.0.0.1')
          : Promise.reject(new Error('ENOTFOUND'));
      };
      const resolving = new DistanceMiddleware(lookup);
      const urls = [
        'https://data.example.org/a',
        'https://data.example.org/b',
        'https://gone.example/c',
      ];
      expect(await rank(urls, { geoipDatabase }, resolving)).toEqual(['sto', 'hd', 'bcn']);
      expect(await rank(urls, { geoipDatabase }, resolving)).toEqual(['sto', 'hd', 'bcn']);
      expect(asked.sort()).toEqual(['data.example.org', 'gone.example']);
    });

    it('looks up only network schemes, and skips records without a location', async () => {
      const asked: string[] = [];
      const recording = new DistanceMiddleware((host) => {
        asked.push(host);
        return Promise.resolve('127.0.0.2');
      });
      const urls = ['s3://bucket/x', 'gs://bucket/y', 'file:///z', 'http://127.0.0.2/y'];
      await expect(rank(urls, { geoipDatabase, rules: [] }, recording)).rejects.toThrow(
        'no input of the task could be located',
      );
      expect(asked).toEqual([]);
    });

    it('fails naming geoipDatabase when the file cannot be read', async () => {
      await expect(
        rank(['http://127.0.0.1/x'], { geoipDatabase: join(dir, 'missing.mmdb') }),
      ).rejects.toThrow(/^setting "geoipDatabase" names an unreadable database: ENOENT/);
    });
  });

  describe('settings', () => {
    it.each([
      [{ rule: [] }, 'setting "rule" is unknown'],
      [{ rules: {} }, 'setting "rules" must be a list'],
      [{ rules: [{ region: 'barcelona' }] }, 'setting "rules[0]" needs prefix or host'],
      [{ rules: [{ host: 'a' }] }, 'setting "rules[0]" needs exactly one of location and region'],
      [
        { rules: [{ host: 'a', region: 'mars' }] },
        'setting "rules[0].region" names an unknown region "mars"',
      ],
      [
        { rules: [{ host: '', region: 'barcelona' }] },
        'setting "rules[0].host" must be a non-empty string',
      ],
      [
        { rules: [{ host: 'a', hosts: 'b', region: 'barcelona' }] },
        'setting "rules[0].hosts" is unknown',
      ],
      [
        { rules: [{ prefix: 'x', location: { latitude: 0, longitude: 200 } }] },
        'setting "rules[0].location.longitude"',
      ],
      [{ regions: { x: 'here' } }, 'setting "regions.x" must be { latitude, longitude }'],
      [{ geoipDatabase: 7 }, 'setting "geoipDatabase" must be the path of a MaxMind database file'],
      [{ weightBySize: 'yes' }, 'setting "weightBySize" must be true or false'],
    ])('refuses %j', async (bad, message) => {
      const promise = rank(['https://ftp.crg.eu/a'], bad);
      await expect(promise).rejects.toThrow(MiddlewareError);
      await expect(promise).rejects.toThrow(message);
    });
  });
});
