import { Inject, Injectable, Optional } from '@nestjs/common';
import type { TaskContext } from '../middleware';
import { decide } from './decide';
import { healthyFirst, RANDOM_SOURCE, type RandomSource, shuffle } from './ordering';
import { type BuiltinMiddleware, NoSettings } from './settings';

/** Every order of the candidates equally likely; healthy nodes before unhealthy ones. */
@Injectable()
export class RandomMiddleware implements BuiltinMiddleware {
  readonly name = 'random';
  readonly description =
    'Shuffles the candidates: every order is equally likely. Healthy nodes come before unhealthy ones.';
  readonly settingsSchema = NoSettings;

  constructor(
    @Optional() @Inject(RANDOM_SOURCE) private readonly random: RandomSource = Math.random,
  ) {}

  handle(context: TaskContext): Promise<TaskContext> {
    return decide(() => {
      return { ...context, candidates: healthyFirst(shuffle(context.candidates, this.random)) };
    });
  }
}
