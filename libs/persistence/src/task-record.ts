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
  type TaskStateOf,
  type TaskStatesJson,
} from '@protes/core';
