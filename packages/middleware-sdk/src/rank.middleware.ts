import type { NodeCandidate, TaskContext, TaskMiddleware } from './contract';

/**
 * A middleware that reorders the candidates and leaves the task as it is: implement `score`. The
 * highest score comes first; equal scores keep their incoming order (what the chain's earlier
 * entries decided), and a score that is not a number (NaN) comes last. No candidate is removed.
 *
 * ```ts
 * @Injectable()
 * export class FewestTasksMiddleware extends RankMiddleware {
 *   readonly name = 'fewest-tasks';
 *   score(node: NodeCandidate) {
 *     return -node.load;
 *   }
 * }
 * ```
 */
export abstract class RankMiddleware<P = unknown> implements TaskMiddleware<P> {
  abstract readonly name: string;

  /** How much the task should go to `candidate`: higher is better. */
  abstract score(candidate: NodeCandidate, context: TaskContext<P>): number | Promise<number>;

  async handle(context: TaskContext<P>): Promise<TaskContext<P>> {
    const scored = await Promise.all(
      context.candidates.map(async (candidate, index) => {
        const score = await this.score(candidate, context);
        return { candidate, index, score: Number.isNaN(score) ? -Infinity : score };
      }),
    );
    scored.sort((a, b) => (a.score === b.score ? a.index - b.index : a.score > b.score ? -1 : 1));
    return { ...context, candidates: scored.map((s) => s.candidate) };
  }
}
