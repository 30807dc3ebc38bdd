import { context, names, node } from './testing/fixtures';
import { seededRandom } from './testing/seeded-random';
import { CHI_SQUARE_P001, chiSquare } from './testing/statistics';
import { WeightedMiddleware } from './weighted.middleware';

const DRAWS = 30_000;

describe('WeightedMiddleware', () => {
  const weights: Record<string, number> = { a: 1, b: 2, c: 3, d: 4 };
  const candidates = Object.entries(weights).map(([name, weight]) => node(name, { weight }));
  const total = 10;

  async function draw(seed: number): Promise<string[][]> {
    const middleware = new WeightedMiddleware(seededRandom(seed));
    const out: string[][] = [];
    for (let i = 0; i < DRAWS; i++) out.push(names(await middleware.handle(context(candidates))));
    return out;
  }

  it('is named weighted', () => {
    expect(new WeightedMiddleware().name).toBe('weighted');
  });

  it('puts each node first in proportion to its weight', async () => {
    const orders = await draw(11);
    const observed = Object.keys(weights).map((n) => orders.filter((o) => o[0] === n).length);
    const expected = Object.values(weights).map((w) => (DRAWS * w) / total);
    expect(chiSquare(observed, expected)).toBeLessThan(CHI_SQUARE_P001[3]);
  });

  it('draws the second place from the rest in proportion to their weights (no replacement)', async () => {
    const orders = await draw(12);
    // P(second = j) = Σ_{i≠j} P(first = i) · w_j / (total − w_i)
    const expected = Object.entries(weights).map(
      ([j, wj]) =>
        DRAWS *
        Object.entries(weights)
          .filter(([i]) => i !== j)
          .reduce((sum, [, wi]) => sum + (wi / total) * (wj / (total - wi)), 0),
    );
    const observed = Object.keys(weights).map((n) => orders.filter((o) => o[1] === n).length);
    expect(chiSquare(observed, expected)).toBeLessThan(CHI_SQUARE_P001[3]);
    // A plain uniform order would not pass.
    expect(chiSquare(observed, [7500, 7500, 7500, 7500])).toBeGreaterThan(CHI_SQUARE_P001[3]);
  });

  it('puts weight 0 nodes last in incoming order, and unhealthy ones after healthy ones', async () => {
    const middleware = new WeightedMiddleware(seededRandom(5));
    const mixed = [
      node('zero1', { weight: 0 }),
      node('sick', { weight: 100 }, { healthy: false }),
      node('one', { weight: 1 }),
      node('zero2', { weight: 0 }),
    ];
    for (let i = 0; i < 50; i++) {
      expect(names(await middleware.handle(context(mixed)))).toEqual([
        'one',
        'zero1',
        'zero2',
        'sick',
      ]);
    }
  });
});
