import { Injectable } from '@nestjs/common';
import type {
  TesExecutorLog,
  TesOutputFileLog,
  TesTask,
  TesTaskLog,
  TesTaskRequest,
} from '@protes/tes';
import {
  MiddlewareError,
  MiddlewareRejection,
  type NodeCandidate,
  type TaskContext,
} from '../middleware';
import type { HookNode, NodeHooks } from '@protes/middleware-sdk';
import { decide } from './decide';
import { type BuiltinMiddleware, NoSettings } from './settings';

/** POSIX pattern characters (IEEE 1003.1-2017, 2.13), which TES 1.1 allows in output paths. */
const GLOB = /[*?[]/;

/** A node that reports a version before 1.1; one that reports none (yet) is taken as 1.1. */
function isTes10(node: Pick<NodeCandidate, 'metadata'>): boolean {
  const match = /^v?(\d+)\.(\d+)/.exec(node.metadata.tesVersion ?? '');
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

/** Anything an answer may hold where a string belongs, as that string. */
const text = (value: unknown): string =>
  typeof value === 'string' ? value : (JSON.stringify(value) ?? '');

/** What a node answered, read without trusting the types its spec promises. */
type Loose<T> = { [K in keyof T]?: unknown };

function executorLog10(log: Loose<TesExecutorLog>): TesExecutorLog {
  const exit = log.exit_code;
  return {
    ...(log as TesExecutorLog),
    exit_code: typeof exit === 'number' ? exit : exit === undefined ? 0 : Number(exit),
  };
}

function outputLog10(log: Loose<TesOutputFileLog>): TesOutputFileLog {
  return {
    ...(log as TesOutputFileLog),
    url: text(log.url ?? ''),
    path: text(log.path ?? ''),
    size_bytes: text(log.size_bytes ?? '0'),
  };
}

function taskLog10(log: Loose<TesTaskLog>): TesTaskLog {
  const { metadata, system_logs: systemLogs } = log;
  return {
    ...(log as TesTaskLog),
    logs: Array.isArray(log.logs) ? log.logs.map(executorLog10) : [],
    outputs: Array.isArray(log.outputs) ? log.outputs.map(outputLog10) : [],
    ...(metadata !== undefined &&
      typeof metadata === 'object' &&
      metadata !== null && {
        metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, text(v)])),
      }),
    ...(systemLogs !== undefined && {
      system_logs: (Array.isArray(systemLogs) ? systemLogs : [systemLogs]).map(text),
    }),
  };
}

/**
 * A TES 1.0 node's answer as TES 1.1 reads it. The two versions describe an answer alike (1.1 only
 * added states a 1.0 node never reports), but 1.0 is defined from protobuf messages, whose JSON
 * leaves out fields at their default (a state UNKNOWN, an exit code 0, empty lists), and some 1.0
 * servers write numbers where 1.1 wants strings (metadata values, as the 1.0 specification's own
 * example does; `size_bytes`). Those are filled in and turned into strings; nothing else changes.
 */
function fromTes10(remote: TesTask): TesTask {
  const loose = remote as Loose<TesTask> & { id: string };
  return {
    ...remote,
    state: remote.state ?? 'UNKNOWN',
    ...(loose.logs !== undefined && {
      logs: (Array.isArray(loose.logs) ? loose.logs : []).map(taskLog10),
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
 * Old nodes (by `metadata.tesVersion`): a task using a 1.1 feature that a 1.0 node would silently
 * get wrong — wildcard output paths, `ignore_error: true`, strict backend parameters — loses its
 * 1.0 candidates, and is refused (400, naming the field) when only 1.0 nodes were left. The task
 * itself is left as it is: each node gets its own version at forwarding (forNode), so a 1.0 node
 * gets the task as 1.0 takes it (see toTes10) and a failover to a 1.1 node gets it as the client
 * sent it. What a 1.0 node answers is read as 1.1 (fromNode, see fromTes10).
 */
@Injectable()
export class TesCompatMiddleware implements BuiltinMiddleware, NodeHooks {
  readonly name = 'tes-compat';
  readonly description =
    'Keeps tasks off TES 1.0 nodes (by the version their service-info reports) when they use a TES 1.1 feature such a node would get wrong (wildcard output paths, `ignore_error: true`, strict backend parameters), and refuses them (400, naming the field) when only 1.0 nodes were left. At forwarding, a 1.0 node gets the task as 1.0 takes it (1.1-only hints dropped, file `type` filled in) and any other node the task as the client sent it, failover included; what a 1.0 node answers is read as TES 1.1 (defaults its JSON leaves out filled in, numbers where 1.1 wants strings turned into strings). Its place in the chain does not matter.';
  readonly settingsSchema = NoSettings;

  handle(context: TaskContext): Promise<TaskContext> {
    return decide(() => {
      const fields = fieldsNeeding11(context.task);
      if (!fields.length) return context;
      const candidates = context.candidates.filter((c) => !isTes10(c));
      if (!candidates.length && context.candidates.length) {
        throw new MiddlewareRejection(
          `${fields.join(', ')} needs TES 1.1, and only TES 1.0 nodes could take this task`,
          400,
          fields[0],
        );
      }
      return { ...context, candidates };
    });
  }

  /**
   * The task as a 1.0 node takes it; other nodes get it as it is. A task that needs 1.1 reaches a
   * 1.0 node only if the chain changed since it ran: this node must not get it then.
   */
  forNode(task: TesTaskRequest, node: HookNode): TesTaskRequest {
    if (!isTes10(node)) return task;
    const fields = fieldsNeeding11(task);
    if (fields.length) {
      throw new MiddlewareError(
        `${fields.join(', ')} needs TES 1.1, and node ${node.name} speaks TES ${node.metadata.tesVersion}`,
      );
    }
    return toTes10(task);
  }

  /** A 1.0 node's answer as 1.1 reads it; other nodes' answers as they are. */
  fromNode(remote: TesTask, node: HookNode): TesTask {
    return isTes10(node) ? fromTes10(remote) : remote;
  }
}
