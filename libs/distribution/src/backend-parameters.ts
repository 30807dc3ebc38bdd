import type { TesResources, TesTaskRequest } from '@protes/tes';

/**
 * `resources.backend_parameters` against the keys a node supports: the one set of rules used by
 * the gateway's check before the chain (ForwardingService.route), by the `resources` middleware and
 * by forwarding to each node.
 *
 * - A node's supported keys are its configured `resources.backendParameters` when set, else the
 *   `tesResources_backend_parameters` its service-info advertises (the operator's word wins: it may
 *   narrow what a node claims, or speak for a node that advertises nothing). A node with neither
 *   declares nothing (`undefined`), which differs from declaring none (`[]`).
 * - Keys compare case-insensitively, as TES says backend parameter keys are case insensitive; what
 *   is forwarded keeps the client's spelling.
 * - Strict (`backend_parameters_strict: true`): every key is a requirement. A key no configured
 *   node supports refuses the task (400); otherwise only the nodes supporting every key are
 *   candidates. A node that declares nothing takes no strict key.
 * - Not strict: the keys are hints. A node that declares its keys gets only the keys it supports
 *   (the others are dropped, and the drop is recorded); a node that declares nothing gets them all,
 *   as TES nodes ignore the non-strict keys they do not know.
 */

/** The name under which these rules appear in a task's decisions. */
export const BACKEND_PARAMETERS = 'backend-parameters';

const fold = (key: string): string => key.toLowerCase();

/** The keys a task requires: its backend_parameters keys under backend_parameters_strict. */
export function strictBackendParameters(resources: TesResources | undefined): string[] {
  return resources?.backend_parameters_strict
    ? Object.keys(resources.backend_parameters ?? {})
    : [];
}

/** The keys among `keys` that a node supporting `supported` lacks: all of them when undeclared. */
export function unsupportedBackendParameters(
  keys: readonly string[],
  supported: readonly string[] | undefined,
): string[] {
  const known = new Set((supported ?? []).map(fold));
  return keys.filter((key) => !known.has(fold(key)));
}

/** Whether a node supporting `supported` may take a task with these resources. */
export function takesStrictBackendParameters(
  resources: TesResources | undefined,
  supported: readonly string[] | undefined,
): boolean {
  return unsupportedBackendParameters(strictBackendParameters(resources), supported).length === 0;
}

/** The strict keys of `resources` that none of the nodes (each by its supported keys) supports. */
export function strictBackendParametersNoneSupports(
  resources: TesResources | undefined,
  nodes: readonly (readonly string[] | undefined)[],
): string[] {
  return strictBackendParameters(resources).filter((key) =>
    nodes.every((supported) => unsupportedBackendParameters([key], supported).length > 0),
  );
}

/**
 * The task as sent to one node: without the non-strict keys the node does not support, if it
 * declares its keys; `dropped` names them. Strict keys are never dropped (the candidates were
 * narrowed to the nodes supporting them all), and a node that declares nothing gets the task as
 * it is.
 */
export function backendParametersFor(
  task: TesTaskRequest,
  supported: readonly string[] | undefined,
): { task: TesTaskRequest; dropped: string[] } {
  const resources = task.resources;
  const params = resources?.backend_parameters;
  if (!resources || !params || !supported || resources.backend_parameters_strict) {
    return { task, dropped: [] };
  }
  const dropped = unsupportedBackendParameters(Object.keys(params), supported);
  if (!dropped.length) return { task, dropped };
  const gone = new Set(dropped);
  const kept = Object.fromEntries(Object.entries(params).filter(([key]) => !gone.has(key)));
  return { task: { ...task, resources: { ...resources, backend_parameters: kept } }, dropped };
}
