import type { TaskPage, TaskQuery, TaskRecord } from './task-record';

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

  /** Newest first; a task created while paging never shifts the pages after the token. */
  abstract list(query: TaskQuery): Promise<TaskPage>;

  /**
   * Writes `next` over the record only if the stored version is still `next.version`, and stores it
   * with version + 1; returns the stored record. Throws StaleVersionError otherwise, and
   * TaskNotFoundError when there is no record with that id at all.
   */
  abstract replace(next: TaskRecord): Promise<TaskRecord>;

  /** Every record whose state is not terminal, oldest first (the tracker's work list). */
  abstract listUnfinished(): Promise<TaskRecord[]>;

  /** Cheap round trip for health checks. */
  abstract ping(): Promise<void>;

  abstract close(): Promise<void>;
}
