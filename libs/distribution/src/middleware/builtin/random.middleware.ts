import { Inject, Injectable, Optional } from '@nestjs/common';
import type { TaskContext, TaskMiddleware } from '../middleware';
import { decide } from './decide';
import { healthyFirst, RANDOM_SOURCE, type RandomSource, shuffle } from './ordering';
import { checkKeys } from './settings';

/** Every order of the candidates equally likely; healthy nodes before unhealthy ones. */
@Injectable()
export class RandomMiddleware implements TaskMiddleware {
  readonly name = 'random';

  constructor(
    @Optional() @Inject(RANDOM_SOURCE) private readonly random: RandomSource = Math.random,
  ) {}

  handle(context: TaskContext): Promise<TaskContext> {
    return decide(() => {
      checkKeys(context.settings, []);
      return { ...context, candidates: healthyFirst(shuffle(context.candidates, this.random)) };
    });
  }
}
