import { Injectable } from '@nestjs/common';
import type { TaskContext, TaskMiddleware } from '@protes/distribution';
import { TaskRejection } from './errors';

/** The settings, each a ceiling on what a task may ask for in `resources`. */
const LIMITS = { maxCpuCores: 'cpu_cores', maxRamGb: 'ram_gb', maxDiskGb: 'disk_gb' } as const;

/**
 * Refuses (400) a task that asks for more than the configured ceilings, before it is stored or sent
 * anywhere. Settings: `{ maxCpuCores?, maxRamGb?, maxDiskGb? }`; a ceiling not set is no limit.
 */
@Injectable()
export class RejectLargeTasksMiddleware implements TaskMiddleware {
  readonly name = 'reject-large-tasks';

  handle(context: TaskContext): Promise<TaskContext> {
    for (const [setting, field] of Object.entries(LIMITS)) {
      const limit = context.settings[setting];
      if (limit === undefined) continue;
      if (typeof limit !== 'number') throw new Error(`settings: ${setting} must be a number`);
      const asked = context.task.resources?.[field];
      if (asked !== undefined && asked > limit) {
        throw new TaskRejection(`resources.${field} is ${asked}, more than the ${limit} allowed`);
      }
    }
    return Promise.resolve(context);
  }
}
