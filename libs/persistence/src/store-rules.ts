import type { TaskPage, TaskRecord } from './task-record';
import { InvalidPageTokenError } from './task-store';

/*
 * Rules every TaskStore adapter applies the same way, kept here so that the adapters cannot drift.
 */

// Versioned so that a later token format can be told apart, and so that a random string is refused.
const TOKEN_PREFIX = 'p1:';

export function encodePageToken(lastId: string): string {
  return Buffer.from(TOKEN_PREFIX + lastId, 'utf8').toString('base64url');
}

/** The id after which the next page starts. */
export function decodePageToken(token: string): string {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const id = text.slice(TOKEN_PREFIX.length);
  // Node's base64url decoder skips characters it does not know; re-encoding catches those, and
  // bytes that were not UTF-8.
  if (!text.startsWith(TOKEN_PREFIX) || !id || encodePageToken(id) !== token) {
    throw new InvalidPageTokenError();
  }
  return id;
}

export function checkPageSize(pageSize: number): void {
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
    throw new RangeError(`page size must be a positive integer, got ${pageSize}`);
  }
}

/**
 * Adapters fetch pageSize + 1 records, newest first: the extra one only tells that another page
 * exists, so the last page never carries a token.
 */
export function toPage(fetched: TaskRecord[], pageSize: number): TaskPage {
  if (fetched.length <= pageSize) return { records: fetched };
  const records = fetched.slice(0, pageSize);
  return { records, nextPageToken: encodePageToken(records[pageSize - 1].id) };
}

export function checkNewRecord(record: TaskRecord): void {
  if (record.version !== 1) {
    throw new RangeError(
      `a new task record must have version 1, task ${record.id} has ${record.version}`,
    );
  }
}
