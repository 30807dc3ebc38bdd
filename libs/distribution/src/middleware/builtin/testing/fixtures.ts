import type { TesTaskRequest } from '@protes/tes';
import type { NodeCandidate, NodeMetadata, TaskContext } from '../../middleware';

export interface NodeState {
  healthy?: boolean;
  load?: number;
}

export function node(
  name: string,
  metadata: Partial<NodeMetadata> = {},
  { healthy = true, load = 0 }: NodeState = {},
): NodeCandidate {
  return {
    name,
    health: { healthy },
    metadata: { weight: 1, ...metadata },
    load,
  };
}

export function task(overrides: Partial<TesTaskRequest> = {}): TesTaskRequest {
  return { executors: [{ image: 'alpine', command: ['true'] }], ...overrides };
}

export function context(
  candidates: NodeCandidate[],
  taskRequest: TesTaskRequest = task(),
  settings: Record<string, unknown> = {},
): TaskContext {
  return {
    taskId: 'task-1',
    received: structuredClone(taskRequest),
    task: taskRequest,
    caller: { subject: 'anonymous', headers: {} },
    candidates,
    settings,
  };
}

export const names = (ctx: TaskContext): string[] => ctx.candidates.map((c) => c.name);
