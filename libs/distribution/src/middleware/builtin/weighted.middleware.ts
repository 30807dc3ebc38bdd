import { Inject, Injectable, Optional } from '@nestjs/common';
import type { TaskContext } from '../middleware';
import { decide } from './decide';
import { ascending, healthyFirst, RANDOM_SOURCE, type RandomSource } from './ordering';
import { type BuiltinMiddleware, NoSettings } from './settings';

/**
 * A random order drawn in proportion to `metadata.weight`, without replacement: the first node is
 * node i with probability w_i / Σw, the second is drawn the same way from the rest, and so on.
 * Each node draws an exponential arrival time with rate w_i and the earliest comes first, which is
 * exactly that successive sampling. Weight 0 nodes come after all others, in their incoming order.
 */
@Injectable()
export class WeightedMiddleware implements BuiltinMiddleware {
  readonly name = 'weighted';
  readonly description =
    "A random order in proportion to each node's configured `weight`: a node comes first with probability its weight over the sum of the candidates' weights, the next one is drawn the same way from the others, and so on. Nodes of weight 0 come after all others, in their incoming order; healthy nodes come before unhealthy ones.";
  readonly settingsSchema = NoSettings;

  constructor(
    @Optional() @Inject(RANDOM_SOURCE) private readonly random: RandomSource = Math.random,
  ) {}

  handle(context: TaskContext): Promise<TaskContext> {
    return decide(() => {
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
