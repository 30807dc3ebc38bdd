import { Inject, Injectable } from '@nestjs/common';
import {
  MiddlewareRejection,
  NODE_DIRECTORY,
  type NodeDirectory,
  type NodeMetadata,
  type TaskContext,
  type TaskMiddleware,
} from '@protes/middleware-sdk';

/** Each ceiling setting, the task's resource it limits, and the node metadata that offers it. */
const LIMITS = [
  { setting: 'maxCpuCores', field: 'cpu_cores', offered: 'cpuCores' },
  { setting: 'maxRamGb', field: 'ram_gb', offered: 'ramGb' },
  { setting: 'maxDiskGb', field: 'disk_gb', offered: 'diskGb' },
] as const;

/** The settings, as settingsSchema lets them through. */
type Settings = {
  maxCpuCores?: number;
  maxRamGb?: number;
  maxDiskGb?: number;
  largestNode?: boolean;
};

type Resources = NonNullable<NodeMetadata['resources']>;

/**
 * Refuses (400) a task that asks for more than the configured ceilings, before it is stored or sent
 * anywhere. Settings: `{ maxCpuCores?, maxRamGb?, maxDiskGb?, largestNode? }`; a ceiling not set is
 * no limit. With `largestNode: true` it also refuses what no configured node offers, down or not
 * (from the node directory the gateway provides; a node that declares no ceiling limits nothing).
 */
@Injectable()
export class RejectLargeTasksMiddleware implements TaskMiddleware {
  readonly name = 'reject-large-tasks';

  readonly settingsSchema = {
    type: 'object',
    properties: {
      maxCpuCores: { type: 'integer', minimum: 1 },
      maxRamGb: { type: 'number', exclusiveMinimum: 0 },
      maxDiskGb: { type: 'number', exclusiveMinimum: 0 },
      largestNode: { type: 'boolean', default: false },
    },
    additionalProperties: false,
  };

  constructor(@Inject(NODE_DIRECTORY) private readonly nodes: NodeDirectory) {}

  async handle(context: TaskContext): Promise<TaskContext> {
    const settings = context.settings as Readonly<Settings>;
    const resources = context.task.resources ?? {};
    for (const { setting, field } of LIMITS) {
      const limit = settings[setting];
      const asked = resources[field];
      if (limit !== undefined && asked !== undefined && asked > limit) {
        throw new MiddlewareRejection(
          `resources.${field} is ${asked}, more than the ${limit} allowed`,
          400,
          `resources.${field}`,
        );
      }
    }
    if (settings.largestNode) await this.checkLargestNode(context);
    return context;
  }

  private async checkLargestNode(context: TaskContext): Promise<void> {
    const offers = (await this.nodes.list()).map((node) => node.metadata.resources ?? {});
    for (const { field, offered } of LIMITS) {
      const asked = context.task.resources?.[field];
      const largest = Math.max(...offers.map((o: Resources) => o[offered] ?? Infinity));
      if (asked !== undefined && offers.length > 0 && asked > largest) {
        throw new MiddlewareRejection(
          `resources.${field} is ${asked}, more than any node offers (${largest})`,
          400,
          `resources.${field}`,
        );
      }
    }
  }
}
