import { Inject, Injectable, Optional } from '@nestjs/common';
import type { TaskContext, TaskMiddleware } from '../middleware';
import { decide } from './decide';
import { ascending, healthyFirst, RANDOM_SOURCE, type RandomSource } from './ordering';
import { checkKeys } from './settings';

/**
 * A random order drawn in proportion to `metadata.weight`, without replacement: the first node is
 * node i with probability w_i / Σw, the second is drawn the same way from the rest, and so on.
 * Each node draws an exponential arrival time with rate w_i and the earliest comes first, which is
 * exactly that successive sampling. Weight 0 nodes come after all others, in their incoming order.
 */
@Injectable()
export class WeightedMiddleware implements TaskMiddleware {
  readonly name = 'weighted';

  constructor(
    @Optional() @Inject(RANDOM_SOURCE) private readonly random: RandomSource = Math.random,
  ) {}

  handle(context: TaskContext): Promise<TaskContext> {
    return decide(() => {
      checkKeys(context.settings, []);
      const drawn = context.candidates.map((candidate) => {
        const { weight } = candidate.metadata;
        const arrival = weight > 0 ? -Math.log(1 - this.random()) / weight : Infinity;
        return { candidate, arrival };
      });
      drawn.sort((a, b) => ascending(a.arrival, b.arrival));
      return { ...context, candidates: healthyFirst(drawn.map((d) => d.candidate)) };
    });
  }
}
