/** Pearson's χ² statistic of observed counts against expected counts. */
export function chiSquare(observed: readonly number[], expected: readonly number[]): number {
  return observed.reduce((sum, o, i) => sum + (o - expected[i]) ** 2 / expected[i], 0);
}

/** χ² critical values at p = 0.001 by degrees of freedom: a fair draw exceeds them 1 time in 1000. */
export const CHI_SQUARE_P001: Readonly<Record<number, number>> = {
  1: 10.828,
  2: 13.816,
  3: 16.266,
  4: 18.467,
};
