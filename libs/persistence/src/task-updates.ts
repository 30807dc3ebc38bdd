// Moved to @protes/core, beside the port it works on; re-exported so that existing imports keep
// working.
export { updateTask } from '@protes/core';
