import type { TSchema } from '@sinclair/typebox';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { type TesTaskRequest, TesTaskRequestSchema } from './models';
import { type FieldError, joinField } from './field-error';
import { limitErrors, type TaskLimits } from './request-limits';

export type { FieldError } from './field-error';

export type Validation<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/** One Ajv instance for the process: every TES schema is compiled into it once. */
function createAjv(removeAdditional: boolean): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    // Unknown fields are dropped, never stored or echoed back as if the gateway understood them.
    removeAdditional: removeAdditional ? 'all' : false,
    useDefaults: false,
  });
  addFormats(ajv);
  ajv.addFormat('int32', {
    type: 'number',
    validate: (n: number) => n >= -(2 ** 31) && n < 2 ** 31,
  });
  ajv.addFormat('int64', { type: 'string', validate: /^-?\d+$/ });
  ajv.addFormat('double', { type: 'number', validate: () => true });
  ajv.addKeyword({ keyword: 'example' });
  return ajv;
}

const requestAjv = createAjv(true);
const strictAjv = createAjv(false);
const compiled = new WeakMap<TSchema, ValidateFunction>();

/** `/executors/0/image` → `executors[0].image` */
function fieldOf(error: ErrorObject): string {
  const parts = error.instancePath.split('/').slice(1);
  if (error.keyword === 'required') parts.push(String(error.params.missingProperty));
  return joinField(
    parts.map((p) => (/^\d+$/.test(p) ? Number(p) : p.replace(/~1/g, '/').replace(/~0/g, '~'))),
  );
}

/** Literal unions fail once per branch (`const`) and once overall (`anyOf`): merge them. */
function allowedValues(errors: ErrorObject[]): Map<string, unknown[]> {
  const allowed = new Map<string, unknown[]>();
  for (const error of errors) {
    if (error.keyword !== 'const') continue;
    const values = allowed.get(error.instancePath) ?? [];
    values.push(error.params.allowedValue);
    allowed.set(error.instancePath, values);
  }
  return allowed;
}

export function toFieldErrors(errors: ErrorObject[] | null | undefined): FieldError[] {
  const all = errors ?? [];
  const allowed = allowedValues(all);
  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const error of all) {
    if (error.keyword === 'const') continue;
    const values = error.keyword === 'anyOf' ? allowed.get(error.instancePath) : undefined;
    const reason = values
      ? `must be one of ${values.join(', ')}`
      : error.keyword === 'required'
        ? 'is required'
        : (error.message ?? 'is invalid');
    const entry = { field: fieldOf(error) || '(body)', reason };
    const key = `${entry.field}:${entry.reason}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(entry);
    }
  }
  return out;
}

const WILDCARD = /[*?[]/;
const absolute = (p: string | undefined) => p === undefined || p.startsWith('/');

export interface TaskValidationOptions {
  /** Largest inline input `content`, in bytes (UTF-8). The spec asks for at least 128 KiB. */
  maxContentBytes: number;
  /** Sizes and lengths checked before anything else; absent: none but the body size. */
  limits?: TaskLimits;
}

/** Rules of the spec that a JSON Schema cannot say. */
function semanticErrors(task: TesTaskRequest, options: TaskValidationOptions): FieldError[] {
  const errors: FieldError[] = [];
  (task.inputs ?? []).forEach((input, i) => {
    const at = `inputs[${i}]`;
    const hasContent = input.content !== undefined && input.content !== '';
    if (!hasContent && !input.url)
      errors.push({ field: `${at}.url`, reason: 'is required unless content is set' });
    if (hasContent && Buffer.byteLength(input.content ?? '', 'utf8') > options.maxContentBytes) {
      errors.push({
        field: `${at}.content`,
        reason: `must not exceed ${options.maxContentBytes} bytes`,
      });
    }
    if (!absolute(input.path))
      errors.push({ field: `${at}.path`, reason: 'must be an absolute path' });
  });
  (task.outputs ?? []).forEach((output, i) => {
    const at = `outputs[${i}]`;
    if (!absolute(output.path))
      errors.push({ field: `${at}.path`, reason: 'must be an absolute path' });
    if (WILDCARD.test(output.path) && !output.path_prefix) {
      errors.push({
        field: `${at}.path_prefix`,
        reason: 'is required when path contains wildcards',
      });
    }
  });
  task.executors.forEach((executor, i) => {
    for (const stream of ['stdin', 'stdout', 'stderr'] as const) {
      if (!absolute(executor[stream])) {
        errors.push({ field: `executors[${i}].${stream}`, reason: 'must be an absolute path' });
      }
    }
  });
  return errors;
}

/**
 * Validates a CreateTask body against TES 1.1: the limits first, then the schema (types, enums, required fields), then
 * the rules in the spec's prose. Returns a copy without unknown fields; server-set fields (`id`,
 * `state`, `logs`, `creation_time`) are not part of a request and are dropped too. Where an input has
 * non-empty `content`, the spec says its `url` must be ignored, so it is removed.
 */
export function createTaskValidator(
  options: TaskValidationOptions,
): (body: unknown) => Validation<TesTaskRequest> {
  const check = requestAjv.compile<TesTaskRequest>(TesTaskRequestSchema);
  return (body) => {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return {
        ok: false,
        errors: [{ field: '(body)', reason: 'must be a JSON object (a TES task)' }],
      };
    }
    if (options.limits) {
      const over = limitErrors(body as Record<string, unknown>, options.limits);
      if (over.length > 0) return { ok: false, errors: over };
    }
    const task = structuredClone(body);
    if (!check(task)) return { ok: false, errors: toFieldErrors(check.errors) };
    const errors = semanticErrors(task, options);
    if (errors.length > 0) return { ok: false, errors };
    for (const input of task.inputs ?? []) if (input.content) delete input.url;
    return { ok: true, value: task };
  };
}

/** A validator for any named TES schema, without removing anything (for checking answers). */
export function schemaValidator<T>(schema: TSchema): ValidateFunction<T> {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = strictAjv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate as ValidateFunction<T>;
}
