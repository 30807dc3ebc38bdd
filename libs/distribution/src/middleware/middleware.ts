/*
 * The middleware contract is defined once, in @protes/middleware-sdk, the package plugins build
 * against; the gateway uses the same package. These names stay exported from @protes/distribution
 * for the code of this repository.
 */
export {
  type Caller,
  type GeoPoint,
  MiddlewareError,
  MiddlewareRejection,
  type NodeCandidate,
  type NodeHealth,
  type NodeMetadata,
  SettingsError,
  type SettingsFiles,
  type SettingsSchema,
  type TaskContext,
  type TaskMiddleware,
} from '@protes/middleware-sdk';

// Decisions are kept on the task record, so their type lives with it (the shared contracts in
// @protes/core never import distribution); plugins never see them.
export type { MiddlewareDecision } from '@protes/core';

import type { TaskContext } from '@protes/middleware-sdk';

/**
 * What a built-in middleware may return: the context, with a `note` qualifying its decision (what
 * it had to decide without, say). The chain records the note as the decision's reason and passes
 * it on to no one. The chain reads it by shape, so a plugin may set it too.
 */
export type NotedContext<P = unknown> = TaskContext<P> & { note?: string };
