import type { FieldError, TesState } from '@protes/tes';

/*
 * How a TES 1.0 node differs from a 1.1 one, as the simulator plays it (`--tes-version 1.0.0`).
 * TES 1.1 added optional request fields (input `streamable`, output `path_prefix` and wildcard
 * paths, executor `ignore_error`, `resources.backend_parameters` and `backend_parameters_strict`),
 * made the file `type` optional (1.0 requires it on every input and output), added the states
 * PREEMPTED and CANCELING, the list filters `state`, `tag_key` and `tag_value`, and service-info's
 * `tesResources_backend_parameters`.
 */

/** Request fields TES 1.1 added, by where they sit. */
const ONLY_11 = {
  inputs: ['streamable'],
  outputs: ['path_prefix'],
  executors: ['ignore_error'],
  resources: ['backend_parameters', 'backend_parameters_strict'],
} as const;

/** ListTasks parameters TES 1.0 does not define, which a 1.0 node ignores. */
export const LIST_PARAMETERS_ONLY_11 = ['state', 'tag_key', 'tag_value'] as const;

/** POSIX pattern characters, which a 1.1 output path may use and 1.0 knows nothing of. */
const WILDCARD = /[*?[]/;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const items = (value: unknown): Record<string, unknown>[] =>
  Array.isArray(value) ? value.map((item) => (isRecord(item) ? item : {})) : [];

/**
 * What a strict TES 1.0 server refuses in a CreateTask body that 1.1 allows: each field 1.1 added
 * (present at all, whatever its value), an input or output without `type`, and an output path with
 * wildcards (1.0 would take the pattern for a file name: refused here, so that a test sees it).
 * Everything else is left to the 1.1 validator, which 1.0 requests pass as they are.
 */
export function tes10Refusals(body: unknown): FieldError[] {
  if (!isRecord(body)) return [];
  const errors: FieldError[] = [];
  const added = (field: string) => errors.push({ field, reason: 'is not part of TES 1.0' });
  for (const list of ['inputs', 'outputs', 'executors'] as const) {
    items(body[list]).forEach((item, i) => {
      for (const key of ONLY_11[list]) if (key in item) added(`${list}[${i}].${key}`);
      if (list !== 'executors' && item.type === undefined) {
        errors.push({ field: `${list}[${i}].type`, reason: 'is required in TES 1.0' });
      }
      if (list === 'outputs' && typeof item.path === 'string' && WILDCARD.test(item.path)) {
        errors.push({
          field: `outputs[${i}].path`,
          reason: 'has wildcards, which TES 1.0 does not have',
        });
      }
    });
  }
  if (isRecord(body.resources)) {
    for (const key of ONLY_11.resources) if (key in body.resources) added(`resources.${key}`);
  }
  return errors;
}

/** A ListTasks query less the parameters a 1.0 node does not know (and so ignores). */
export function tes10ListQuery(query: Record<string, unknown>): Record<string, unknown> {
  const known = { ...query };
  for (const key of LIST_PARAMETERS_ONLY_11) delete known[key];
  return known;
}

/** How a 1.0 node reports a state: PREEMPTED, which 1.0 lacks, as the SYSTEM_ERROR it is there. */
export const tes10State = (state: TesState): TesState =>
  state === 'PREEMPTED' ? 'SYSTEM_ERROR' : state;
