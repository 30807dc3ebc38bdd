import { Injectable } from '@nestjs/common';
import type { TesResources } from '@protes/tes';
import { takesStrictBackendParameters } from '../../backend-parameters';
import type { NodeMetadata, TaskContext } from '../middleware';
import { decide } from './decide';
import { type BuiltinMiddleware, NoSettings } from './settings';

type Ceilings = NonNullable<NodeMetadata['resources']>;

/** A request is within a ceiling unless both are given and the request is larger. */
const within = (wanted: number | undefined, ceiling: number | undefined): boolean =>
  wanted === undefined || ceiling === undefined || wanted <= ceiling;

function fits(wanted: TesResources, node: Ceilings): boolean {
  return (
    within(wanted.cpu_cores, node.cpuCores) &&
    within(wanted.ram_gb, node.ramGb) &&
    within(wanted.disk_gb, node.diskGb) &&
    // `preemptible: true` on a node: it has preemptible (spot) capacity only.
    !(wanted.preemptible === false && node.preemptible === true) &&
    (!wanted.zones?.length ||
      !node.zones?.length ||
      wanted.zones.some((zone) => node.zones?.includes(zone))) &&
    takesStrictBackendParameters(wanted, node.backendParameters)
  );
}

/**
 * Keeps the nodes whose declared ceilings (`metadata.resources`) can take the task's resources.
 * Anything either side leaves undeclared does not constrain, except under
 * `backend_parameters_strict: true`, where a node must support every requested key
 * (case-insensitively) and a node that declares none takes no strict parameter. That last rule is
 * the gateway's own as well (see backend-parameters.ts): it narrows the candidates before any chain
 * runs, so here it only matters for a task an earlier middleware rewrote. A node's
 * `backendParameters` are its configured ones, else those its service-info advertises.
 */
@Injectable()
export class ResourcesMiddleware implements BuiltinMiddleware {
  readonly name = 'resources';
  readonly description =
    "Keeps the nodes whose configured ceilings (`resources`: `cpuCores`, `ramGb`, `diskGb`, `preemptible`, `zones`, `backendParameters`) can take the task's `resources`. What either side leaves out does not constrain, except that with `backend_parameters_strict: true` a node must support every requested key (case-insensitively), and a node that declares none takes no strict key.";
  readonly settingsSchema = NoSettings;

  handle(context: TaskContext): Promise<TaskContext> {
    return decide(() => {
      const wanted = context.task.resources;
      if (!wanted) return context;
      const candidates = context.candidates.filter((c) => fits(wanted, c.metadata.resources ?? {}));
      return { ...context, candidates };
    });
  }
}
