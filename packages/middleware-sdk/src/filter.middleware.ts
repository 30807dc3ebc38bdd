import type { NodeCandidate, TaskContext, TaskMiddleware } from './contract';

/**
 * A middleware that narrows the candidates and leaves the task as it is: implement `keep`. The
 * candidates it keeps stay in their order; when it keeps none, no node is left for the task (which
 * then ends in SYSTEM_ERROR). To refuse the task instead, throw a MiddlewareRejection from `keep`.
 *
 * ```ts
 * @Injectable()
 * export class GpuOnlyMiddleware extends FilterMiddleware {
 *   readonly name = 'gpu-only';
 *   keep(node: NodeCandidate) {
 *     return node.metadata.tags?.gpu !== undefined;
 *   }
 * }
 * ```
 */
export abstract class FilterMiddleware<P = unknown> implements TaskMiddleware<P> {
  abstract readonly name: string;

  /** Whether the task may go to `candidate`. */
  abstract keep(candidate: NodeCandidate, context: TaskContext<P>): boolean | Promise<boolean>;

  async handle(context: TaskContext<P>): Promise<TaskContext<P>> {
    const kept: NodeCandidate[] = [];
    for (const candidate of context.candidates) {
      if (await this.keep(candidate, context)) kept.push(candidate);
    }
    return { ...context, candidates: kept };
  }
}
