import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { TERMINAL_STATES } from '@protes/tes';
import type { TaskPage, TaskQuery, TaskRecord } from './task-record';
import { StaleVersionError, TaskExistsError, TaskNotFoundError, TaskStore } from './task-store';
import { checkNewRecord, checkPageSize, decodePageToken, toPage } from './store-rules';

export interface SqliteTaskStoreOptions {
  /** Database file, or ':memory:' for a store that lives as long as the object. */
  path: string;
  /** How long a write waits for another process's lock before failing (default 5000). */
  busyTimeoutMs?: number;
}

/** Bumped by every schema change; migrate() walks a file from its version up to this one. */
const SCHEMA_VERSION = 1;

// Constants from the TES spec, not user input, so they may be inlined. The partial index and the
// query that uses it must carry the very same text, or SQLite will not match them; a change to
// TERMINAL_STATES therefore needs a migration that recreates the index.
const UNFINISHED = `state NOT IN (${[...TERMINAL_STATES].map((s) => `'${s}'`).join(', ')})`;

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

interface Row {
  id: string;
  owner: string;
  state: string;
  name: string | null;
  created_at: string;
  version: number;
  tags: string;
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
  doc: JSON.stringify(record),
});

const fromDoc = (doc: string): TaskRecord => JSON.parse(doc) as TaskRecord;

/** better-sqlite3 is synchronous; this keeps the port's contract that failures are rejections. */
const settle = <T>(fn: () => T): Promise<T> => new Promise<T>((resolve) => resolve(fn()));

/**
 * TaskStore on one SQLite file (standalone mode). The indexed columns are copies of record fields;
 * `doc` holds the whole record. WAL and a busy timeout let several processes share the file.
 * Record ids must be time-ordered: newest first is ORDER BY id DESC, and pages are keyed on id.
 */
export class SqliteTaskStore extends TaskStore {
  private readonly db: Database.Database;
  private readonly insertStmt;
  private readonly updateStmt;
  private readonly getStmt;
  private readonly existsStmt;
  private readonly unfinishedStmt;

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
      `INSERT INTO tasks (id, owner, state, name, created_at, version, tags, doc)
       VALUES (@id, @owner, @state, @name, @created_at, @version, @tags, @doc)`,
    );
    this.updateStmt = this.db.prepare<Row & { expected: number }>(
      `UPDATE tasks SET owner = @owner, state = @state, name = @name, created_at = @created_at,
         version = @version, tags = @tags, doc = @doc
       WHERE id = @id AND version = @expected`,
    );
    this.getStmt = this.db.prepare<[string], string>('SELECT doc FROM tasks WHERE id = ?').pluck();
    this.existsStmt = this.db.prepare<[string]>('SELECT 1 FROM tasks WHERE id = ?');
    this.unfinishedStmt = this.db
      .prepare<[], string>(`SELECT doc FROM tasks WHERE ${UNFINISHED} ORDER BY id`)
      .pluck();
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
        this.db.exec(SCHEMA_V1);
        this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })
      .immediate();
  }

  create(record: TaskRecord): Promise<void> {
    return settle(() => {
      checkNewRecord(record);
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

  ping(): Promise<void> {
    return settle(() => {
      this.db.prepare('SELECT 1').get();
    });
  }

  close(): Promise<void> {
    return settle(() => {
      if (this.db.open) this.db.close();
    });
  }
}
