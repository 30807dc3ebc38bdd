import { RandomMiddleware } from './random.middleware';
import { context, names, node, settingsErrors } from './testing/fixtures';
import { seededRandom } from './testing/seeded-random';
import { CHI_SQUARE_P001, chiSquare } from './testing/statistics';

const DRAWS = 30_000;

/** counts[position][node]: how often each node came at each position. */
async function positionCounts(
  middleware: RandomMiddleware,
  candidates: ReturnType<typeof node>[],
): Promise<Map<string, number>[]> {
  const counts = candidates.map(() => new Map<string, number>());
  for (let i = 0; i < DRAWS; i++) {
    const order = names(await middleware.handle(context(candidates)));
    order.forEach((name, position) =>
      counts[position].set(name, (counts[position].get(name) ?? 0) + 1),
    );
  }
  return counts;
}

describe('RandomMiddleware', () => {
  const four = ['a', 'b', 'c', 'd'].map((n) => node(n));

  it('is named random', () => {
    expect(new RandomMiddleware().name).toBe('random');
  });

  it('puts every node at every position equally often', async () => {
    const counts = await positionCounts(new RandomMiddleware(seededRandom(42)), four);
    for (const atPosition of counts) {
      const observed = four.map((c) => atPosition.get(c.name) ?? 0);
      expect(chiSquare(observed, [7500, 7500, 7500, 7500])).toBeLessThan(CHI_SQUARE_P001[3]);
    }
  });

  it('would notice a skewed order (the bound is tight enough to fail)', async () => {
    const seeded = seededRandom(42);
    const skewed = new RandomMiddleware(() => seeded() * 0.9);
    const counts = await positionCounts(skewed, four);
    const observed = four.map((c) => counts[0].get(c.name) ?? 0);
    expect(chiSquare(observed, [7500, 7500, 7500, 7500])).toBeGreaterThan(CHI_SQUARE_P001[3]);
  });

  it('puts healthy nodes first, shuffled among themselves, then the unhealthy ones', async () => {
    const candidates = [
      node('sick1', {}, { healthy: false }),
      node('a'),
      node('sick2', {}, { healthy: false }),
      node('b'),
    ];
    const counts = await positionCounts(new RandomMiddleware(seededRandom(3)), candidates);
    expect([...counts[0].keys()].sort()).toEqual(['a', 'b']);
    expect([...counts[2].keys()].sort()).toEqual(['sick1', 'sick2']);
    const first = [counts[0].get('a') ?? 0, counts[0].get('b') ?? 0];
    expect(chiSquare(first, [DRAWS / 2, DRAWS / 2])).toBeLessThan(CHI_SQUARE_P001[1]);
    const third = [counts[2].get('sick1') ?? 0, counts[2].get('sick2') ?? 0];
    expect(chiSquare(third, [DRAWS / 2, DRAWS / 2])).toBeLessThan(CHI_SQUARE_P001[1]);
  });

  it('leaves the incoming context alone and keeps every candidate', async () => {
    const ctx = context(four);
    const out = await new RandomMiddleware().handle(ctx);
    expect(names(ctx)).toEqual(['a', 'b', 'c', 'd']);
    expect([...names(out)].sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(out.task).toBe(ctx.task);
  });

  it('refuses settings it does not have', async () => {
    expect(await settingsErrors(new RandomMiddleware(), { seed: 1 })).toEqual([
      { field: 'seed', reason: 'is not a known setting' },
    ]);
  });
});
