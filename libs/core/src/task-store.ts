import type { TaskPage, TaskQuery, TaskRecord, TaskStateOf, TaskStatesJson } from './task-record';

/** Raised when a write carries a version that is no longer current. */
export class StaleVersionError extends Error {
  constructor(readonly id: string) {
    super(`task ${id} was changed by someone else`);
  }
}

/** Raised by create when a record with the same id exists. */
export class TaskExistsError extends Error {
  constructor(readonly id: string) {
    super(`task ${id} already exists`);
  }
}

/** Raised by replace when no record has the id (records are never deleted, so this is a bug). */
export class TaskNotFoundError extends Error {
  constructor(readonly id: string) {
    super(`task ${id} does not exist`);
  }
}

/** Raised for a page token this store did not issue. */
export class InvalidPageTokenError extends Error {
  constructor() {
    super('page_token is not one this server issued');
  }
}

/**
 * The port every store adapter implements. It is an abstract class so that it can serve as the
 * Nest DI token; adapters are bound to it in PersistenceModule.
 */
export abstract class TaskStore {
  /**
   * Stores a new record. Its version must be 1 (RangeError otherwise), so that the caller's object
   * is exactly what was stored and can be passed to replace as is. TaskExistsError if the id exists.
   */
  abstract create(record: TaskRecord): Promise<void>;

  abstract get(id: string): Promise<TaskRecord | undefined>;

  /**
   * The task's id, owner and state, as `get` would give them: what clients poll (MINIMAL) and what
   * a cancel checks, which adapters read from an index without parsing the stored document.
   */
  abstract getState(id: string): Promise<TaskStateOf | undefined>;

  /** Newest first; a task created while paging never shifts the pages after the token. */
  abstract list(query: TaskQuery): Promise<TaskPage>;

  /**
   * The same page as `list` (same records, same token), as the JSON text of ids and states: what a
   * MINIMAL list answers, sent as it is. Adapters serve it from indexed columns, without reading
   * the stored documents, and may build the text in the database (no object per task).
   */
  abstract listStatesJson(query: TaskQuery): Promise<TaskStatesJson>;

  /**
   * How many unfinished tasks each node runs (the node's load), from an index: only nodes with at
   * least one such task appear. Tasks not bound to a node yet are not counted.
   */
  abstract countActiveByNode(): Promise<Map<string, number>>;

  /**
   * Writes `next` over the record only if the stored version is still `next.version`, and stores it
   * with version + 1; returns the stored record. Throws StaleVersionError otherwise, and
   * TaskNotFoundError when there is no record with that id at all.
   */
  abstract replace(next: TaskRecord): Promise<TaskRecord>;

  /** Every record whose state is not terminal, oldest first (the tracker's work list). */
  abstract listUnfinished(): Promise<TaskRecord[]>;

  /*
   * Leases let several trackers share the unfinished tasks: a tracker follows only the tasks it
   * holds a lease on, renews those leases while it runs and releases them when it stops. A tracker
   * that dies stops renewing, and its tasks are claimed by the others once the leases expire.
   *
   * Leases expire by owner: each owner has one expiry, and every lease it holds lasts until then
   * (a record's lease.expiresAt shows it). Renewing them all is therefore one write, whatever the
   * number of tasks (docs/tracking.md); a lease written with an earlier expiry than its owner's
   * lasts as long as the owner's, one written with a later expiry extends the owner's. A task is
   * held while `now` is before its owner's expiry. Every change of a task's lease (a claim, a
   * renewal by id, a release) bumps its version, so a writer that read the record before the
   * change gets a StaleVersionError (and updateTask retries on the fresh record) rather than
   * writing an old lease back; the owner's renewal in claim changes no task. updatedAt is left
   * alone: leases are the trackers' bookkeeping, not a change of the task.
   *
   * `now` defaults to the current time; it is a parameter so that tests can move the clock.
   * Trackers on several hosts compare expiry times written by each other, so their clocks must
   * agree to well within the lease duration.
   */

  /**
   * Atomically takes up to `limit` unfinished tasks that are free (no lease, or an expired one),
   * oldest first, giving each the lease { owner, expiresAt: now + leaseMs }, and returns those,
   * as stored. In the same call it renews, to the same expiry, every lease `owner` holds, when the
   * owner's expiry is within half of leaseMs (or past, as long as nobody took its tasks over); the
   * tasks are neither returned (listHeld reads them) nor written. Calling claim often is therefore
   * cheap: a round finds no renewal due and takes only what is new, and the bounded batch lets
   * several trackers share new work evenly.
   *
   * The tasks of owners whose expiry has passed are taken over in the same call, outside `limit`:
   * as many as bring `owner` to an equal part of every held task among the owners whose expiry has
   * not passed (so the first live owner to claim takes its part at once, the next the rest),
   * oldest first. No two owners ever hold the same task, whatever the number of processes claiming
   * at once. Terminal tasks are never claimed, whatever their lease. RangeError for an empty owner,
   * a leaseMs that is not a positive integer or a limit that is not a non-negative integer.
   */
  abstract claim(owner: string, leaseMs: number, limit: number, now?: Date): Promise<TaskRecord[]>;

  /**
   * Every unfinished task whose lease `owner` holds (expired or not: expiry makes a task claimable,
   * it does not take it away), in no particular order: a tracker's work list. Found from an index;
   * adapters may reuse the parsed record of a task whose stored document has not changed since
   * the last call, extending its lease in place when the owner renewed, so callers must not mutate
   * what they get, and read a record's lease again from the next call.
   */
  abstract listHeld(owner: string): Promise<TaskRecord[]>;

  /**
   * Sets the lease of each of `ids` that `owner` holds and that is unfinished to expire at
   * now + leaseMs (and the owner's expiry, if earlier, with every lease it holds). Returns those
   * ids, in the order given (duplicates once): the caller stops
   * following the others, which another owner has taken, or which ended, or do not exist.
   * A lease that expired but that nobody has claimed since is still the owner's and is renewed:
   * expiry makes a task claimable, it does not take it away.
   */
  abstract renew(owner: string, ids: string[], leaseMs: number, now?: Date): Promise<string[]>;

  /**
   * Removes the lease from each of `ids` that `owner` holds, whatever the task's state, so that
   * other trackers may claim the unfinished ones at once. For graceful shutdown, and for a task
   * that turned terminal (whose lease would otherwise stay on the record, harmless but stale).
   */
  abstract release(owner: string, ids: string[]): Promise<void>;

  /**
   * A cheap write round trip for health checks (a heartbeat record, outside the tasks): it fails
   * when the store cannot write, not only when it cannot be reached.
   */
  abstract ping(): Promise<void>;

  abstract close(): Promise<void>;
}
