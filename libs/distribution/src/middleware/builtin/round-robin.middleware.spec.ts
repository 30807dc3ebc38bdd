import type { NodeCandidate } from '../middleware';
import { RoundRobinMiddleware } from './round-robin.middleware';
import { context, names, node } from './testing/fixtures';

async function orders(
  middleware: RoundRobinMiddleware,
  candidates: NodeCandidate[],
  calls: number,
): Promise<string[][]> {
  const out: string[][] = [];
  for (let i = 0; i < calls; i++) out.push(names(await middleware.handle(context(candidates))));
  return out;
}

describe('RoundRobinMiddleware', () => {
  it('is named round-robin', () => {
    expect(new RoundRobinMiddleware().name).toBe('round-robin');
  });

  it('rotates exactly over the candidates by name, whatever their incoming order', async () => {
    const middleware = new RoundRobinMiddleware();
    expect(await orders(middleware, [node('c'), node('a'), node('b')], 4)).toEqual([
      ['a', 'b', 'c'],
      ['b', 'c', 'a'],
      ['c', 'a', 'b'],
      ['a', 'b', 'c'],
    ]);
  });

  it('gives each of n nodes exactly k first places in k·n calls', async () => {
    const candidates = ['n1', 'n2', 'n3', 'n4', 'n5'].map((n) => node(n));
    const firsts = (await orders(new RoundRobinMiddleware(), candidates, 15)).map((o) => o[0]);
    for (const c of candidates) expect(firsts.filter((f) => f === c.name)).toHaveLength(3);
  });

  it('keeps its place when a node joins or leaves', async () => {
    const middleware = new RoundRobinMiddleware();
    const [a, b, c, bb] = [node('a'), node('b'), node('c'), node('bb')];
    expect((await orders(middleware, [a, b, c], 2)).map((o) => o[0])).toEqual(['a', 'b']);
    // bb sorts between b and c: it takes its turn next, and c follows.
    expect((await orders(middleware, [a, b, bb, c], 3)).map((o) => o[0])).toEqual(['bb', 'c', 'a']);
    // b leaves after a's turn: the rotation goes on with the next name.
    expect((await orders(middleware, [a, bb, c], 2)).map((o) => o[0])).toEqual(['bb', 'c']);
  });

  it('rotates over the healthy nodes and keeps unhealthy ones last', async () => {
    const candidates = [node('a'), node('b', {}, { healthy: false }), node('c')];
    expect(await orders(new RoundRobinMiddleware(), candidates, 3)).toEqual([
      ['a', 'c', 'b'],
      ['c', 'a', 'b'],
      ['a', 'c', 'b'],
    ]);
  });

  it('rotates over all nodes when none is healthy', async () => {
    const sick = ['a', 'b'].map((n) => node(n, {}, { healthy: false }));
    expect(await orders(new RoundRobinMiddleware(), sick, 2)).toEqual([
      ['a', 'b'],
      ['b', 'a'],
    ]);
  });

  it('passes an empty candidate list through', async () => {
    expect(names(await new RoundRobinMiddleware().handle(context([])))).toEqual([]);
  });
});
