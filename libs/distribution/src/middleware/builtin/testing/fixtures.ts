import type { FieldError, TesTaskRequest } from '@protes/tes';
import { checkSettings } from '../../chain-settings';
import type {
  NodeCandidate,
  NodeMetadata,
  SettingsFiles,
  TaskContext,
  TaskMiddleware,
} from '../../middleware';
import { ChainValidationError } from '../../middleware-chain.config';
import { DirectorySettingsFiles } from '../../settings-files';

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

/** A context as the chain hands it, without prepared settings (typed to fit any middleware). */
export function context<P = never>(
  candidates: NodeCandidate[],
  taskRequest: TesTaskRequest = task(),
  settings: Record<string, unknown> = {},
): TaskContext<P> {
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

/** Files as a gateway without `middleware.fileDirs` reads them: never. */
export const NO_FILES: SettingsFiles = new DirectorySettingsFiles([]);

/**
 * The context the chain hands `middleware` for these settings: checked against its schema and
 * prepared first, as when a chain is set (rejects with a ChainValidationError when they are bad).
 */
export async function contextFor<P>(
  middleware: TaskMiddleware<P>,
  candidates: NodeCandidate[],
  taskRequest: TesTaskRequest = task(),
  settings: Record<string, unknown> = {},
  files: SettingsFiles = NO_FILES,
): Promise<TaskContext<P>> {
  const prepared = await checkSettings(middleware, settings, files);
  return { ...context(candidates, taskRequest, settings), prepared };
}

/** What checking these settings for `middleware` reports, field by field; [] when they are good. */
export async function settingsErrors<P>(
  middleware: TaskMiddleware<P>,
  settings: Record<string, unknown>,
  files: SettingsFiles = NO_FILES,
): Promise<FieldError[]> {
  try {
    await checkSettings(middleware, settings, files);
    return [];
  } catch (error) {
    if (error instanceof ChainValidationError) return error.errors;
    throw error;
  }
}
