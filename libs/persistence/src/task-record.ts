// Moved to @protes/core, which every lib shares; re-exported so that existing imports keep working.
export {
  type ForwardAttempt,
  type MiddlewareDecision,
  newTaskRecord,
  type TagFilter,
  type TaskLease,
  type TaskPage,
  type TaskQuery,
  type TaskRecord,
  type TaskStatesJson,
} from '@protes/core';
