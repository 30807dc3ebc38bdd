/**
 * The TES 1.1 task request, as a middleware sees it in `TaskContext.task` and `received`: validated
 * by the gateway before the chain runs, and validated again after each middleware rewrote it.
 *
 * The gateway keeps its one definition of the TES models as JSON Schemas (libs/tes); this package
 * cannot depend on the gateway, so it restates the request's shape here, and the gateway's type
 * check fails the moment the two differ.
 */
export interface TesTaskRequest {
  name?: string;
  description?: string;
  inputs?: TesInput[];
  outputs?: TesOutput[];
  resources?: TesResources;
  /** At least one. */
  executors: TesExecutor[];
  volumes?: string[];
  tags?: Record<string, string>;
}

export type TesFileType = 'FILE' | 'DIRECTORY';

export interface TesInput {
  name?: string;
  description?: string;
  /** Required unless `content` is set. */
  url?: string;
  /** Absolute path of the file inside the container. */
  path: string;
  type?: TesFileType;
  /** File content literal (UTF-8). */
  content?: string;
  streamable?: boolean;
}

export interface TesOutput {
  name?: string;
  description?: string;
  url: string;
  path: string;
  path_prefix?: string;
  type?: TesFileType;
}

export interface TesExecutor {
  image: string;
  /** At least one. */
  command: string[];
  workdir?: string;
  stdin?: string;
  stdout?: string;
  stderr?: string;
  env?: Record<string, string>;
  ignore_error?: boolean;
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

/** The task states of TES 1.1. */
export type TesState =
  | 'UNKNOWN'
  | 'QUEUED'
  | 'INITIALIZING'
  | 'RUNNING'
  | 'PAUSED'
  | 'COMPLETE'
  | 'EXECUTOR_ERROR'
  | 'SYSTEM_ERROR'
  | 'CANCELED'
  | 'PREEMPTED'
  | 'CANCELING';

/** How much of a task an answer carries. */
export type TesView = 'MINIMAL' | 'BASIC' | 'FULL';

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
  /** A decimal string (int64). */
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

/**
 * A task as a TES server answers it (what the per-node hooks read and return): the request's
 * fields, all optional, with the server's own. Checked against the gateway's definition like the
 * request.
 */
export interface TesTask extends Partial<TesTaskRequest> {
  id: string;
  state: TesState;
  logs?: TesTaskLog[];
  creation_time?: string;
}
