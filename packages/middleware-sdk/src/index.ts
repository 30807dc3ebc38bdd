/**
 * @protes/middleware-sdk: what a proTES middleware plugin is built against. The contract the
 * gateway calls (TaskMiddleware and its TaskContext), the errors it recognises, the tokens of what
 * it lets a plugin inject, and base classes for the two common kinds of middleware. The test kit is
 * `@protes/middleware-sdk/testing`.
 */
export type {
  Caller,
  GeoPoint,
  NodeCandidate,
  NodeHealth,
  NodeMetadata,
  SettingsFiles,
  SettingsSchema,
  TaskContext,
  TaskMiddleware,
  Visa,
} from './contract';
export {
  MiddlewareError,
  MiddlewareRejection,
  SettingsError,
  type SettingsProblem,
} from './errors';
export type {
  ClientCaller,
  ForNodeContext,
  FromNodeContext,
  HookNode,
  HookSettings,
  NodeHooks,
  ToClientContext,
} from './contract';
export { FilterMiddleware } from './filter.middleware';
export { RankMiddleware } from './rank.middleware';
export type {
  TesExecutor,
  TesFileType,
  TesInput,
  TesOutput,
  TesExecutorLog,
  TesOutputFileLog,
  TesResources,
  TesState,
  TesTask,
  TesTaskLog,
  TesTaskRequest,
  TesView,
} from './tes-task';
export {
  HTTP_CLIENT,
  type HttpClient,
  type HttpRequest,
  type HttpResponse,
  NODE_DIRECTORY,
  NODE_LOAD,
  type NodeDirectory,
  type NodeInfo,
  type NodeLoad,
  PROTES_CONFIG,
  type ProtesConfigView,
} from './tokens';
