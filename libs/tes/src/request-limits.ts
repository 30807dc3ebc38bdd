import { type FieldError, joinField, type Segment } from './field-error';

/**
 * Most of each part of a task a request may hold. A body under the size limit can still hold
 * hundreds of thousands of executors or a megabyte-long tag key; every later step (copying,
 * schema validation, storage, the middleware chain, forwarding) costs in proportion, so these are
 * checked first, in one pass over the parsed body.
 */
export interface TaskLimits {
  executors: number;
  inputs: number;
  outputs: number;
  volumes: number;
  tags: number;
  /** Per executor. */
  envEntries: number;
  /** Per executor. */
  commandArgs: number;
  /** Characters of any string or key, inline input `content` excepted (bounded in bytes). */
  stringLength: number;
}

/** Enough to say what is wrong without answering with a list as long as the body. */
const MAX_REPORTED = 10;
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Items of a list, or entries of a map, counted no further than one past `limit`. */
function sizeOf(value: unknown, limit: number): number {
  if (Array.isArray(value)) return value.length;
  if (!isObject(value)) return 0;
  let n = 0;
  for (const key in value) if (Object.hasOwn(value, key) && ++n > limit) break;
  return n;
}

/** The lists and maps that are too long; wrong types are left to the schema. */
function sizeErrors(task: Record<string, unknown>, limits: TaskLimits): FieldError[] {
  const errors: FieldError[] = [];
  const check = (value: unknown, parts: Segment[], limit: number) => {
    if (sizeOf(value, limit) > limit) {
      const unit = Array.isArray(value) ? 'items' : 'entries';
      errors.push({ field: joinField(parts), reason: `must not have more than ${limit} ${unit}` });
    }
  };
  check(task.executors, ['executors'], limits.executors);
  check(task.inputs, ['inputs'], limits.inputs);
  check(task.outputs, ['outputs'], limits.outputs);
  check(task.volumes, ['volumes'], limits.volumes);
  check(task.tags, ['tags'], limits.tags);
  const { executors } = task;
  if (Array.isArray(executors) && executors.length <= limits.executors) {
    executors.forEach((executor: unknown, i) => {
      if (!isObject(executor)) return;
      check(executor.command, ['executors', i, 'command'], limits.commandArgs);
      check(executor.env, ['executors', i, 'env'], limits.envEntries);
    });
  }
  return errors.slice(0, MAX_REPORTED);
}

/**
 * Strings and keys longer than the limit, anywhere (unknown fields too: they are read before they
 * are dropped). One walk; the path is a stack, turned into a field name only for an error.
 */
function lengthErrors(task: Record<string, unknown>, limit: number): FieldError[] {
  const errors: FieldError[] = [];
  const path: Segment[] = [];
  const tooLong = (what: string) => ({
    field: joinField(path) || '(body)',
    reason: `${what} longer than ${limit} characters`,
  });
  const walk = (value: unknown): void => {
    if (errors.length >= MAX_REPORTED) return;
    if (typeof value === 'string') {
      if (value.length > limit) errors.push(tooLong('must not be'));
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length && errors.length < MAX_REPORTED; i++) {
        path.push(i);
        walk(value[i]);
        path.pop();
      }
    } else if (isObject(value)) {
      for (const key in value) {
        if (errors.length >= MAX_REPORTED) break;
        if (!Object.hasOwn(value, key)) continue;
        if (key.length > limit) {
          errors.push(tooLong('must not have a key'));
          continue;
        }
        // Inline content is bounded in bytes (maxContentBytes), after the schema check.
        if (key === 'content' && path.length === 2 && path[0] === 'inputs') continue;
        path.push(key);
        walk(value[key]);
        path.pop();
      }
    }
  };
  walk(task);
  return errors;
}

/**
 * What in a CreateTask body is over a limit: list sizes first (a few reads), then, only if they
 * hold, the lengths of strings. The body is only read; nothing is copied.
 */
export function limitErrors(task: Record<string, unknown>, limits: TaskLimits): FieldError[] {
  const errors = sizeErrors(task, limits);
  return errors.length > 0 ? errors : lengthErrors(task, limits.stringLength);
}
