// The port moved to @protes/core, which every lib shares; re-exported so that existing imports
// keep working. Adapters here still extend it and throw these errors.
export {
  InvalidPageTokenError,
  StaleVersionError,
  TaskExistsError,
  TaskNotFoundError,
  TaskStore,
} from '@protes/core';
