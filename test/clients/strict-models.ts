/**
 * Strict readers for the TES 1.1 and GA4GH service-info 1.0 models, written from the two OpenAPI
 * documents in shared/spec (not from the gateway's own schemas, which let unknown fields through).
 *
 * Real clients read answers into closed models: py-tes unmarshals every answer into attrs classes
 * (tes/models.py, tes/utils.py `unmarshal`), where a key the class does not declare is an error;
 * Funnel's CLI uses protojson (tes/client.go), which refuses unknown fields by default. A reader
 * here behaves like those clients, but says exactly where it stopped: every failure is a
 * StrictReadError naming the path of the offending value (`tesTask.logs[0].logs[0].exit_code`) and
 * what is wrong with it, so a failing test points at the field the gateway got wrong.
 *
 * `null` is refused wherever the spec gives a type: the spec never allows it, and a field a server
 * has nothing to say about is left out.
 */

export class StrictReadError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'StrictReadError';
  }
}

export type Reader<T> = (value: unknown, path: string) => T;

function fail(path: string, problem: string): never {
  throw new StrictReadError(path, problem);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 60))}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value) ?? ''}`;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// ---- scalars -----------------------------------------------------------------------------------

export const str: Reader<string> = (value, path) =>
  typeof value === 'string' ? value : fail(path, `must be a string, got ${describe(value)}`);

export const bool: Reader<boolean> = (value, path) =>
  typeof value === 'boolean' ? value : fail(path, `must be a boolean, got ${describe(value)}`);

/** `type: integer, format: int32`. */
export const int32: Reader<number> = (value, path) =>
  typeof value === 'number' && Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31
    ? value
    : fail(path, `must be an int32 integer, got ${describe(value)}`);

/** `type: number, format: double`. */
export const double: Reader<number> = (value, path) =>
  typeof value === 'number' && Number.isFinite(value)
    ? value
    : fail(path, `must be a number, got ${describe(value)}`);

/** `type: string, format: int64`: the spec codes 64-bit integers as decimal strings. */
export const int64String: Reader<string> = (value, path) =>
  /^-?\d+$/.test(str(value, path))
    ? (value as string)
    : fail(path, `must be an int64 written as a decimal string, got ${describe(value)}`);

// RFC 3339 date-time (what the spec asks of every time field); py-tes parses them with dateutil and
// Nextflow's generated client with ISO_OFFSET_DATE_TIME, so an offset or Z is required.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export const rfc3339: Reader<string> = (value, path) =>
  RFC3339.test(str(value, path)) && !Number.isNaN(Date.parse(value as string))
    ? (value as string)
    : fail(path, `must be an RFC 3339 date-time, got ${describe(value)}`);

/** `format: uri` (RFC 3986): an absolute URI with a scheme. */
export const uri: Reader<string> = (value, path) => {
  const text = str(value, path);
  return /^[A-Za-z][A-Za-z0-9+.-]*:\S*$/.test(text)
    ? text
    : fail(path, `must be an absolute URI, got ${describe(value)}`);
};

export function oneOf<T extends string>(values: readonly T[]): Reader<T> {
  return (value, path) =>
    typeof value === 'string' && (values as readonly string[]).includes(value)
      ? (value as T)
      : fail(path, `must be one of ${values.join(', ')}, got ${describe(value)}`);
}

// ---- containers --------------------------------------------------------------------------------

export function arrayOf<T>(item: Reader<T>): Reader<T[]> {
  return (value, path) => {
    if (!Array.isArray(value)) fail(path, `must be an array, got ${describe(value)}`);
    return value.map((element, i) => item(element, `${path}[${i}]`));
  };
}

/** `type: object, additionalProperties: {type: string}`: free keys, string values. */
export const stringMap: Reader<Record<string, string>> = (value, path) => {
  if (!isObject(value)) fail(path, `must be an object of strings, got ${describe(value)}`);
  for (const [key, v] of Object.entries(value)) str(v, `${path}[${JSON.stringify(key)}]`);
  return value as Record<string, string>;
};

/**
 * A closed object: every key must be one of `fields` (an unknown one is the error py-tes and
 * protojson raise), each read with its reader, and every `required` key present.
 */
export function readObject(
  value: unknown,
  path: string,
  fields: Record<string, Reader<unknown>>,
  required: readonly string[] = [],
): Record<string, unknown> {
  if (!isObject(value)) fail(path, `must be an object, got ${describe(value)}`);
  for (const key of Object.keys(value)) {
    if (!Object.prototype.hasOwnProperty.call(fields, key)) {
      fail(`${path}.${key}`, 'unknown field (a strict client refuses the whole answer)');
    }
  }
  for (const key of required) {
    if (!(key in value)) fail(`${path}.${key}`, 'required field missing');
  }
  for (const [key, reader] of Object.entries(fields)) {
    if (key in value) reader(value[key], `${path}.${key}`);
  }
  return value;
}

// ---- TES 1.1 models ----------------------------------------------------------------------------

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
export type TesState = (typeof TES_STATES)[number];
export const TERMINAL_STATES: readonly TesState[] = [
  'COMPLETE',
  'EXECUTOR_ERROR',
  'SYSTEM_ERROR',
  'CANCELED',
  'PREEMPTED',
];

export type View = 'MINIMAL' | 'BASIC' | 'FULL';
export type FileType = 'FILE' | 'DIRECTORY';

export interface TesInput {
  name?: string;
  description?: string;
  url?: string;
  path: string;
  type?: FileType;
  content?: string;
  streamable?: boolean;
}

export interface TesOutput {
  name?: string;
  description?: string;
  url: string;
  path: string;
  path_prefix?: string;
  type?: FileType;
}

export interface TesResources {
  cpu_cores?: number;
  preemptible?: boolean;
  ram_gb?: number;
  disk_gb?: number;
  zones?: string[];
  backend_parameters?: Record<string, string>;
  backend_parameters_strict?: boolean;
}

export interface TesExecutor {
  image: string;
  command: string[];
  workdir?: string;
  stdin?: string;
  stdout?: string;
  stderr?: string;
  env?: Record<string, string>;
  ignore_error?: boolean;
}

export interface TesExecutorLog {
  start_time?: string;
  end_time?: string;
  stdout?: string;
  stderr?: string;
  exit_code: number;
}

export interface TesOutputFileLog {
  url: string;
  path: string;
  size_bytes: string;
}

export interface TesTaskLog {
  logs: TesExecutorLog[];
  metadata?: Record<string, string>;
  start_time?: string;
  end_time?: string;
  outputs: TesOutputFileLog[];
  system_logs?: string[];
}

export interface TesTask {
  id?: string;
  state?: TesState;
  name?: string;
  description?: string;
  inputs?: TesInput[];
  outputs?: TesOutput[];
  resources?: TesResources;
  executors?: TesExecutor[];
  volumes?: string[];
  tags?: Record<string, string>;
  logs?: TesTaskLog[];
  creation_time?: string;
}

export interface TesListTasksResponse {
  tasks: TesTask[];
  next_page_token?: string;
}

export interface TesCreateTaskResponse {
  id: string;
}

const fileType = oneOf<FileType>(['FILE', 'DIRECTORY']);
export const tesState = oneOf<TesState>(TES_STATES);

export const readInput: Reader<TesInput> = (value, path) =>
  readObject(
    value,
    path,
    {
      name: str,
      description: str,
      url: str,
      path: str,
      type: fileType,
      content: str,
      streamable: bool,
    },
    ['path'],
  ) as unknown as TesInput;

export const readOutput: Reader<TesOutput> = (value, path) =>
  readObject(
    value,
    path,
    { name: str, description: str, url: str, path: str, path_prefix: str, type: fileType },
    ['path', 'url'],
  ) as unknown as TesOutput;

export const readResources: Reader<TesResources> = (value, path) =>
  readObject(value, path, {
    cpu_cores: int32,
    preemptible: bool,
    ram_gb: double,
    disk_gb: double,
    zones: arrayOf(str),
    backend_parameters: stringMap,
    backend_parameters_strict: bool,
  });

export const readExecutor: Reader<TesExecutor> = (value, path) =>
  readObject(
    value,
    path,
    {
      image: str,
      command: arrayOf(str),
      workdir: str,
      stdin: str,
      stdout: str,
      stderr: str,
      env: stringMap,
      ignore_error: bool,
    },
    ['command', 'image'],
  ) as unknown as TesExecutor;

export const readExecutorLog: Reader<TesExecutorLog> = (value, path) =>
  readObject(
    value,
    path,
    { start_time: rfc3339, end_time: rfc3339, stdout: str, stderr: str, exit_code: int32 },
    ['exit_code'],
  ) as unknown as TesExecutorLog;

export const readOutputFileLog: Reader<TesOutputFileLog> = (value, path) =>
  readObject(value, path, { url: str, path: str, size_bytes: int64String }, [
    'path',
    'size_bytes',
    'url',
  ]) as unknown as TesOutputFileLog;

export const readTaskLog: Reader<TesTaskLog> = (value, path) =>
  readObject(
    value,
    path,
    {
      logs: arrayOf(readExecutorLog),
      metadata: stringMap,
      start_time: rfc3339,
      end_time: rfc3339,
      outputs: arrayOf(readOutputFileLog),
      system_logs: arrayOf(str),
    },
    ['logs', 'outputs'],
  ) as unknown as TesTaskLog;

const TASK_FIELDS: Record<string, Reader<unknown>> = {
  id: str,
  state: tesState,
  name: str,
  description: str,
  inputs: arrayOf(readInput),
  outputs: arrayOf(readOutput),
  resources: readResources,
  executors: arrayOf(readExecutor),
  volumes: arrayOf(str),
  tags: stringMap,
  logs: arrayOf(readTaskLog),
  creation_time: rfc3339,
};

/**
 * A task as a server answers it. Every answer carries `id` and `state` (the server's fields, and all
 * a MINIMAL view holds). The schema's `executors` requirement applies to BASIC and FULL only: the
 * spec's own MINIMAL view leaves them out. With a view, the view's rules are checked too:
 * MINIMAL holds ONLY id and state; BASIC leaves out executor logs' stdout/stderr, inputs' content
 * and task logs' system_logs.
 */
export function readTask(value: unknown, path = 'tesTask', view?: View): TesTask {
  const task = readObject(
    value,
    path,
    TASK_FIELDS,
    view === 'MINIMAL' ? ['id', 'state'] : view ? ['id', 'state', 'executors'] : ['id', 'state'],
  ) as TesTask;
  if (view === 'MINIMAL') {
    for (const key of Object.keys(task)) {
      if (key !== 'id' && key !== 'state') {
        fail(`${path}.${key}`, 'the MINIMAL view holds only id and state');
      }
    }
  }
  if (view === 'BASIC') {
    task.inputs?.forEach((input, i) => {
      if ('content' in input) fail(`${path}.inputs[${i}].content`, 'not in the BASIC view');
    });
    task.logs?.forEach((log, i) => {
      if ('system_logs' in log) fail(`${path}.logs[${i}].system_logs`, 'not in the BASIC view');
      log.logs.forEach((executorLog, j) => {
        for (const key of ['stdout', 'stderr'] as const) {
          if (key in executorLog) {
            fail(`${path}.logs[${i}].logs[${j}].${key}`, 'not in the BASIC view');
          }
        }
      });
    });
  }
  return task;
}

export function readListTasksResponse(
  value: unknown,
  path = 'tesListTasksResponse',
  view?: View,
): TesListTasksResponse {
  const task: Reader<TesTask> = (item, at) => readTask(item, at, view);
  const list = readObject(value, path, { tasks: arrayOf(task), next_page_token: str }, ['tasks']);
  return list as unknown as TesListTasksResponse;
}

/** Exactly `{"id": …}`: py-tes's CreateTaskResponse has one attribute, protojson's one field. */
export const readCreateTaskResponse = (
  value: unknown,
  path = 'tesCreateTaskResponse',
): TesCreateTaskResponse =>
  readObject(value, path, { id: str }, ['id']) as unknown as TesCreateTaskResponse;

/**
 * tesCancelTaskResponse is an object without properties. Funnel's CLI unmarshals it with protojson
 * into a message with no fields, so any field (and an empty body) breaks `funnel task cancel`.
 */
export const readCancelTaskResponse = (
  value: unknown,
  path = 'tesCancelTaskResponse',
): Record<string, never> => readObject(value, path, {}) as Record<string, never>;

// ---- service-info 1.0 + TES 1.1 ----------------------------------------------------------------

export interface ServiceType {
  group: string;
  artifact: string;
  version: string;
}

export interface Organization {
  name: string;
  url: string;
}

export interface TesServiceInfo {
  id: string;
  name: string;
  type: ServiceType;
  description?: string;
  organization: Organization;
  contactUrl?: string;
  documentationUrl?: string;
  createdAt?: string;
  updatedAt?: string;
  environment?: string;
  version: string;
  storage?: string[];
  tesResources_backend_parameters?: string[];
}

/** service-info's ServiceType, narrowed by TES's tesServiceType to `artifact: tes`. */
export const readServiceType: Reader<ServiceType> = (value, path) =>
  readObject(value, path, { group: str, artifact: oneOf(['tes']), version: str }, [
    'group',
    'artifact',
    'version',
  ]) as unknown as ServiceType;

export const readOrganization: Reader<Organization> = (value, path) =>
  readObject(value, path, { name: str, url: uri }, ['name', 'url']) as unknown as Organization;

/**
 * tesServiceInfo: service-info 1.0's Service with TES's `storage`,
 * `tesResources_backend_parameters` and `type`. Nothing else: py-tes's ServiceInfo class declares
 * exactly these (camelCase keys converted to snake_case), and a gateway's own facts belong in its
 * own API.
 */
export function readServiceInfo(value: unknown, path = 'tesServiceInfo'): TesServiceInfo {
  return readObject(
    value,
    path,
    {
      id: str,
      name: str,
      type: readServiceType,
      description: str,
      organization: readOrganization,
      contactUrl: uri,
      documentationUrl: uri,
      createdAt: rfc3339,
      updatedAt: rfc3339,
      environment: str,
      version: str,
      storage: arrayOf(str),
      tesResources_backend_parameters: arrayOf(str),
    },
    ['id', 'name', 'type', 'organization', 'version'],
  ) as unknown as TesServiceInfo;
}

// ---- the gateway's error body ------------------------------------------------------------------

export interface ErrorBody {
  status_code: number;
  msg: string;
  [key: string]: unknown;
}

/**
 * TES defines no error body; proTES answers every error with `{status_code, msg, ...}`. The
 * status in the body must be the HTTP status, and msg must say something.
 */
export function readErrorBody(value: unknown, status: number, path = 'error'): ErrorBody {
  if (!isObject(value)) fail(path, `must be a JSON object, got ${describe(value)}`);
  if (value.status_code !== status) {
    fail(
      `${path}.status_code`,
      `must be the HTTP status ${status}, got ${describe(value.status_code)}`,
    );
  }
  if (str(value.msg, `${path}.msg`).trim() === '') fail(`${path}.msg`, 'must not be empty');
  return value as ErrorBody;
}
