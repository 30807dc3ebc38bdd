import type { TesTask, TesTaskRequest, TesView } from './tes-task';

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

/**
 * A GA4GH Passport visa of type ControlledAccessGrants that the gateway verified (signature by a
 * trusted visa issuer's keys, times, type): the caller may use the dataset `value` until
 * `expiresAt`. The visa itself (a JWT) is not kept.
 */
export interface Visa {
  /** The dataset the grant is for, as the visa's `value` names it (often a URL). */
  readonly value: string;
  /** The visa's issuer (`iss`), one the gateway is configured to trust. */
  readonly issuer: string;
  /** When the grant ends: the earlier of the visa's `exp` and its `expires`; ms since the epoch. */
  readonly expiresAt: number;
}

/** Who submitted the task. */
export interface Caller {
  /** The task's owner: the authenticated subject, or 'anonymous'. */
  subject: string;
  /** The request headers the operator lets through to the chain. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The token claims the operator lets through to the chain; absent without them. */
  claims?: Readonly<Record<string, unknown>>;
  /**
   * The verified ControlledAccessGrants visas of the caller's token (`ga4gh_passport_v1`) for a new
   * task: `[]` when it holds none. Absent when the chain runs again for a task already accepted (a
   * tracker taking it over or resubmitting it), where only the owner id is known.
   */
  readonly visas?: readonly Visa[];
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
  /**
   * Why the middleware decided as it did, in one line: set it on the context it returns, and the
   * gateway records it with the middleware's decision on the task. Undefined on the way in.
   */
  reason?: string;
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
export interface TaskMiddleware<P = unknown> extends NodeHooks<P> {
  readonly name: string;
  readonly settingsSchema?: SettingsSchema;
  prepare?(settings: Readonly<Record<string, unknown>>, files: SettingsFiles): P | Promise<P>;
  handle(context: TaskContext<P>): Promise<TaskContext<P>>;
}

/*
 * What a middleware may do besides `handle`, all optional: act per target node when the task is
 * forwarded (forNode), read what a node answers before the gateway stores it (fromNode), and shape
 * what the gateway answers a client (toClient). The gateway finds them by shape on the middleware
 * and runs them over the chain in effect, in chain order; see the gateway's
 * docs/middleware-hooks.md.
 */

/** A node as the hooks see it. */
export interface HookNode {
  readonly name: string;
  readonly metadata: NodeMetadata;
  readonly health: NodeHealth;
}

/** What every hook gets of its middleware's entry in the chain in effect. */
export interface HookSettings<P = unknown> {
  /** The middleware's settings in the chain ({} when none). */
  readonly settings: Readonly<Record<string, unknown>>;
  /** What its `prepare` made of them; undefined for a middleware without `prepare`. */
  readonly prepared?: P;
}

export interface ForNodeContext<P = unknown> extends HookSettings<P> {
  readonly taskId: string;
  /** The task as the client sent it. */
  readonly received: Readonly<TesTaskRequest>;
  /** Who owns the task (the chain's `caller.subject`; headers and claims are not kept). */
  readonly owner: string;
}

export interface FromNodeContext<P = unknown> extends HookSettings<P> {
  /** The gateway's id of the task. */
  readonly taskId: string;
  /** The node's id of the task. */
  readonly remoteId: string;
}

/** Who asks for the task. */
export interface ClientCaller {
  /** The caller's owner id (what tasks record as their owner). */
  readonly subject: string;
  /** An administrator, who sees every task. */
  readonly admin: boolean;
  /** The token claims the operator lets through (`auth.exposeClaims`). */
  readonly claims?: Readonly<Record<string, unknown>>;
}

export interface ToClientContext<P = unknown> extends HookSettings<P> {
  /** The view the client asked for: BASIC or FULL (toView shapes the answer after the hooks). */
  readonly view: Exclude<TesView, 'MINIMAL'>;
  readonly caller: ClientCaller;
}

/**
 * The optional per-node hooks of a middleware. Each gets a copy and returns the (possibly changed)
 * value, at once or as a promise; a hook that throws, or returns something the gateway cannot use
 * (see below), has failed.
 */
export interface NodeHooks<P = unknown> {
  /**
   * The task as `node` will get it, at each attempt to hand it to a node. The result must be a
   * valid TES task. The gateway's `protes_id` tag and its backend parameter rules are applied
   * after the hooks.
   */
  forNode?(
    task: TesTaskRequest,
    node: HookNode,
    context: ForNodeContext<P>,
  ): TesTaskRequest | Promise<TesTaskRequest>;
  /**
   * What `node` answered of its task (the FULL view), before the tracker reports it. The result
   * must be a valid TES 1.1 task with the same id.
   */
  fromNode?(
    remote: TesTask,
    node: HookNode,
    context: FromNodeContext<P>,
  ): TesTask | Promise<TesTask>;
  /**
   * The task as the gateway answers a client. The result must keep `id` and `state` and hold only
   * the fields TES 1.1 defines: whatever a middleware adds goes in the string maps meant for it
   * (`logs[].metadata`, `tags`).
   */
  toClient?(task: TesTask, context: ToClientContext<P>): TesTask | Promise<TesTask>;
}
