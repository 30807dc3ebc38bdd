import type { NodeCandidate, TaskContext } from './contract';
import { MiddlewareRejection } from './errors';
import { FilterMiddleware } from './filter.middleware';
import { RankMiddleware } from './rank.middleware';
import { candidate, expectRejection, runMiddleware } from './testing';

class EvenLoad extends FilterMiddleware {
  readonly name = 'even-load';
  keep(node: NodeCandidate): Promise<boolean> {
    return Promise.resolve(node.load % 2 === 0);
  }
}

class ByScore extends RankMiddleware {
  readonly name = 'by-score';
  constructor(private readonly scores: Record<string, number>) {
    super();
  }
  score(node: NodeCandidate): number {
    return this.scores[node.name];
  }
}

const loads = [
  candidate('a', { load: 1 }),
  candidate('b', { load: 2 }),
  candidate('c', { load: 4 }),
];

describe('FilterMiddleware', () => {
  it('removes the candidates keep refuses and leaves the others in their order', async () => {
    const { order, removed, context } = await runMiddleware(new EvenLoad(), { candidates: loads });
    expect(order).toEqual(['b', 'c']);
    expect(removed).toEqual(['a']);
    expect(context.task).toEqual(context.received);
  });

  it('lets a rejection thrown by keep refuse the task', async () => {
    class Refuse extends FilterMiddleware {
      readonly name = 'refuse';
      keep(_node: NodeCandidate, context: TaskContext): boolean {
        throw new MiddlewareRejection(`no node for ${context.taskId}`, 403);
      }
    }
    await expectRejection(runMiddleware(new Refuse()), {
      status: 403,
      message: 'no node for task-1',
    });
  });
});

describe('RankMiddleware', () => {
  it('puts the highest score first, keeps the order of equal scores, and NaN last', async () => {
    const middleware = new ByScore({ a: NaN, b: 1, c: 5, d: 1, e: -Infinity });
    const { order, removed } = await runMiddleware(middleware, {
      candidates: ['a', 'b', 'c', 'd', 'e'],
    });
    expect(order).toEqual(['c', 'b', 'd', 'a', 'e']);
    expect(removed).toEqual([]);
  });
});
