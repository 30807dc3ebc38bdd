import type { TesTaskRequest } from '@protes/tes';
import type { NodeHealth } from '../node-registry';

// Decisions are kept on the task record, so their type lives with it (persistence never imports
// distribution).
export type { MiddlewareDecision } from '@protes/persistence';

/** A place on Earth, in degrees. */
export interface GeoPoint {
  latitude: number;
  longitude: number;
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
  /** The authenticated subject, or 'anonymous'. */
  subject: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

/**
 * What a middleware receives and returns. It may rewrite `task` (what will be forwarded), remove
 * candidates, or reorder them (first = preferred); `received` stays as the client sent it.
 */
export interface TaskContext {
  readonly taskId: string;
  readonly received: Readonly<TesTaskRequest>;
  task: TesTaskRequest;
  readonly caller: Caller;
  candidates: NodeCandidate[];
  /** This middleware's settings from the chain configuration ({} when none). */
  readonly settings: Readonly<Record<string, unknown>>;
}

/**
 * One step of the chain: an injectable Nest provider, registered under its unique `name`.
 * It resolves with the (possibly changed) context, or throws a MiddlewareRejection (the client's
 * task is refused) or a MiddlewareError (this middleware could not decide; a fallback may).
 */
export interface TaskMiddleware {
  readonly name: string;
  handle(context: TaskContext): Promise<TaskContext>;
}

/** The task is refused: the client gets `status` (4xx) with the reason. */
export class MiddlewareRejection extends Error {
  // The chain also recognises a rejection by this name: a plugin package cannot share this class.
  override readonly name = 'MiddlewareRejection';

  constructor(
    message: string,
    readonly status = 400,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** The middleware could not do its work for this task (no data, a lookup failed, ...). */
export class MiddlewareError extends Error {
  override readonly name = 'MiddlewareError';
}
