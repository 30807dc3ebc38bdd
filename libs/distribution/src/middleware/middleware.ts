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
  type Visa,
} from '@protes/middleware-sdk';

// Decisions are kept on the task record, so their type lives with it (the shared contracts in
// @protes/core never import distribution); plugins never see them.
export type { MiddlewareDecision } from '@protes/core';
