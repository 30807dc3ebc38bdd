import type { TesState, TesTaskLog, TesTaskRequest } from '@protes/tes';
import type { TaskHistoryEntry } from './task-history';

/** One try at handing a task to a TES node. */
export interface ForwardAttempt {
  node: string;
  at: string;
  /** The node's id for the task, when the node accepted it. */
  remoteId?: string;
  /** Why the node did not take it (connection error, timeout, HTTP status and body), or lost it. */
  error?: string;
  /** Set when a node accepted the task and then lost it (PREEMPTED, SYSTEM_ERROR, forgotten). */
  lostAs?: TesState;
  /**
   * Sent, and no answer recorded yet: set before the request leaves, so that whoever forwards the
   * task next (after a crash) knows the node may have it, and asks the node first.
   */
  inFlight?: boolean;
  /**
   * The node may hold a copy the gateway does not follow (an answer that never came, a node that
   * was unreachable when the task was placed elsewhere): while the task is followed, the node is
   * asked for copies tagged with the task's id, which are canceled there.
   */
  unsettled?: boolean;
}

/**
 * What the middleware chain chose for a new task before it was stored: the forwarder (the outbox's
 * reader) follows it after the client has its answer. Decisions are in the record's `decisions`.
 */
export interface TaskRoute {
  /** The candidate nodes, best first. */
  candidates: string[];
  /** The nodes offered to the chain (after the gateway's own narrowing), to say why none is left. */
  offered: string[];
  /** The task as the chain rewrote it, before each node's hooks. */
  task: TesTaskRequest;
}

/**
 * What one entry of the middleware chain did to a task, kept on the task and shown in its FULL view
 * (the chain lives in @protes/distribution, which re-exports this).
 */
export interface MiddlewareDecision {
  /** Position of the entry in the chain. */
  entry: number;
  middleware: string;
  outcome: 'applied' | 'failed' | 'rejected' | 'skipped';
  /** Candidate node names after this step, best first. */
  order: string[];
  reason?: string;
  ms: number;
}

/**
 * A tracker's claim on following a task. It is held while the current time is before `expiresAt`;
 * after that any tracker may take the task over (see TaskStore.claim).
 */
export interface TaskLease {
  /** The tracker that holds it: an id unique to one tracker process. */
  owner: string;
  /** RFC 3339. Stores compare it as an instant, so any offset may be used. */
  expiresAt: string;
}

/**
 * What the gateway keeps of a task. The store is the source of truth: the API answers from it, and
 * the tracker resumes from it after any restart. No secret is ever kept here.
 *
 * Its state, node binding, cancel flag and history change only through the task lifecycle
 * (lifecycle/task-lifecycle.ts), which checks every change against one transition table.
 */
export interface TaskRecord {
  /** The gateway's id, the only one clients see. Time-ordered: newer ids sort after older ones. */
  id: string;
  /** Who submitted it (the authenticated subject, or 'anonymous'). */
  owner: string;
  /**
   * The id of the request that created it (`x-request-id`, or the one the gateway gave it), so
   * that whichever process logs about the task later (a tracker that claimed it before the bus
   * brought the event, one that took it over, any process after a restart) names that request.
   */
  requestId?: string;
  state: TesState;
  /** Copied out of `received` so the store can filter and index on them. */
  name?: string;
  tags: Record<string, string>;
  /** The task exactly as validated from the client, unknown fields dropped. */
  received: TesTaskRequest;
  /** The task as sent to the node, after the middleware chain rewrote it. */
  forwarded?: TesTaskRequest;
  /** The chain's route for the first forwarding; dropped when the task is resubmitted. */
  route?: TaskRoute;
  /** The node that runs it and the node's id for it. */
  node?: string;
  remoteId?: string;
  attempts: ForwardAttempt[];
  /** Every decision of the middleware chain, in order; each run of the chain appends its own. */
  decisions?: MiddlewareDecision[];
  /** The node's task logs, as last read from it (executor logs, exit codes, outputs). */
  remoteLogs: TesTaskLog[];
  /** The gateway's own notes on the task: why forwarding failed, why it was canceled, etc. */
  systemLogs: string[];
  /** Set when a client asked to cancel and the node has not confirmed it yet. */
  cancelRequested: boolean;
  /** RFC 3339 timestamps. */
  createdAt: string;
  updatedAt: string;
  endedAt?: string;
  /**
   * Every event the lifecycle applied, oldest first. Optional because records stored before the
   * lifecycle existed have none; the lifecycle starts the list on their next change.
   */
  history?: TaskHistoryEntry[];
  /**
   * Which tracker follows the task, if any. Part of the record like any other field: create and
   * replace store it as given (and so does updateTask, which spreads the current record). Only
   * claim, renew and release change it on their own, each bumping the version.
   */
  lease?: TaskLease;
  /** Optimistic concurrency: bumped by every write; a write with a stale version is refused. */
  version: number;
}

/** Zipped `tag_key`/`tag_value` filter entries; an empty value matches any value of the key. */
export interface TagFilter {
  key: string;
  value: string;
}

export interface TaskQuery {
  /** Only this owner's tasks; omitted for an administrator's view of all. */
  owner?: string;
  /** A literal prefix of the task name (never a pattern). */
  namePrefix?: string;
  state?: TesState;
  tags?: TagFilter[];
  pageSize: number;
  /** Opaque token from a previous page. */
  pageToken?: string;
}

export interface TaskPage {
  records: TaskRecord[];
  /** Present only when more records may follow. */
  nextPageToken?: string;
}

/**
 * What a MINIMAL view of one task needs (id and state) and whose it is: what stores read from
 * indexed columns alone, without the stored document (which may hold 100 KiB of inline inputs).
 */
export interface TaskStateOf {
  id: string;
  owner: string;
  state: TesState;
}

/**
 * A list page as a MINIMAL view answers it, ready to send: `tasks` is the JSON text of the page's
 * `{"id":…,"state":…}` objects, newest first, the very text JSON.stringify writes for them.
 */
export interface TaskStatesJson {
  tasks: string;
  nextPageToken?: string;
}

/**
 * A task as first stored: QUEUED, not forwarded yet, version 1, no history (TaskLifecycle.accept
 * adds the `accepted` entry as it stores it).
 */
export function newTaskRecord(
  id: string,
  owner: string,
  task: TesTaskRequest,
  now = new Date().toISOString(),
): TaskRecord {
  return {
    id,
    owner,
    state: 'QUEUED',
    name: task.name,
    tags: task.tags ?? {},
    received: task,
    attempts: [],
    remoteLogs: [],
    systemLogs: [],
    cancelRequested: false,
    createdAt: now,
    updatedAt: now,
    version: 1,
  };
}
