import { Injectable } from '@nestjs/common';
import type { TaskContext } from '../middleware';
import { decide } from './decide';
import { ascending, healthyFirst } from './ordering';
import { type BuiltinMiddleware, NoSettings } from './settings';

/**
 * Ascending `load / weight` (the node's unfinished tasks per unit of its share); equal ratios keep
 * their incoming order, and a weight 0 node counts as infinitely loaded.
 */
@Injectable()
export class LeastLoadedMiddleware implements BuiltinMiddleware {
  readonly name = 'least-loaded';
  readonly description =
    "Ranks the candidates by `load / weight`, lowest first: a node's unfinished tasks per unit of its configured `weight` (a node of weight 0 counts as infinitely loaded). Equal ratios keep their incoming order; healthy nodes come before unhealthy ones.";
  readonly settingsSchema = NoSettings;

  handle(context: TaskContext): Promise<TaskContext> {
    return decide(() => {
      const ranked = context.candidates.map((candidate) => {
        const { weight } = candidate.metadata;
        return { candidate, ratio: weight > 0 ? candidate.load / weight : Infinity };
      });
      ranked.sort((a, b) => ascending(a.ratio, b.ratio));
      return { ...context, candidates: healthyFirst(ranked.map((r) => r.candidate)) };
    });
  }
}
