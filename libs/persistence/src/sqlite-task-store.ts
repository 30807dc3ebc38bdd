import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { TERMINAL_STATES } from '@protes/tes';
import type { TaskLease, TaskPage, TaskQuery, TaskRecord } from './task-record';
import { StaleVersionError, TaskExistsError, TaskNotFoundError, TaskStore } from './task-store';
import {
  checkClaimLimit,
  checkLeaseOwner,
  checkNewRecord,
  checkPageSize,
  checkRecordLease,
  decodePageToken,
  leaseExpiry,
  newLease,
  toPage,
  uniqueIds,
} from './store-rules';

export interface SqliteTaskStoreOptions {
  /** Database file, or ':memory:' for a store that lives as long as the object. */
  path: string;
  /** How long a write waits for another process's lock before failing (default 5000). */
  busyTimeoutMs?: number;
}

/** Bumped by every schema change; migrate() walks a file from its version up to this one. */
const SCHEMA_VERSION = 2;

// Constants from the TES spec, not user input, so they may be inlined. The partial index and the
// query that uses it must carry the very same text, or SQLite will not match them; a change to
// TERMINAL_STATES therefore needs a migration that recreates the index.
const UNFINISHED = `state NOT IN (${[...TERMINAL_STATES].map((s) => `'${s}'`).join(', ')})`;

/** Version 0 (a new, empty file) to 1: the table and the indexes that list queries use. */
const SCHEMA_V1 = `
  CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    state TEXT NOT NULL,
    name TEXT,
    created_at TEXT NOT NULL,
    version INTEGER NOT NULL,
    tags TEXT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS tasks_owner ON tasks (owner, id);
  CREATE INDEX IF NOT EXISTS tasks_state ON tasks (state, id);
  CREATE INDEX IF NOT EXISTS tasks_name ON tasks (name, id);
  CREATE INDEX IF NOT EXISTS tasks_unfinished ON tasks (id) WHERE ${UNFINISHED};
`;

/**
 * Version 1 to 2: leases. lease_expires is epoch milliseconds (an INTEGER), not the record's text,
 * because the text may carry any offset and only instants compare correctly. Both columns are NULL
 * when the record has no lease, and no version 1 record has one, so existing rows need no backfill.
 *
 * claim walks the unfinished tasks in id order until it has enough; with the lease columns in the
 * index it tests each lease without reading the row (rows hold whole documents, often on overflow
 * pages), which keeps a claim cheap when most tasks are held by other trackers. listUnfinished
 * walks the same index, so it replaces the version 1 one.
 */
const SCHEMA_V2 = `
  ALTER TABLE tasks ADD COLUMN lease_owner TEXT;
  ALTER TABLE tasks ADD COLUMN lease_expires INTEGER;
  DROP INDEX IF EXISTS tasks_unfinished;
  CREATE INDEX tasks_claimable ON tasks (id, lease_expires, lease_owner) WHERE ${UNFINISHED};
`;

/** MIGRATIONS[v] takes a file from schema version v to v + 1. One that has shipped never changes. */
const MIGRATIONS: readonly string[] = [SCHEMA_V1, SCHEMA_V2];

interface Row {
  id: string;
  owner: string;
  state: string;
  name: string | null;
  created_at: string;
  version: number;
  tags: string;
  lease_owner: string | null;
  lease_expires: number | null;
  doc: string;
}

const toRow = (record: TaskRecord): Row => ({
  id: record.id,
  owner: record.owner,
  state: record.state,
  name: record.name ?? null,
  created_at: record.createdAt,
  version: record.version,
  tags: JSON.stringify(record.tags),
  lease_owner: record.lease?.owner ?? null,
  lease_expires: record.lease ? leaseExpiry(record.lease) : null,
  doc: JSON.stringify(record),
});

const fromDoc = (doc: string): TaskRecord => JSON.parse(doc) as TaskRecord;

/** The record with this lease (or none), as the next version. */
function withLease(record: TaskRecord, lease: TaskLease | undefined): TaskRecord {
  const next: TaskRecord = { ...record, version: record.version + 1 };
  if (lease) next.lease = lease;
  else delete next.lease;
  return next;
}

/** better-sqlite3 is synchronous; this keeps the port's contract that failures are rejections. */
const settle = <T>(fn: () => T): Promise<T> => new Promise<T>((resolve) => resolve(fn()));

/**
 * TaskStore on one SQLite file (standalone mode). The indexed columns are copies of record fields;
 * `doc` holds the whole record. WAL and a busy timeout let several processes share the file.
 * Record ids must be time-ordered: newest first is ORDER BY id DESC, and pages are keyed on id.
 *
 * Lease operations read and write inside one BEGIN IMMEDIATE transaction, which takes the file's
 * write lock before the read: a second process claiming at the same time waits (up to the busy
 * timeout) and then sees the first one's leases, so no task is ever handed to two owners.
 */
export class SqliteTaskStore extends TaskStore {
  private readonly db: Database.Database;
  private readonly insertStmt;
  private readonly updateStmt;
  private readonly getStmt;
  private readonly existsStmt;
  private readonly unfinishedStmt;
  private readonly claimTx;
  private readonly renewTx;
  private readonly releaseTx;

  constructor({ path, busyTimeoutMs = 5000 }: SqliteTaskStoreOptions) {
    super();
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    // `timeout` is SQLite's busy_timeout; it is set at open so that the pragmas below wait too.
    this.db = new Database(path, { timeout: busyTimeoutMs });
    this.db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL loses at most the last transactions on power loss, never integrity.
    this.db.pragma('synchronous = NORMAL');
    this.migrate();
    this.insertStmt = this.db.prepare<Row>(
      `INSERT INTO tasks (id, owner, state, name, created_at, version, tags, lease_owner,
         lease_expires, doc)
       VALUES (@id, @owner, @state, @name, @created_at, @version, @tags, @lease_owner,
         @lease_expires, @doc)`,
    );
    this.updateStmt = this.db.prepare<Row & { expected: number }>(
      `UPDATE tasks SET owner = @owner, state = @state, name = @name, created_at = @created_at,
         version = @version, tags = @tags, lease_owner = @lease_owner,
         lease_expires = @lease_expires, doc = @doc
       WHERE id = @id AND version = @expected`,
    );
    this.getStmt = this.db.prepare<[string], string>('SELECT doc FROM tasks WHERE id = ?').pluck();
    this.existsStmt = this.db.prepare<[string]>('SELECT 1 FROM tasks WHERE id = ?');
    this.unfinishedStmt = this.db
      .prepare<[], string>(`SELECT doc FROM tasks WHERE ${UNFINISHED} ORDER BY id`)
      .pluck();

    const claimableStmt = this.db
      .prepare<{ owner: string; now: number; limit: number }, string>(
        `SELECT doc FROM tasks
         WHERE ${UNFINISHED}
           AND (lease_expires IS NULL OR lease_expires <= @now OR lease_owner = @owner)
         ORDER BY id LIMIT @limit`,
      )
      .pluck();
    // The ids travel as one JSON array, so that any number of them fits one statement.
    const heldStmt = this.db
      .prepare<{ owner: string; ids: string }, string>(
        `SELECT doc FROM tasks
         WHERE id IN (SELECT value FROM json_each(@ids)) AND lease_owner = @owner`,
      )
      .pluck();
    const heldUnfinishedStmt = this.db
      .prepare<{ owner: string; ids: string }, string>(
        `SELECT doc FROM tasks
         WHERE id IN (SELECT value FROM json_each(@ids)) AND lease_owner = @owner
           AND ${UNFINISHED}`,
      )
      .pluck();

    this.claimTx = this.db.transaction((lease: TaskLease, now: number, limit: number) =>
      claimableStmt
        .all({ owner: lease.owner, now, limit })
        .map((doc) => this.writeLease(fromDoc(doc), lease)),
    );
    this.renewTx = this.db.transaction((lease: TaskLease, ids: string[]) => {
      const renewed = new Set(
        heldUnfinishedStmt
          .all({ owner: lease.owner, ids: JSON.stringify(ids) })
          .map((doc) => this.writeLease(fromDoc(doc), lease).id),
      );
      return ids.filter((id) => renewed.has(id));
    });
    this.releaseTx = this.db.transaction((owner: string, ids: string[]) => {
      for (const doc of heldStmt.all({ owner, ids: JSON.stringify(ids) })) {
        this.writeLease(fromDoc(doc), undefined);
      }
    });
  }

  private migrate(): void {
    // IMMEDIATE takes the write lock first, so processes opening a new file at once queue up
    // instead of both creating the schema.
    this.db
      .transaction(() => {
        const current = this.db.pragma('user_version', { simple: true }) as number;
        if (current > SCHEMA_VERSION) {
          throw new Error(
            `task database schema version ${current} is newer than this build knows (${SCHEMA_VERSION})`,
          );
        }
        for (let version = current; version < SCHEMA_VERSION; version++) {
          this.db.exec(MIGRATIONS[version]);
        }
        this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })
      .immediate();
  }

  create(record: TaskRecord): Promise<void> {
    return settle(() => {
      checkNewRecord(record);
      checkRecordLease(record);
      try {
        this.insertStmt.run(toRow(record));
      } catch (err) {
        // Not `instanceof SqliteError`: the native addon keeps the class of whichever copy of
        // better-sqlite3 loaded it first, and test runners load one copy per test file.
        if ((err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          throw new TaskExistsError(record.id);
        }
        throw err;
      }
    });
  }

  get(id: string): Promise<TaskRecord | undefined> {
    return settle(() => {
      const doc = this.getStmt.get(id);
      return doc === undefined ? undefined : fromDoc(doc);
    });
  }

  list(query: TaskQuery): Promise<TaskPage> {
    return settle(() => {
      checkPageSize(query.pageSize);
      const where: string[] = [];
      const params: Record<string, string | number> = { limit: query.pageSize + 1 };
      if (query.owner !== undefined) {
        where.push('owner = @owner');
        params.owner = query.owner;
      }
      if (query.namePrefix) {
        // A literal prefix as an index range. 0xFF never occurs in UTF-8 text, so prefix||x'FF'
        // sorts after every name that starts with the prefix, and before every other greater one.
        where.push(`name >= @prefix AND name < @prefix || CAST(x'FF' AS TEXT)`);
        params.prefix = query.namePrefix;
      }
      if (query.state !== undefined) {
        where.push('state = @state');
        params.state = query.state;
      }
      query.tags?.forEach(({ key, value }, i) => {
        // An empty filter value asks only for the key (TES).
        const valueTest = value ? ` AND value = @v${i}` : '';
        where.push(`EXISTS (SELECT 1 FROM json_each(tasks.tags) WHERE key = @k${i}${valueTest})`);
        params[`k${i}`] = key;
        if (value) params[`v${i}`] = value;
      });
      if (query.pageToken !== undefined) {
        where.push('id < @after');
        params.after = decodePageToken(query.pageToken);
      }
      const docs = this.db
        .prepare<Record<string, string | number>, string>(
          `SELECT doc FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
           ORDER BY id DESC LIMIT @limit`,
        )
        .pluck()
        .all(params);
      return toPage(docs.map(fromDoc), query.pageSize);
    });
  }

  replace(next: TaskRecord): Promise<TaskRecord> {
    return settle(() => {
      checkRecordLease(next);
      const stored = { ...next, version: next.version + 1 };
      const { changes } = this.updateStmt.run({ ...toRow(stored), expected: next.version });
      if (changes === 0) {
        throw this.existsStmt.get(next.id)
          ? new StaleVersionError(next.id)
          : new TaskNotFoundError(next.id);
      }
      return stored;
    });
  }

  listUnfinished(): Promise<TaskRecord[]> {
    return settle(() => this.unfinishedStmt.all().map(fromDoc));
  }

  claim(owner: string, leaseMs: number, limit: number, now = new Date()): Promise<TaskRecord[]> {
    return settle(() => {
      const lease = newLease(owner, leaseMs, now);
      checkClaimLimit(limit);
      return limit === 0 ? [] : this.claimTx.immediate(lease, now.getTime(), limit);
    });
  }

  renew(owner: string, ids: string[], leaseMs: number, now = new Date()): Promise<string[]> {
    return settle(() => {
      const lease = newLease(owner, leaseMs, now);
      return ids.length ? this.renewTx.immediate(lease, uniqueIds(ids)) : [];
    });
  }

  release(owner: string, ids: string[]): Promise<void> {
    return settle(() => {
      checkLeaseOwner(owner);
      if (ids.length) this.releaseTx.immediate(owner, uniqueIds(ids));
    });
  }

  /** Stores the record with a new lease (or none) as its next version; inside a transaction only. */
  private writeLease(current: TaskRecord, lease: TaskLease | undefined): TaskRecord {
    const stored = withLease(current, lease);
    const { changes } = this.updateStmt.run({ ...toRow(stored), expected: current.version });
    // The write lock is held since the read, so nobody can have changed the record in between.
    if (changes !== 1) throw new Error(`task ${current.id} changed inside a lease transaction`);
    return stored;
  }

  /**
   * Writes this store's heartbeat row: a file that can be read but not written (disk full, made
   * read-only) fails here rather than looking healthy. The table is made on first use, outside
   * the schema's versions: it holds nothing a migration would need to keep.
   */
  ping(): Promise<void> {
    return settle(() => {
      this.db.exec('CREATE TABLE IF NOT EXISTS heartbeat (id INTEGER PRIMARY KEY, at INTEGER)');
      this.db
        .prepare(
          'INSERT INTO heartbeat (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at',
        )
        .run(Date.now());
    });
  }

  close(): Promise<void> {
    return settle(() => {
      if (this.db.open) this.db.close();
    });
  }
}
