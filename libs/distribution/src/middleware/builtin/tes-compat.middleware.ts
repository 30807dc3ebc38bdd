import { Injectable } from '@nestjs/common';
import type { TesTaskRequest } from '@protes/tes';
import {
  MiddlewareRejection,
  type NodeCandidate,
  type TaskContext,
  type TaskMiddleware,
} from '../middleware';
import { decide } from './decide';
import { checkKeys } from './settings';

/** POSIX pattern characters (IEEE 1003.1-2017, 2.13), which TES 1.1 allows in output paths. */
const GLOB = /[*?[]/;

/** A node that reports a version before 1.1; one that reports none (yet) is taken as 1.1. */
function isTes10(candidate: NodeCandidate): boolean {
  const match = /^v?(\d+)\.(\d+)/.exec(candidate.metadata.tesVersion ?? '');
  return !!match && (Number(match[1]) < 1 || (Number(match[1]) === 1 && Number(match[2]) < 1));
}

/** The fields of the task whose meaning a TES 1.0 node cannot keep. */
function fieldsNeeding11(task: TesTaskRequest): string[] {
  const { backend_parameters: params, backend_parameters_strict: strict } = task.resources ?? {};
  return [
    ...(task.outputs ?? []).flatMap((o, i) => (GLOB.test(o.path) ? [`outputs[${i}].path`] : [])),
    ...task.executors.flatMap((e, i) => (e.ignore_error ? [`executors[${i}].ignore_error`] : [])),
    ...(strict && Object.keys(params ?? {}).length ? ['resources.backend_parameters'] : []),
  ];
}

function omit<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Omit<T, K> {
  const copy: Partial<T> = { ...value };
  for (const key of keys) delete copy[key];
  return copy as Omit<T, K>;
}

/**
 * The task as a TES 1.0 node takes it, for a task without any field of fieldsNeeding11: the 1.1
 * fields that it can do without are dropped (input `streamable` is a hint; `path_prefix` is
 * ignored without wildcards; `ignore_error: false` is the default; non-strict backend parameters
 * may be ignored by any node), and the file `type` that 1.0 requires is filled with its default.
 */
function toTes10(task: TesTaskRequest): TesTaskRequest {
  return {
    ...task,
    ...(task.inputs && {
      inputs: task.inputs.map((i) => ({ ...omit(i, ['streamable']), type: i.type ?? 'FILE' })),
    }),
    ...(task.outputs && {
      outputs: task.outputs.map((o) => ({ ...omit(o, ['path_prefix']), type: o.type ?? 'FILE' })),
    }),
    executors: task.executors.map((e) => omit(e, ['ignore_error'])),
    ...(task.resources && {
      resources: omit(task.resources, ['backend_parameters', 'backend_parameters_strict']),
    }),
  };
}

/**
 * TES versions on both sides.
 *
 * Old clients: every valid TES 1.0 request is a valid 1.1 request with the same meaning (1.1 only
 * added optional fields and made the file type optional), and the gateway has validated it as 1.1
 * already, so there is nothing to rewrite.
 *
 * Old nodes (by `metadata.tesVersion`): a task using a 1.1
 * feature that a 1.0 node would silently get wrong — wildcard output paths, `ignore_error: true`,
 * strict backend parameters — loses its 1.0 candidates, and is refused (400, naming the field)
 * when only 1.0 nodes were left. When the first candidate is a 1.0 node, the forwarded task is
 * rewritten as such a node takes it (see toTes10). A failover to a 1.1 node then gets that task
 * too: it means the same, without the hints (`streamable`, non-strict backend parameters). Run this
 * middleware after the strategy, so that the first candidate is the node that is tried first.
 */
@Injectable()
export class TesCompatMiddleware implements TaskMiddleware {
  readonly name = 'tes-compat';

  handle(context: TaskContext): Promise<TaskContext> {
    return decide(() => {
      checkKeys(context.settings, []);
      const fields = fieldsNeeding11(context.task);
      const candidates = fields.length
        ? context.candidates.filter((c) => !isTes10(c))
        : context.candidates;
      if (!candidates.length && context.candidates.length) {
        throw new MiddlewareRejection(
          `${fields.join(', ')} needs TES 1.1, and only TES 1.0 nodes could take this task`,
          400,
          fields[0],
        );
      }
      const first = candidates[0];
      const task = first && isTes10(first) ? toTes10(context.task) : context.task;
      return { ...context, task, candidates };
    });
  }
}
