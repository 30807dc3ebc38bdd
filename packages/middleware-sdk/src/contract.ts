import type { TesTaskRequest } from './tes-task';

/** A place on Earth, in degrees. */
export interface GeoPoint {
  latitude: number;
  longitude: number;
}

/** What the gateway knows of a node's health, from probes and from every call made to it. */
export interface NodeHealth {
  /** Whether the last call (probe, forward, tracking) succeeded. */
  healthy: boolean;
  /** When the node last answered or failed, RFC 3339. */
  checkedAt?: string;
  /** The last failure's reason while unhealthy. */
  reason?: string;
  /** The TES version the node reports in its service-info. */
  tesVersion?: string;
}

/**
 * What is known of a node: what its configuration declares, and what its service-info advertises
 * (read by every successful probe: tesVersion, storage.advertised, and backendParameters when the
 * configuration has none).
 */
export interface NodeMetadata {
  location?: GeoPoint;
  region?: string;
  /**
   * Storage URL schemes or prefixes the node can read inputs from and write outputs to (as
   * configured), and the storage locations its service-info lists (`advertised`). TES says that
   * list names "some, but not necessarily all" locations, so it never restricts `read`/`write`.
   */
  storage?: { read?: string[]; write?: string[]; advertised?: string[] };
  /** Ceilings of what one task may ask for on this node. */
  resources?: {
    cpuCores?: number;
    ramGb?: number;
    diskGb?: number;
    preemptible?: boolean;
    zones?: string[];
    /**
     * The backend parameter keys the node supports: configured, else what its service-info
     * advertises (`tesResources_backend_parameters`); absent when neither says.
     */
    backendParameters?: string[];
  };
  tags?: Record<string, string>;
  /** Relative share for weighted strategies (default 1). */
  weight: number;
  /** The TES version the node reports, once known. */
  tesVersion?: string;
}

/** A node a task may still go to, as the chain sees it. */
export interface NodeCandidate {
  name: string;
  health: NodeHealth;
  metadata: NodeMetadata;
  /** Tasks forwarded to this node that are not terminal yet. */
  load: number;
}

/** Who submitted the task. */
export interface Caller {
  /** The task's owner: the authenticated subject, or 'anonymous'. */
  subject: string;
  /** The request headers the operator lets through to the chain. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The token claims the operator lets through to the chain; absent without them. */
  claims?: Readonly<Record<string, unknown>>;
}

/**
 * What a middleware receives and returns. It may rewrite `task` (what will be forwarded), remove
 * candidates, or reorder them (first = preferred); `received` stays as the client sent it.
 * `P` is what the middleware's `prepare` makes of its settings.
 */
export interface TaskContext<P = unknown> {
  readonly taskId: string;
  readonly received: Readonly<TesTaskRequest>;
  task: TesTaskRequest;
  readonly caller: Caller;
  candidates: NodeCandidate[];
  /**
   * This middleware's settings from the chain configuration ({} when none), valid against its
   * `settingsSchema` when it declares one: the chain checks them when the chain is set.
   */
  readonly settings: Readonly<Record<string, unknown>>;
  /**
   * What the middleware's `prepare` returned for these settings, made once when the chain was set
   * and handed to every task of that chain; undefined for a middleware without `prepare`.
   */
  readonly prepared?: P;
}

/** Reads the files that settings name, from the directories `middleware.fileDirs` allows. */
export interface SettingsFiles {
  /**
   * The contents of the file at `path`, the value of setting `field` (its path within the
   * settings, e.g. `geoipDatabase`). A path outside the allowed directories, or a file that cannot
   * be read, rejects with a SettingsError naming `field`.
   */
  read(field: string, path: string): Promise<Buffer>;
}

/**
 * A JSON Schema (draft 2019-09 keywords, as ajv compiles them) of a middleware's settings: a plain
 * object, or one built with TypeBox (`Type.Object(...)`), which is the same JSON underneath.
 */
export type SettingsSchema = Readonly<Record<string, unknown>>;

/**
 * One step of the chain: an injectable Nest provider, registered under its unique `name`.
 * It resolves with the (possibly changed) context, or throws a MiddlewareRejection (the client's
 * task is refused) or a MiddlewareError (this middleware could not decide; a fallback may).
 *
 * Settings are checked when a chain is set (at start for `middleware.chain`, at each change through
 * the management API), never per task: `settingsSchema` is compiled once, and a chain whose
 * settings for this middleware do not match it is refused, naming each field. Then `prepare`, if
 * given, turns the valid settings into what `handle` uses (lookup tables, files read through
 * `files`), once per chain; it throws a SettingsError naming a setting it cannot use. A middleware
 * without `settingsSchema` gets whatever settings the chain names.
 */
export interface TaskMiddleware<P = unknown> {
  readonly name: string;
  readonly settingsSchema?: SettingsSchema;
  prepare?(settings: Readonly<Record<string, unknown>>, files: SettingsFiles): P | Promise<P>;
  handle(context: TaskContext<P>): Promise<TaskContext<P>>;
}
