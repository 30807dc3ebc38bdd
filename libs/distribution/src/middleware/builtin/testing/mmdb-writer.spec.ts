import { type CityResponse, Reader } from 'mmdb-lib';
import { buildMmdb, cityAt, MmdbUint } from './mmdb-writer';

describe('buildMmdb (test fixture writer)', () => {
  const database = buildMmdb(
    [
      { network: '127.0.0.1/32', data: cityAt(59.3293, 18.0686) },
      { network: '10.1.0.0/16', data: cityAt(41.3874, 2.1686) },
      { network: '2001:db8::/32', data: cityAt(49.3988, 8.6724) },
      {
        network: '::2/128',
        data: { name: 'ü', list: [1.5, true, new MmdbUint(70_000, 'uint32')] },
      },
    ],
    { buildEpoch: 1_700_000_000 },
  );
  const reader = new Reader<CityResponse>(database);

  it('writes metadata that mmdb-lib reads', () => {
    expect(reader.metadata).toMatchObject({
      binaryFormatMajorVersion: 2,
      binaryFormatMinorVersion: 0,
      databaseType: 'proTES-Test-City',
      ipVersion: 6,
      recordSize: 24,
      languages: ['en'],
      description: { en: 'proTES test fixture' },
      buildEpoch: new Date(1_700_000_000_000),
    });
  });

  it('finds IPv4 addresses (in ::/96) and IPv6 addresses by network', () => {
    expect(reader.get('127.0.0.1')?.location).toMatchObject({ latitude: 59.3293 });
    expect(reader.getWithPrefixLength('10.1.200.3')).toEqual([
      { location: { latitude: 41.3874, longitude: 2.1686, accuracy_radius: 20 } },
      16, // counted from the IPv4 subtree, as readers do
    ]);
    expect(reader.get('2001:db8:ffff::1')?.location).toMatchObject({ longitude: 8.6724 });
  });

  it('answers null outside every network', () => {
    expect(reader.get('127.0.0.2')).toBeNull();
    expect(reader.get('10.2.0.1')).toBeNull();
    expect(reader.get('2001:db9::1')).toBeNull();
  });

  it('encodes strings, doubles, booleans, unsigned integers, arrays and maps', () => {
    expect(reader.get('::2')).toEqual({ name: 'ü', list: [1.5, true, 70_000] });
  });

  it('encodes long strings with extended sizes', () => {
    const long = 'x'.repeat(70_000);
    const big = new Reader<Record<string, string>>(
      buildMmdb([{ network: '::3/128', data: { a: 'y'.repeat(100), b: 'z'.repeat(300), long } }]),
    );
    expect(big.get('::3')).toEqual({ a: 'y'.repeat(100), b: 'z'.repeat(300), long });
  });

  it('refuses overlapping networks', () => {
    expect(() =>
      buildMmdb([
        { network: '10.0.0.0/8', data: 1 },
        { network: '10.1.0.0/16', data: 2 },
      ]),
    ).toThrow('overlaps');
  });
});
