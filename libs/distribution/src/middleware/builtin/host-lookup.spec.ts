import { CachedLookup, type HostLookup, LOOKUP_CACHE_DEFAULTS } from './host-lookup';

/** A resolver that knows a few names and counts what it is asked. */
function fakeResolver(known: Record<string, string>) {
  const asked: string[] = [];
  const lookup: HostLookup = (host) => {
    asked.push(host);
    const address = known[host];
    return address ? Promise.resolve(address) : Promise.reject(new Error(`ENOTFOUND ${host}`));
  };
  return { lookup, asked };
}

describe('CachedLookup', () => {
  let clock = 0;
  const now = () => clock;
  beforeEach(() => (clock = 1_000_000));

  it('resolves once per host within the TTL, case-insensitively, and again after it', async () => {
    const { lookup, asked } = fakeResolver({ 'data.example.org': '192.0.2.7' });
    const cache = new CachedLookup(lookup, LOOKUP_CACHE_DEFAULTS, now);
    expect(await cache.resolve('data.example.org')).toBe('192.0.2.7');
    clock += LOOKUP_CACHE_DEFAULTS.ttlMs - 1;
    expect(await cache.resolve('DATA.example.org')).toBe('192.0.2.7');
    expect(asked).toEqual(['data.example.org']);
    clock += 1;
    expect(await cache.resolve('data.example.org')).toBe('192.0.2.7');
    expect(asked).toHaveLength(2);
  });

  it('shares one query between concurrent callers', async () => {
    const { lookup, asked } = fakeResolver({ a: '192.0.2.1' });
    const cache = new CachedLookup(lookup, LOOKUP_CACHE_DEFAULTS, now);
    expect(await Promise.all([cache.resolve('a'), cache.resolve('a')])).toEqual([
      '192.0.2.1',
      '192.0.2.1',
    ]);
    expect(asked).toEqual(['a']);
  });

  it('answers undefined for a failure and remembers it for the shorter failure TTL', async () => {
    const { lookup, asked } = fakeResolver({});
    const cache = new CachedLookup(lookup, LOOKUP_CACHE_DEFAULTS, now);
    expect(await cache.resolve('nowhere')).toBeUndefined();
    clock += LOOKUP_CACHE_DEFAULTS.failureTtlMs - 1;
    expect(await cache.resolve('nowhere')).toBeUndefined();
    expect(asked).toHaveLength(1);
    clock += 1;
    await cache.resolve('nowhere');
    expect(asked).toHaveLength(2);
  });

  it('gives up after the timeout', async () => {
    const hanging: HostLookup = () => new Promise<string>(() => undefined);
    const cache = new CachedLookup(hanging, { ...LOOKUP_CACHE_DEFAULTS, timeoutMs: 20 });
    const started = Date.now();
    expect(await cache.resolve('slow.example.org')).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('evicts the least recently used host beyond maxEntries', async () => {
    const { lookup, asked } = fakeResolver({ a: '192.0.2.1', b: '192.0.2.2', c: '192.0.2.3' });
    const cache = new CachedLookup(lookup, { ...LOOKUP_CACHE_DEFAULTS, maxEntries: 2 }, now);
    await cache.resolve('a');
    await cache.resolve('b');
    await cache.resolve('a'); // a is now the most recently used
    await cache.resolve('c'); // evicts b
    await cache.resolve('a');
    expect(asked).toEqual(['a', 'b', 'c']);
    await cache.resolve('b');
    expect(asked).toEqual(['a', 'b', 'c', 'b']);
  });
});
