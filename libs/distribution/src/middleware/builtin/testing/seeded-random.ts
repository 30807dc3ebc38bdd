import type { RandomSource } from '../ordering';

/**
 * A reproducible RandomSource for statistical tests: Marsaglia's xorshift32, whose high bits (the
 * ones `floor(r * n)` uses) are evenly spread. Not for anything but tests.
 */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}
