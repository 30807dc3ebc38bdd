import { Injectable } from '@nestjs/common';
// Types only (erased from the build): a package outside this repository copies these interfaces.
import type { TaskContext, TaskMiddleware } from '@protes/distribution';

/**
 * Puts the nodes whose configuration tags include `tag` (with `value`, when set) first, keeping
 * the order of the others behind them. Settings: `{ tag: string, value?: string }`.
 */
@Injectable()
export class PreferTaggedNodeMiddleware implements TaskMiddleware {
  readonly name = 'prefer-tagged-node';

  handle(context: TaskContext): Promise<TaskContext> {
    const { tag, value } = context.settings;
    if (typeof tag !== 'string' || (value !== undefined && typeof value !== 'string')) {
      throw new Error('settings: tag must be a string, and value a string when given');
    }
    const tagged = (c: TaskContext['candidates'][number]) =>
      c.metadata.tags?.[tag] !== undefined &&
      (value === undefined || c.metadata.tags[tag] === value);
    return Promise.resolve({
      ...context,
      candidates: [
        ...context.candidates.filter(tagged),
        ...context.candidates.filter((c) => !tagged(c)),
      ],
    });
  }
}
