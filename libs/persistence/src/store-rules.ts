import type { TaskLease, TaskRecord } from './task-record';
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
export function toPage<T extends { id: string }>(
  fetched: T[],
  pageSize: number,
): { records: T[]; nextPageToken?: string } {
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

// RFC 3339 date-time (section 5.6), which Date.parse reads as the same instant.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * The instant a lease expires, in epoch milliseconds, which is what adapters index and compare:
 * the text itself may carry any offset, so comparing strings would be wrong.
 */
export function leaseExpiry(lease: TaskLease): number {
  const ms = RFC3339.test(lease.expiresAt) ? Date.parse(lease.expiresAt) : NaN;
  if (!Number.isFinite(ms)) {
    throw new RangeError(`lease expiresAt must be an RFC 3339 date-time, got ${lease.expiresAt}`);
  }
  return ms;
}

export function checkLeaseOwner(owner: string): void {
  if (typeof owner !== 'string' || owner === '') {
    throw new RangeError('a lease owner must be a non-empty string');
  }
}

/** A record's lease, checked before it is stored: claim must be able to compare its expiry. */
export function checkRecordLease({ lease }: TaskRecord): void {
  if (lease === undefined) return;
  checkLeaseOwner(lease.owner);
  leaseExpiry(lease);
}

/** The lease that claim and renew give: `owner`'s, until now + leaseMs. */
export function newLease(owner: string, leaseMs: number, now: Date): TaskLease {
  checkLeaseOwner(owner);
  if (!Number.isSafeInteger(leaseMs) || leaseMs < 1) {
    throw new RangeError(`lease duration must be a positive integer of ms, got ${leaseMs}`);
  }
  checkNow(now);
  const expires = new Date(now.getTime() + leaseMs);
  // Past year 9999 toISOString is no longer RFC 3339.
  if (!(expires.getUTCFullYear() <= 9999)) {
    throw new RangeError(`lease duration ${leaseMs} ms reaches past year 9999`);
  }
  return { owner, expiresAt: expires.toISOString() };
}

export function checkNow(now: Date): void {
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    throw new RangeError('now must be a valid Date');
  }
}

export function checkClaimLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError(`claim limit must be a non-negative integer, got ${limit}`);
  }
}

/** Each id once, in the order first given. */
export const uniqueIds = (ids: string[]): string[] => [...new Set(ids)];
