import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { TERMINAL_STATES } from '@protes/tes';
import type {
  TaskLease,
  TaskPage,
  TaskQuery,
  TaskRecord,
  TaskStateOf,
  TaskStatesJson,
} from './task-record';
import { StaleVersionError, TaskExistsError, TaskNotFoundError, TaskStore } from './task-store';
import {
  checkClaimLimit,
  checkLeaseOwner,
  checkNewRecord,
  checkPageSize,
  checkRecordLease,
  decodePageToken,
  encodePageToken,
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
const SCHEMA_VERSION = 4;

// Constants from the TES spec, not user input, so they may be inlined. The partial index and the
// query that uses it must carry the very same text, or SQLite will not match them; a change to
// TERMINAL_STATES therefore needs a migration that recreates the index.
const UNFINISHED = `state NOT IN (${[...TERMINAL_STATES].map((s) => `'${s}'`).join(', ')})`;

/**
 * A trigger's body: makes the owner's row (lease_owners) expire no earlier than the lease just
 * written on a task (NEW), so that a lease never outlives its owner's.
 */
const EXTEND_OWNER = `INSERT INTO lease_owners (owner, expires, at)
    VALUES (NEW.lease_owner, NEW.lease_expires, NEW.lease_at)
    ON CONFLICT (owner) DO UPDATE SET expires = excluded.expires, at = excluded.at
    WHERE excluded.expires > lease_owners.expires;`;

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

/**
 * Version 2 to 3: work that grows with what changes, not with the number of tasks.
 *
 * - Leases and the version live in their columns, which win over the copies inside `doc`: a claim
 *   or a renewal updates those columns only, never rewrites the document. lease_at is the lease's
 *   text as written (expiresAt may carry any offset), doc_version the version `doc` was written at,
 *   so that listHeld re-parses a document only when it changed.
 * - node, for the per-node load, counted from a partial index of the unfinished tasks.
 * - task_tags, one row per tag, kept by triggers, so that tag filters are index lookups.
 * - List indexes that carry id and state, so that a MINIMAL page is read from an index alone and
 *   every filter walks an index in id order (newest first, no sort). A name prefix is tested while
 *   walking in id order rather than as a range on name, which would need a sort of every match.
 *
 * - tasks_free replaces tasks_claimable: claim looks for free tasks by their expiry, so that a
 *   tracker holding most tasks finds none free without walking past them.
 *
 * The backfills touch only unfinished or leased rows: the new columns are read for those only.
 */
const SCHEMA_V3 = `
  ALTER TABLE tasks ADD COLUMN node TEXT;
  ALTER TABLE tasks ADD COLUMN lease_at TEXT;
  ALTER TABLE tasks ADD COLUMN doc_version INTEGER;
  UPDATE tasks SET node = json_extract(doc, '$.node'), doc_version = version WHERE ${UNFINISHED};
  UPDATE tasks SET lease_at = json_extract(doc, '$.lease.expiresAt') WHERE lease_owner IS NOT NULL;
  CREATE TABLE task_tags (
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (key, value, id)
  ) WITHOUT ROWID;
  CREATE INDEX task_tags_key ON task_tags (key, id);
  INSERT INTO task_tags (key, value, id) SELECT t.key, t.value, tasks.id FROM tasks, json_each(tasks.tags) t;
  CREATE TRIGGER tasks_tags_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO task_tags (key, value, id) SELECT key, value, NEW.id FROM json_each(NEW.tags);
  END;
  CREATE TRIGGER tasks_tags_update AFTER UPDATE OF tags ON tasks WHEN OLD.tags IS NOT NEW.tags BEGIN
    DELETE FROM task_tags WHERE id = OLD.id;
    INSERT INTO task_tags (key, value, id) SELECT key, value, NEW.id FROM json_each(NEW.tags);
  END;
  DROP INDEX tasks_owner;
  DROP INDEX tasks_state;
  DROP INDEX tasks_name;
  CREATE INDEX tasks_recent ON tasks (id, state, owner, name);
  CREATE INDEX tasks_owner ON tasks (owner, id, state, name);
  CREATE INDEX tasks_state ON tasks (state, id, owner, name);
  CREATE INDEX tasks_node_load ON tasks (node, state) WHERE ${UNFINISHED};
  DROP INDEX tasks_claimable;
  CREATE INDEX tasks_free ON tasks (lease_expires, id, state) WHERE ${UNFINISHED};
  CREATE INDEX tasks_held ON tasks (lease_owner, lease_expires, id, version, doc_version, lease_at, state)
    WHERE ${UNFINISHED};
`;

/**
 * Version 3 to 4: leases expire by owner, so that keeping them costs one write per tracker, not one
 * per task (docs/tracking.md).
 *
 * - lease_owners holds each owner's expiry; a task's lease lasts as long as its owner's row. The
 *   triggers keep that row at least as late as every lease written on a task (a claim, a renewal
 *   by id, a record written with its lease), so a task's own lease_expires never outlives its
 *   owner's and claim need only look at the owners. lease_expires and lease_at stay on the tasks as
 *   the expiry last written there (what a record shows when its owner's row is gone): dropping them
 *   would rewrite every row of the file.
 * - tasks_lease, by owner then id, replaces tasks_free and tasks_held: the free tasks (no owner)
 *   oldest first, an owner's tasks for listHeld and for a takeover, and how many each one holds,
 *   from the index alone (state too, which the queries name although the index implies it).
 */
const SCHEMA_V4 = `
  CREATE TABLE lease_owners (
    owner TEXT PRIMARY KEY,
    expires INTEGER NOT NULL,
    at TEXT NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO lease_owners (owner, expires, at)
    SELECT lease_owner, max(lease_expires), lease_at FROM tasks
    WHERE lease_owner IS NOT NULL AND ${UNFINISHED} GROUP BY lease_owner;
  CREATE TRIGGER tasks_lease_insert AFTER INSERT ON tasks WHEN NEW.lease_owner IS NOT NULL BEGIN
    ${EXTEND_OWNER}
  END;
  CREATE TRIGGER tasks_lease_update AFTER UPDATE OF lease_owner, lease_expires ON tasks
    WHEN NEW.lease_owner IS NOT NULL BEGIN
    ${EXTEND_OWNER}
  END;
  DROP INDEX tasks_free;
  DROP INDEX tasks_held;
  CREATE INDEX tasks_lease ON tasks (lease_owner, id, version, doc_version, state)
    WHERE ${UNFINISHED};
`;

/** MIGRATIONS[v] takes a file from schema version v to v + 1. One that has shipped never changes. */
const MIGRATIONS: readonly string[] = [SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4];

/**
 * The oldest free tasks: no owner, from tasks_lease, whose NULL owners come first in id order, so
 * that neither a sort nor a held task is ever passed.
 */
export const FREE_TASKS = `
  SELECT id FROM tasks INDEXED BY tasks_lease
  WHERE lease_owner IS NULL AND ${UNFINISHED} ORDER BY id LIMIT @limit`;

/** The oldest tasks of the owners in @owners (a JSON array): those a takeover takes. */
export const ORPHANED_TASKS = `
  SELECT id FROM tasks INDEXED BY tasks_lease
  WHERE lease_owner IN (SELECT value FROM json_each(@owners)) AND ${UNFINISHED}
  ORDER BY id LIMIT @limit`;

/** What reads select to rebuild a record: the document and the columns that win over it. */
export const RECORD_COLUMNS = 'doc, version, lease_owner, lease_at';

interface Row extends RecordRow {
  id: string;
  owner: string;
  state: string;
  name: string | null;
  created_at: string;
  tags: string;
  node: string | null;
  lease_expires: number | null;
  doc_version: number;
}

/** The columns a record is read back from (RECORD_COLUMNS). */
interface RecordRow {
  doc: string;
  version: number;
  lease_owner: string | null;
  lease_at: string | null;
}

/** Ids travel as one JSON array, so that any number of them fits one statement. */
const ID_LIST = 'SELECT value FROM json_each(@ids)';

/** The columns an insert writes, in the order of its positional parameters. */
const INSERT_COLUMNS = [
  'id',
  'owner',
  'state',
  'name',
  'created_at',
  'version',
  'tags',
  'node',
  'lease_owner',
  'lease_expires',
  'lease_at',
  'doc_version',
  'doc',
] as const satisfies readonly (keyof Row)[];

/** An INSERT of `rows` records, each record's values in INSERT_COLUMNS order. */
function insertSql(rows: number): string {
  const values = `(${INSERT_COLUMNS.map(() => '?').join(', ')})`;
  return `INSERT INTO tasks (${INSERT_COLUMNS.join(', ')})
    VALUES ${Array.from({ length: rows }, () => values).join(', ')}`;
}

/**
 * Records per statement of createMany. Each statement costs a fixed overhead (its statement
 * journal, since the tag trigger makes every insert write several rows, and the call into SQLite);
 * measured with scripts/store-bench.ts, from 20 to 100 rows a statement the rate barely changes,
 * and 50 keeps the statement's 650 parameters far below SQLite's limit.
 */
const BULK_ROWS = 50;

const toRow = (record: TaskRecord): Row => ({
  id: record.id,
  owner: record.owner,
  state: record.state,
  name: record.name ?? null,
  created_at: record.createdAt,
  version: record.version,
  tags: JSON.stringify(record.tags),
  node: record.node ?? null,
  lease_owner: record.lease?.owner ?? null,
  lease_expires: record.lease ? leaseExpiry(record.lease) : null,
  lease_at: record.lease?.expiresAt ?? null,
  doc_version: record.version,
  doc: JSON.stringify(record),
});

/** A record's values for an insert, in INSERT_COLUMNS order. */
type InsertValues = Row[keyof Row][];

const insertValues = (record: TaskRecord): InsertValues => {
  const row = toRow(record);
  return INSERT_COLUMNS.map((column) => row[column]);
};

/** The record `parsed` (its document) with the version and lease of the row, which win. */
function withColumns(
  parsed: TaskRecord,
  { version, lease_owner, lease_at }: Omit<RecordRow, 'doc'>,
): TaskRecord {
  // Object.assign, not a spread with `version`: V8 copies a parsed document several times faster
  // so, and listHeld copies every record a tracker holds after each renewal of its leases.
  const record: TaskRecord = Object.assign({}, parsed);
  record.version = version;
  if (lease_owner !== null && lease_at !== null) {
    record.lease = { owner: lease_owner, expiresAt: lease_at };
  } else delete record.lease;
  return record;
}

const fromRow = (row: RecordRow): TaskRecord => withColumns(JSON.parse(row.doc) as TaskRecord, row);

/**
 * listHeld's row, from its covering index: id, version, doc_version. An array (the statement is
 * raw): a tracker reads every row it holds each time one of its nodes is due.
 */
type HeldRow = [id: string, version: number, docVersion: number];

/**
 * A held task as last answered, kept once (the record itself, not also its parsed document: a
 * record differs from its document only by the columns withColumns sets, which it sets again);
 * `seen` is the listHeld call that last found it held.
 */
interface HeldEntry {
  version: number;
  docVersion: number;
  record: TaskRecord;
  seen: number;
}

/** The owner's expiry as its lease_owners row has it (when the row is there). */
type OwnerAt = string | undefined;

/**
 * The columns of tasks_recent (with id): a page that reads no others finds each task of a tag walk
 * in that index alone, about 15% less work per page than through the primary key and the row.
 */
const RECENT_COLUMNS: ReadonlySet<string> = new Set(['state', 'owner', 'name']);

/**
 * The FROM and WHERE of a list query, and the ORDER BY column. With tag filters the walk starts
 * from the first tag's index, which yields ids in order, and joins each task by its key; the other
 * tags are looked up per task (in tasks_recent when `covered`: the page reads none of the other
 * columns). Without, the planner picks the id-ordered index that fits.
 */
function listSource(
  query: TaskQuery,
  after: string | undefined,
  covered: boolean,
): {
  from: string;
  where: string[];
  order: string;
  params: Record<string, string | number>;
} {
  const where: string[] = [];
  const params: Record<string, string | number> = {};
  const [first, ...more] = query.tags ?? [];
  // An empty filter value asks only for the key (TES).
  const tagTest = (alias: string, i: number, value: string): string => {
    params[`k${i}`] = query.tags?.[i].key ?? '';
    if (value) params[`v${i}`] = value;
    return `${alias}.key = @k${i}${value ? ` AND ${alias}.value = @v${i}` : ''}`;
  };
  let from = 'tasks';
  let idColumn = 'tasks.id';
  if (first) {
    // CROSS JOIN keeps task_tags as the outer loop, so that its index gives the order.
    // The planner would look each task up by its primary key, and so read the row, even when
    // tasks_recent holds every column the page reads.
    from = `task_tags g CROSS JOIN tasks${covered ? ' INDEXED BY tasks_recent' : ''} ON tasks.id = g.id`;
    idColumn = 'g.id';
    where.push(tagTest('g', 0, first.value));
    more.forEach(({ value }, j) => {
      const test = tagTest('h', j + 1, value);
      where.push(`EXISTS (SELECT 1 FROM task_tags h WHERE h.id = tasks.id AND ${test})`);
    });
  }
  if (query.owner !== undefined) {
    where.push('tasks.owner = @owner');
    params.owner = query.owner;
  }
  if (query.namePrefix) {
    // A literal prefix. 0xFF never occurs in UTF-8 text, so prefix||x'FF' sorts after every name
    // that starts with the prefix, and before every other greater one.
    where.push(`tasks.name >= @prefix AND tasks.name < @prefix || CAST(x'FF' AS TEXT)`);
    params.prefix = query.namePrefix;
  }
  if (query.state !== undefined) {
    where.push('tasks.state = @state');
    params.state = query.state;
  }
  if (after !== undefined) {
    where.push(`${idColumn} < @after`);
    params.after = after;
  }
  return { from, where, order: idColumn, params };
}

/** A list statement's parameters: the filters' values, the page token's id, the limit. */
type ListParams = Record<string, string | number>;

/**
 * How many list statements a store keeps prepared (preparing one costs about as much as reading
 * a MINIMAL page). A statement's text depends on which filters a query has, never on their values,
 * so ordinary use needs a few dozen: 16 combinations of owner, state, name prefix and page token,
 * times the tag filters' shapes, times three statements (a page of records; a MINIMAL page's JSON
 * and the look-up of the row after it). Each tag, with a value or without, makes another shape,
 * so a client could make any number: past the bound the oldest is dropped.
 */
const LIST_STATEMENTS = 128;

/** A lease as the lease columns take it. */
interface LeaseParams {
  owner: string;
  expires: number;
  at: string;
}

const leaseParams = (lease: TaskLease): LeaseParams => ({
  owner: lease.owner,
  expires: leaseExpiry(lease),
  at: lease.expiresAt,
});

/** better-sqlite3 is synchronous; this keeps the port's contract that failures are rejections. */
const settle = <T>(fn: () => T): Promise<T> => new Promise<T>((resolve) => resolve(fn()));

/** A write waiting for the next group commit, and how its caller learns how it went. */
interface PendingWrite {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type WriteOutcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * The statement of a list page: its id and the task's `columns` (comma-separated, unqualified),
 * newest first, `limit` rows (by default one more than the page size), below the id `after` (by
 * default the one the page token names). Exported for the query-plan test.
 *
 * The limit is written into the statement, not bound: SQLite prepares a statement again each time
 * a bound LIMIT of a subquery changes (statesJsonStatement has one), about 10 µs of a 60 µs page.
 * Clients use few page sizes, and the statements are kept per text (LIST_STATEMENTS).
 */
export function listStatement(
  query: TaskQuery,
  columns: string,
  after = query.pageToken === undefined ? undefined : decodePageToken(query.pageToken),
  limit = query.pageSize + 1,
): { sql: string; params: ListParams } {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`bad list limit ${limit}`);
  const names = columns.split(',').map((column) => column.trim());
  const covered = names.every((name) => RECENT_COLUMNS.has(name));
  const { from, where, order, params } = listSource(query, after, covered);
  const selected = names.map((name) => `tasks.${name}`).join(', ');
  return {
    sql: `SELECT ${order} AS id, ${selected} FROM ${from}
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ${order} DESC LIMIT ${limit}`,
    params,
  };
}

/**
 * The statement of a MINIMAL page as JSON text, built by SQLite: the page's `{"id","state"}`
 * objects as one array, how many there are, and the last one's id. It reads the list statement's
 * rows with LIMIT the page size itself, so the answer says nothing of whether more follow: when
 * the page is full, the list statement after the last id, LIMIT 1, tells. json_group_array keeps
 * the order in which the ordered subquery yields its rows (an ORDER BY inside the aggregate would
 * sort the page again in a temporary B-tree, twice the cost); the contract test compares these
 * pages with `list`'s. Exported for the query-plan test.
 */
export function statesJsonStatement(query: TaskQuery): { sql: string; params: ListParams } {
  const { sql, params } = listStatement(query, 'state', undefined, query.pageSize);
  return {
    sql: `SELECT json_group_array(json_object('id', id, 'state', state)), count(*), min(id)
      FROM (${sql})`,
    params,
  };
}

/** The row of statesJsonStatement: the page's JSON array, its length, its last (least) id. */
type StatesJsonRow = [tasks: string, count: number, lastId: string | null];

/**
 * TaskStore on one SQLite file (standalone mode). The indexed columns are copies of record fields;
 * `doc` holds the whole record. WAL and a busy timeout let several processes share the file.
 * Record ids must be time-ordered: newest first is ORDER BY id DESC, and pages are keyed on id.
 *
 * Lease operations read and write inside one BEGIN IMMEDIATE transaction, which takes the file's
 * write lock before the read: a second process claiming at the same time waits (up to the busy
 * timeout) and then sees the first one's leases, so no task is ever handed to two owners.
 *
 * create and replace are group-committed: the writes issued within one turn of the event loop
 * (the POSTs that arrived together, the attempts of one claim) run in one transaction at the next
 * setImmediate, and each promise settles once that transaction is committed. A commit is most of
 * a write's cost (its WAL frames: the table's page and one per index), so a group of n writes
 * costs little more than one. Each write is still checked and refused on its own (a refused
 * statement undoes itself only); an error that ends the transaction fails every write of it.
 */
export class SqliteTaskStore extends TaskStore {
  private readonly db: Database.Database;
  private readonly insertStmt;
  private readonly createManyTx;
  private readonly updateStmt;
  private readonly getStmt;
  private readonly stateStmt;
  private readonly existsStmt;
  private readonly unfinishedStmt;
  private readonly loadStmt;
  private readonly heldStmt;
  private readonly docsStmt;
  private readonly ownerAtStmt;
  private readonly claimTx;
  private readonly groupTx;
  /** The writes of this turn of the event loop, for the next group commit. */
  private pending: PendingWrite[] = [];
  private readonly renewStmt;
  private readonly releaseStmt;
  /** Prepared list statements by their text, the oldest dropped past LIST_STATEMENTS. */
  private readonly listStmts = new Map<string, Database.Statement<ListParams>>();
  /**
   * listHeld's records of the last owner it was asked for, by id, the owner's expiry they show,
   * and its calls.
   */
  private held: {
    owner: string;
    at: OwnerAt;
    entries: Map<string, HeldEntry>;
    calls: number;
  } = { owner: '', at: undefined, entries: new Map(), calls: 0 };

  constructor({ path, busyTimeoutMs = 5000 }: SqliteTaskStoreOptions) {
    super();
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    // `timeout` is SQLite's busy_timeout; it is set at open so that the pragmas below wait too.
    this.db = new Database(path, { timeout: busyTimeoutMs });
    this.db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL loses at most the last transactions on power loss, never integrity.
    this.db.pragma('synchronous = NORMAL');
    // Statement journals (which a statement that writes several rows inside a transaction keeps,
    // so that it can be undone alone) in memory: in a temporary file they spill to disk past
    // 64 KiB, and then every insert of a long createMany writes its pages there (2.5× the CPU).
    this.db.pragma('temp_store = MEMORY');
    this.migrate();
    this.insertStmt = this.db.prepare<[InsertValues]>(insertSql(1));
    const insertManyStmt = this.db.prepare<[InsertValues]>(insertSql(BULK_ROWS));
    this.createManyTx = this.db.transaction((records: TaskRecord[]) => {
      let at = 0;
      for (; at + BULK_ROWS <= records.length; at += BULK_ROWS) {
        insertManyStmt.run(records.slice(at, at + BULK_ROWS).flatMap(insertValues));
      }
      for (const record of records.slice(at)) this.insertStmt.run(insertValues(record));
    });
    this.updateStmt = this.db.prepare<Row & { expected: number }>(
      `UPDATE tasks SET owner = @owner, state = @state, name = @name, created_at = @created_at,
         version = @version, tags = @tags, node = @node, lease_owner = @lease_owner,
         lease_expires = @lease_expires, lease_at = @lease_at, doc_version = @doc_version,
         doc = @doc
       WHERE id = @id AND version = @expected`,
    );
    this.getStmt = this.db.prepare<[string], RecordRow>(
      `SELECT ${RECORD_COLUMNS} FROM tasks WHERE id = ?`,
    );
    // From tasks_recent alone, which holds these columns: neither the row nor its document is read
    // (INDEXED BY makes preparing fail, not the read slow, should the index ever go).
    this.stateStmt = this.db.prepare<[string], TaskStateOf>(
      'SELECT id, owner, state FROM tasks INDEXED BY tasks_recent WHERE id = ?',
    );
    this.existsStmt = this.db.prepare<[string]>('SELECT 1 FROM tasks WHERE id = ?');
    this.unfinishedStmt = this.db.prepare<[], RecordRow>(
      `SELECT ${RECORD_COLUMNS} FROM tasks WHERE ${UNFINISHED} ORDER BY id`,
    );
    this.loadStmt = this.db.prepare<[], { node: string; n: number }>(
      `SELECT node, count(*) AS n FROM tasks WHERE ${UNFINISHED} AND node IS NOT NULL
       GROUP BY node`,
    );
    this.heldStmt = this.db
      .prepare<{ owner: string }, HeldRow>(
        `SELECT id, version, doc_version FROM tasks INDEXED BY tasks_lease
         WHERE lease_owner = @owner AND ${UNFINISHED}`,
      )
      .raw();
    this.docsStmt = this.db.prepare<{ ids: string }, RecordRow & { id: string }>(
      `SELECT id, ${RECORD_COLUMNS} FROM tasks WHERE id IN (${ID_LIST})`,
    );
    this.ownerAtStmt = this.db
      .prepare<[string], string>('SELECT at FROM lease_owners WHERE owner = ?')
      .pluck();

    // Leases change their columns and the version only, never the document.
    const setLease = `lease_owner = @owner, lease_expires = @expires, lease_at = @at,
      version = version + 1`;
    // The renewal of every lease the owner holds: its lease_owners row, once due.
    const renewOwnerStmt = this.db.prepare<LeaseParams & { due: number }>(
      `INSERT INTO lease_owners (owner, expires, at) VALUES (@owner, @expires, @at)
       ON CONFLICT (owner) DO UPDATE SET expires = excluded.expires, at = excluded.at
       WHERE lease_owners.expires < @due`,
    );
    const freeStmt = this.db.prepare<{ limit: number }, string>(FREE_TASKS).pluck();
    const expiredStmt = this.db
      .prepare<{ now: number }, string>('SELECT owner FROM lease_owners WHERE expires <= @now')
      .pluck();
    const liveStmt = this.db
      .prepare<{ now: number }, number>('SELECT count(*) FROM lease_owners WHERE expires > @now')
      .pluck();
    const holdingStmt = this.db
      .prepare<[string], number>(
        `SELECT count(*) FROM tasks INDEXED BY tasks_lease
         WHERE lease_owner = ? AND ${UNFINISHED}`,
      )
      .pluck();
    const leasedStmt = this.db
      .prepare<[], number>(
        `SELECT count(*) FROM tasks INDEXED BY tasks_lease
         WHERE lease_owner IS NOT NULL AND ${UNFINISHED}`,
      )
      .pluck();
    const forgetOwnerStmt = this.db.prepare<[string]>('DELETE FROM lease_owners WHERE owner = ?');
    const orphanedStmt = this.db
      .prepare<{ owners: string; limit: number }, string>(ORPHANED_TASKS)
      .pluck();
    const takeStmt = this.db.prepare<LeaseParams & { ids: string }, RecordRow & { id: string }>(
      `UPDATE tasks SET ${setLease} WHERE id IN (${ID_LIST})
       RETURNING id, ${RECORD_COLUMNS}`,
    );
    this.renewStmt = this.db
      .prepare<LeaseParams & { ids: string }, string>(
        `UPDATE tasks SET ${setLease}
         WHERE id IN (${ID_LIST}) AND lease_owner = @owner AND ${UNFINISHED}
         RETURNING id`,
      )
      .pluck();
    this.releaseStmt = this.db.prepare<{ owner: string; ids: string }>(
      `UPDATE tasks SET lease_owner = NULL, lease_expires = NULL, lease_at = NULL,
         version = version + 1
       WHERE id IN (${ID_LIST}) AND lease_owner = @owner`,
    );

    /**
     * The tasks of owners whose lease expired that `owner` takes over: its share, so that the live
     * owners end up holding as many each (the first to claim takes its part, the next the rest),
     * in one go rather than claimBatch a round. An expired owner that holds nothing is forgotten.
     */
    const orphansFor = (owner: string, now: number): string[] => {
      const expired = expiredStmt.all({ now }).filter((dead) => {
        if (holdingStmt.get(dead)) return true;
        forgetOwnerStmt.run(dead);
        return false;
      });
      if (!expired.length) return [];
      // count(*) always answers a row; `?? 0` only satisfies the types.
      const [leased, live, mine] = [
        leasedStmt.get(),
        liveStmt.get({ now }),
        holdingStmt.get(owner),
      ];
      const share = Math.ceil((leased ?? 0) / (live ?? 1)) - (mine ?? 0);
      if (share <= 0) return [];
      return orphanedStmt.all({ owners: JSON.stringify(expired), limit: share });
    };

    this.groupTx = this.db.transaction((writes: PendingWrite[]) => this.runWrites(writes));

    this.claimTx = this.db.transaction((lease: LeaseParams, due: number, now: number, limit) => {
      renewOwnerStmt.run({ ...lease, due });
      const free = limit > 0 ? freeStmt.all({ limit: limit as number }) : [];
      const ids = [...free, ...orphansFor(lease.owner, now)];
      if (!ids.length) return [];
      const read = this.reader();
      const taken = takeStmt.all({ ...lease, ids: JSON.stringify(ids) });
      // RETURNING gives rows in no set order; claim answers oldest first.
      return taken.sort((a, b) => (a.id < b.id ? -1 : 1)).map(read);
    });
  }

  /**
   * Turns rows into records, each lease with its owner's expiry: the owner's renewals extend its
   * leases without writing the tasks. One lookup per owner and call; a row whose owner has no row
   * in lease_owners (an ended task of an owner forgotten since) shows the expiry written on it.
   */
  private reader(): (row: RecordRow) => TaskRecord {
    const ats = new Map<string, OwnerAt>();
    return (row) => {
      const owner = row.lease_owner;
      if (owner === null) return fromRow(row);
      if (!ats.has(owner)) ats.set(owner, this.ownerAtStmt.get(owner));
      const at = ats.get(owner);
      return fromRow(at === undefined ? row : { ...row, lease_at: at });
    };
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

  /**
   * Queues `run` for the group commit of this turn of the event loop; settles once it committed.
   * `check` runs at once: a write it refuses never joins a group.
   */
  private groupWrite<T>(check: () => void, run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      check();
      const write = { run, resolve: resolve as (value: unknown) => void, reject };
      if (this.pending.push(write) === 1) setImmediate(() => this.commitPending());
    });
  }

  /** Each write's outcome, in order; throws when the transaction they run in is gone. */
  private runWrites(writes: PendingWrite[]): WriteOutcome[] {
    return writes.map((write) => {
      try {
        return { ok: true, value: write.run() };
      } catch (error) {
        // A refused statement (a taken id) undoes only itself; an error that rolled back the
        // whole transaction (disk full, I/O) fails the group: nothing of it is stored.
        if (!this.db.inTransaction) throw error;
        return { ok: false, error };
      }
    });
  }

  /** Runs the queued writes in one transaction, then settles each one's promise. */
  private commitPending(): void {
    const writes = this.pending;
    if (!writes.length) return;
    this.pending = [];
    let outcomes: WriteOutcome[];
    try {
      // A write alone commits by itself: a BEGIN and a COMMIT around it would only cost more.
      outcomes = writes.length === 1 ? this.runWrites(writes) : this.groupTx.immediate(writes);
    } catch (error) {
      for (const write of writes) write.reject(error);
      return;
    }
    outcomes.forEach((outcome, i) => {
      if (outcome.ok) writes[i].resolve(outcome.value);
      else writes[i].reject(outcome.error);
    });
  }

  create(record: TaskRecord): Promise<void> {
    return this.groupWrite(
      () => {
        checkNewRecord(record);
        checkRecordLease(record);
      },
      () => {
        try {
          this.insertStmt.run(insertValues(record));
        } catch (err) {
          // Not `instanceof SqliteError`: the native addon keeps the class of whichever copy of
          // better-sqlite3 loaded it first, and test runners load one copy per test file.
          if ((err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
            throw new TaskExistsError(record.id);
          }
          throw err;
        }
      },
    );
  }

  /**
   * Stores many new records in one transaction, through the same checks and rows as create (the
   * tag trigger fills task_tags alike), BULK_ROWS records a statement: a bulk loader for seeding
   * large stores (the benchmark), far faster than one commit each. Nothing is stored if any
   * record is refused.
   */
  createMany(records: TaskRecord[]): Promise<void> {
    return settle(() => {
      for (const record of records) {
        checkNewRecord(record);
        checkRecordLease(record);
      }
      this.createManyTx(records);
    });
  }

  get(id: string): Promise<TaskRecord | undefined> {
    return settle(() => {
      const row = this.getStmt.get(id);
      return row === undefined ? undefined : this.reader()(row);
    });
  }

  getState(id: string): Promise<TaskStateOf | undefined> {
    return settle(() => this.stateStmt.get(id));
  }

  list(query: TaskQuery): Promise<TaskPage> {
    return settle(() =>
      toPage(this.listRows<RecordRow>(query, RECORD_COLUMNS).map(this.reader()), query.pageSize),
    );
  }

  /**
   * SQLite writes the page's JSON (about a third of the CPU time of reading the rows into objects
   * and stringifying them: scripts/store-bench.ts), and the next page is known from one more row
   * looked up only when the page is full. The two statements are not one snapshot: a task that
   * changes between them counts as changed right after the page was read.
   */
  listStatesJson(query: TaskQuery): Promise<TaskStatesJson> {
    return settle(() => {
      checkPageSize(query.pageSize);
      const page = statesJsonStatement(query);
      const [tasks, count, lastId] = this.preparedList(page.sql)
        .raw()
        .get(page.params) as StatesJsonRow;
      if (count < query.pageSize || lastId === null) return { tasks };
      const next = listStatement(query, 'state', lastId, 1);
      const more = this.preparedList(next.sql).raw().get(next.params);
      return more === undefined ? { tasks } : { tasks, nextPageToken: encodePageToken(lastId) };
    });
  }

  /** The rows of a list page (one more than its size), each with its id and `columns`. */
  private listRows<T>(query: TaskQuery, columns: string): T[] {
    checkPageSize(query.pageSize);
    const { sql, params } = listStatement(query, columns);
    return this.preparedList(sql).raw(false).all(params) as T[];
  }

  /** The prepared list statement of `sql`, kept among the LIST_STATEMENTS last used. */
  private preparedList(sql: string): Database.Statement<ListParams> {
    let statement = this.listStmts.get(sql);
    if (!statement) {
      if (this.listStmts.size >= LIST_STATEMENTS) {
        this.listStmts.delete(this.listStmts.keys().next().value as string);
      }
      statement = this.db.prepare<ListParams>(sql);
      this.listStmts.set(sql, statement);
    }
    return statement;
  }

  countActiveByNode(): Promise<Map<string, number>> {
    return settle(() => new Map(this.loadStmt.all().map(({ node, n }) => [node, n])));
  }

  replace(next: TaskRecord): Promise<TaskRecord> {
    const stored = { ...next, version: next.version + 1 };
    return this.groupWrite(
      () => checkRecordLease(next),
      () => {
        const { changes } = this.updateStmt.run({ ...toRow(stored), expected: next.version });
        if (changes === 0) {
          throw this.existsStmt.get(next.id)
            ? new StaleVersionError(next.id)
            : new TaskNotFoundError(next.id);
        }
        return stored;
      },
    );
  }

  listUnfinished(): Promise<TaskRecord[]> {
    return settle(() => this.unfinishedStmt.all().map(this.reader()));
  }

  claim(owner: string, leaseMs: number, limit: number, now = new Date()): Promise<TaskRecord[]> {
    return settle(() => {
      const lease = leaseParams(newLease(owner, leaseMs, now));
      checkClaimLimit(limit);
      const due = now.getTime() + leaseMs / 2;
      return this.claimTx.immediate(lease, due, now.getTime(), limit);
    });
  }

  /**
   * Every write bumps the version, so a row whose version is the one last seen is returned as the
   * record built then, and only a row whose document changed (doc_version) is parsed again; when
   * the owner renewed (its lease_owners row), the records are rebuilt with the new expiry, without
   * parsing. The entries are updated in place: an idle tracker's read allocates little beyond the
   * rows.
   */
  listHeld(owner: string): Promise<TaskRecord[]> {
    return settle(() => {
      checkLeaseOwner(owner);
      if (this.held.owner !== owner) {
        this.held = { owner, at: undefined, entries: new Map(), calls: 0 };
      }
      const held = this.held;
      const seen = ++held.calls;
      // Every unfinished task with an owner has the owner's row (the triggers write it), so `at`
      // is there whenever a row below is.
      const at = this.ownerAtStmt.get(owner);
      const renewed = at !== held.at;
      held.at = at;
      const columns = { lease_owner: owner, lease_at: at ?? null };
      const lease = at === undefined ? undefined : { owner, expiresAt: at };
      const records: TaskRecord[] = [];
      const changed = new Map<string, HeldRow>();
      for (const row of this.heldStmt.all({ owner })) {
        const [id, version, docVersion] = row;
        const known = held.entries.get(id);
        if (known?.docVersion !== docVersion) {
          changed.set(id, row);
          continue;
        }
        if (known.version !== version || (renewed && !lease)) {
          known.record = withColumns(known.record, { ...columns, version });
          known.version = version;
        } else if (renewed) {
          // The owner's renewal extends each of its leases: set in place on the record this
          // store keeps, one lease object for all. A copy of every record (withColumns) after
          // each renewal cost about 8 µs a record, mostly in collecting the old copies.
          known.record.lease = lease;
        }
        known.seen = seen;
        records.push(known.record);
      }
      if (changed.size) {
        for (const doc of this.docsStmt.all({ ids: JSON.stringify([...changed.keys()]) })) {
          const [, version, docVersion] = changed.get(doc.id) ?? [];
          if (version === undefined || docVersion === undefined) continue;
          const record = withColumns(JSON.parse(doc.doc) as TaskRecord, { ...columns, version });
          held.entries.set(doc.id, { version, docVersion, record, seen });
          records.push(record);
        }
      }
      // Tasks no longer held (released, ended, taken over) are forgotten.
      if (held.entries.size > records.length) {
        for (const [id, entry] of held.entries) if (entry.seen !== seen) held.entries.delete(id);
      }
      return records;
    });
  }

  renew(owner: string, ids: string[], leaseMs: number, now = new Date()): Promise<string[]> {
    return settle(() => {
      const lease = leaseParams(newLease(owner, leaseMs, now));
      if (!ids.length) return [];
      const renewed = new Set(
        this.renewStmt.all({ ...lease, ids: JSON.stringify(uniqueIds(ids)) }),
      );
      return uniqueIds(ids).filter((id) => renewed.has(id));
    });
  }

  release(owner: string, ids: string[]): Promise<void> {
    return settle(() => {
      checkLeaseOwner(owner);
      if (ids.length) this.releaseStmt.run({ owner, ids: JSON.stringify(uniqueIds(ids)) });
    });
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
      // Writes already promised are committed, not dropped with the connection.
      this.commitPending();
      if (this.db.open) this.db.close();
    });
  }
}
