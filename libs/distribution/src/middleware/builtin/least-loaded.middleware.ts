import { Injectable } from '@nestjs/common';
import type { TaskContext, TaskMiddleware } from '../middleware';
import { decide } from './decide';
import { ascending, healthyFirst } from './ordering';
import { checkKeys } from './settings';

/**
 * Ascending `load / weight` (the node's unfinished tasks per unit of its share); equal ratios keep
 * their incoming order, and a weight 0 node counts as infinitely loaded.
 */
@Injectable()
export class LeastLoadedMiddleware implements TaskMiddleware {
  readonly name = 'least-loaded';

  handle(context: TaskContext): Promise<TaskContext> {
    return decide(() => {
      checkKeys(context.settings, []);
      const ranked = context.candidates.map((candidate) => {
        const { weight } = candidate.metadata;
        return { candidate, ratio: weight > 0 ? candidate.load / weight : Infinity };
      });
      ranked.sort((a, b) => ascending(a.ratio, b.ratio));
      return { ...context, candidates: healthyFirst(ranked.map((r) => r.candidate)) };
    });
  }
}
