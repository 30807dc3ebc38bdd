import { CredentialCache } from './credential-cache';

describe('CredentialCache', () => {
  let now = 1_000;
  const clock = () => now;

  it('gives what was stored until it expires', () => {
    const cache = new CredentialCache<string>(10, clock);
    cache.set(cache.digest('token-a'), 'alice', now + 100);
    expect(cache.get(cache.digest('token-a'))).toBe('alice');
    expect(cache.get(cache.digest('token-b'))).toBeUndefined();
    now += 100;
    expect(cache.get(cache.digest('token-a'))).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('drops the least recently used entry beyond its capacity', () => {
    const cache = new CredentialCache<number>(2, clock);
    cache.set(cache.digest('a'), 1, now + 1000);
    cache.set(cache.digest('b'), 2, now + 1000);
    expect(cache.get(cache.digest('a'))).toBe(1); // a is now the most recently used
    cache.set(cache.digest('c'), 3, now + 1000);
    expect([
      cache.get(cache.digest('a')),
      cache.get(cache.digest('b')),
      cache.get(cache.digest('c')),
    ]).toEqual([1, undefined, 3]);
    expect(cache.size).toBe(2);
  });

  it('keeps nothing with capacity 0, nor what has expired already', () => {
    const none = new CredentialCache<number>(0, clock);
    none.set(none.digest('a'), 1, now + 1000);
    expect(none.get(none.digest('a'))).toBeUndefined();
    const cache = new CredentialCache<number>(5, clock);
    cache.set(cache.digest('a'), 1, now);
    expect(cache.size).toBe(0);
  });

  it('does not hold the credentials themselves', () => {
    const cache = new CredentialCache<string>(5, clock);
    cache.set(cache.digest('Bearer secret-token-value'), 'alice', now + 1000);
    const held = JSON.stringify([
      ...(cache as unknown as { entries: Map<string, unknown> }).entries,
    ]);
    expect(held).not.toContain('secret-token-value');
  });
});
