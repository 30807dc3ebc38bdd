import { Static, TSchema, Type } from '@sinclair/typebox';

/**
 * TES 1.1.0 models, written once from the specification as JSON Schema. The same objects give the
 * TypeScript types (`Static<>`), the compiled request validators and the OpenAPI document, so the
 * three cannot drift apart. Unknown properties are allowed (and later dropped), as the spec asks
 * servers to ignore what they do not know.
 */

const stringMap = (description: string) =>
  Type.Record(Type.String(), Type.String(), { description });

export const TES_STATES = [
  'UNKNOWN',
  'QUEUED',
  'INITIALIZING',
  'RUNNING',
  'PAUSED',
  'COMPLETE',
  'EXECUTOR_ERROR',
  'SYSTEM_ERROR',
  'CANCELED',
  'PREEMPTED',
  'CANCELING',
] as const;
export const TesStateSchema = Type.Union(
  TES_STATES.map((s) => Type.Literal(s)),
  { description: 'Task state as defined by the server.' },
);
export type TesState = Static<typeof TesStateSchema>;

export const TERMINAL_STATES: ReadonlySet<TesState> = new Set<TesState>([
  'COMPLETE',
  'EXECUTOR_ERROR',
  'SYSTEM_ERROR',
  'CANCELED',
  'PREEMPTED',
]);
export const isTerminal = (state: TesState): boolean => TERMINAL_STATES.has(state);

export const TES_VIEWS = ['MINIMAL', 'BASIC', 'FULL'] as const;
export type TesView = (typeof TES_VIEWS)[number];

export const TesFileTypeSchema = Type.Union([Type.Literal('FILE'), Type.Literal('DIRECTORY')], {
  default: 'FILE',
});
export type TesFileType = Static<typeof TesFileTypeSchema>;

export const TesInputSchema = Type.Object({
  name: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  url: Type.Optional(Type.String({ description: 'Required unless content is set.' })),
  path: Type.String({ description: 'Absolute path of the file inside the container.' }),
  type: Type.Optional(TesFileTypeSchema),
  content: Type.Optional(Type.String({ description: 'File content literal (UTF-8).' })),
  streamable: Type.Optional(Type.Boolean()),
});
export type TesInput = Static<typeof TesInputSchema>;

export const TesOutputSchema = Type.Object({
  name: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  url: Type.String(),
  path: Type.String(),
  path_prefix: Type.Optional(Type.String()),
  type: Type.Optional(TesFileTypeSchema),
});
export type TesOutput = Static<typeof TesOutputSchema>;

export const TesExecutorSchema = Type.Object({
  image: Type.String(),
  command: Type.Array(Type.String(), { minItems: 1 }),
  workdir: Type.Optional(Type.String()),
  stdin: Type.Optional(Type.String()),
  stdout: Type.Optional(Type.String()),
  stderr: Type.Optional(Type.String()),
  env: Type.Optional(stringMap('Environment variables to set within the container.')),
  ignore_error: Type.Optional(Type.Boolean()),
});
export type TesExecutor = Static<typeof TesExecutorSchema>;

// The spec gives resources no bounds; a negative amount means nothing a node could schedule, so
// it is refused where a task comes in rather than passed on to each node in turn.
export const TesResourcesSchema = Type.Object({
  cpu_cores: Type.Optional(Type.Integer({ format: 'int32', minimum: 0 })),
  preemptible: Type.Optional(Type.Boolean()),
  ram_gb: Type.Optional(Type.Number({ minimum: 0 })),
  disk_gb: Type.Optional(Type.Number({ minimum: 0 })),
  zones: Type.Optional(Type.Array(Type.String())),
  backend_parameters: Type.Optional(stringMap('Key/value pairs for backend configuration.')),
  backend_parameters_strict: Type.Optional(Type.Boolean({ default: false })),
});
export type TesResources = Static<typeof TesResourcesSchema>;

export const TesExecutorLogSchema = Type.Object({
  start_time: Type.Optional(Type.String()),
  end_time: Type.Optional(Type.String()),
  stdout: Type.Optional(Type.String()),
  stderr: Type.Optional(Type.String()),
  exit_code: Type.Integer({ format: 'int32' }),
});
export type TesExecutorLog = Static<typeof TesExecutorLogSchema>;

export const TesOutputFileLogSchema = Type.Object({
  url: Type.String(),
  path: Type.String(),
  size_bytes: Type.String({ format: 'int64' }),
});
export type TesOutputFileLog = Static<typeof TesOutputFileLogSchema>;

export const TesTaskLogSchema = Type.Object({
  logs: Type.Array(TesExecutorLogSchema),
  metadata: Type.Optional(stringMap('Arbitrary logging metadata included by the implementation.')),
  start_time: Type.Optional(Type.String()),
  end_time: Type.Optional(Type.String()),
  outputs: Type.Array(TesOutputFileLogSchema),
  system_logs: Type.Optional(Type.Array(Type.String())),
});
export type TesTaskLog = Static<typeof TesTaskLogSchema>;

/** A task as a client submits it: the fields a client may set. */
export const TesTaskRequestSchema = Type.Object({
  name: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  inputs: Type.Optional(Type.Array(TesInputSchema)),
  outputs: Type.Optional(Type.Array(TesOutputSchema)),
  resources: Type.Optional(TesResourcesSchema),
  executors: Type.Array(TesExecutorSchema, { minItems: 1 }),
  volumes: Type.Optional(Type.Array(Type.String())),
  tags: Type.Optional(stringMap('A key-value map of arbitrary tags.')),
});
export type TesTaskRequest = Static<typeof TesTaskRequestSchema>;

/** A task as a server returns it: the request plus the server-set fields (FULL view). */
export const TesTaskSchema = Type.Composite([
  Type.Object({
    id: Type.String({ description: 'Task identifier assigned by the server.' }),
    state: TesStateSchema,
  }),
  Type.Partial(TesTaskRequestSchema),
  Type.Object({
    logs: Type.Optional(Type.Array(TesTaskLogSchema)),
    creation_time: Type.Optional(Type.String()),
  }),
]);
export type TesTask = Static<typeof TesTaskSchema>;

export const TesCreateTaskResponseSchema = Type.Object({ id: Type.String() });
export type TesCreateTaskResponse = Static<typeof TesCreateTaskResponseSchema>;

export const TesListTasksResponseSchema = Type.Object({
  tasks: Type.Array(TesTaskSchema),
  next_page_token: Type.Optional(Type.String()),
});
export type TesListTasksResponse = Static<typeof TesListTasksResponseSchema>;

export const TesCancelTaskResponseSchema = Type.Object({}, {});

/** GA4GH service-info 1.0.0 `Service`, with TES's additions. */
export const ServiceTypeSchema = Type.Object({
  group: Type.String(),
  artifact: Type.String(),
  version: Type.String(),
});
/** The service type of a TES server: service-info's `ServiceType` with artifact `tes`. */
export const TesServiceTypeSchema = Type.Object({
  group: Type.String(),
  artifact: Type.Literal('tes'),
  version: Type.String(),
});
export const TesServiceInfoSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: TesServiceTypeSchema,
  description: Type.Optional(Type.String()),
  organization: Type.Object({ name: Type.String(), url: Type.String({ format: 'uri' }) }),
  contactUrl: Type.Optional(Type.String({ format: 'uri' })),
  documentationUrl: Type.Optional(Type.String({ format: 'uri' })),
  createdAt: Type.Optional(Type.String({ format: 'date-time' })),
  updatedAt: Type.Optional(Type.String({ format: 'date-time' })),
  environment: Type.Optional(Type.String()),
  version: Type.String(),
  storage: Type.Optional(Type.Array(Type.String())),
  tesResources_backend_parameters: Type.Optional(Type.Array(Type.String())),
});
export type TesServiceInfo = Static<typeof TesServiceInfoSchema>;

/** The error body of every non-2xx answer (TES defines none; this follows GA4GH practice). */
export const ErrorResponseSchema = Type.Object({
  status_code: Type.Integer(),
  msg: Type.String(),
  errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), reason: Type.String() }))),
  error_id: Type.Optional(Type.String()),
});
export type ErrorResponse = Static<typeof ErrorResponseSchema>;

/** Every model by the name the specification gives it, for the OpenAPI document. */
export const TES_SCHEMAS: Readonly<Record<string, TSchema>> = {
  tesState: TesStateSchema,
  tesFileType: TesFileTypeSchema,
  tesInput: TesInputSchema,
  tesOutput: TesOutputSchema,
  tesExecutor: TesExecutorSchema,
  tesResources: TesResourcesSchema,
  tesExecutorLog: TesExecutorLogSchema,
  tesOutputFileLog: TesOutputFileLogSchema,
  tesTaskLog: TesTaskLogSchema,
  tesTaskRequest: TesTaskRequestSchema,
  tesTask: TesTaskSchema,
  tesCreateTaskResponse: TesCreateTaskResponseSchema,
  tesListTasksResponse: TesListTasksResponseSchema,
  tesCancelTaskResponse: TesCancelTaskResponseSchema,
  tesServiceType: TesServiceTypeSchema,
  tesServiceInfo: TesServiceInfoSchema,
  errorResponse: ErrorResponseSchema,
};
