import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TERMINAL_STATES } from '@protes/tes';
import {
  FREE_TASKS,
  listStatement,
  ORPHANED_TASKS,
  RECORD_COLUMNS,
  SqliteTaskStore,
  statesJsonStatement,
} from './sqlite-task-store';
import { describeTaskStoreContract, everyListQuery, newRecord } from './task-store.contract';
import type { TaskQuery, TaskRecord } from './task-record';
import { StaleVersionError } from './task-store';
import { updateTask } from './task-updates';

const dir = mkdtempSync(join(tmpdir(), 'protes-sqlite-'));
let files = 0;
const freshPath = () => join(dir, `tasks-${++files}.db`);

// Must be the adapter's very text for SQLite to match the partial indexes.
const UNFINISHED = `state NOT IN (${[...TERMINAL_STATES].map((s) => `'${s}'`).join(', ')})`;

/** The version 1 schema, as shipped: the fixture for the upgrade test. */
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

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeTaskStoreContract('SqliteTaskStore', () => {
  const path = freshPath();
  return Promise.resolve({
    store: new SqliteTaskStore({ path }),
    reopen: () => Promise.resolve(new SqliteTaskStore({ path })),
  });
});

describe('SqliteTaskStore group commit', () => {
  it('has a write committed when its promise resolves: another connection reads it', async () => {
    const path = freshPath();
    const [writer, reader] = [new SqliteTaskStore({ path }), new SqliteTaskStore({ path })];
    const records = Array.from({ length: 8 }, () => newRecord());
    await Promise.all(records.map((r) => writer.create(r)));
    const replaced = await writer.replace({ ...records[0], state: 'RUNNING' });
    for (const record of records.slice(1)) expect(await reader.get(record.id)).toEqual(record);
    expect(await reader.get(records[0].id)).toEqual(replaced);
    await Promise.all([writer.close(), reader.close()]);
  });

  it('stores nothing of a group it cannot commit, and fails every write of it', async () => {
    const path = freshPath();
    const store = new SqliteTaskStore({ path, busyTimeoutMs: 50 });
    const existing = newRecord();
    await store.create(existing);
    // Another process holds the write lock for longer than the store waits.
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    const fresh = [newRecord(), newRecord()];
    const outcomes = await Promise.allSettled([
      ...fresh.map((r) => store.create(r)),
      store.replace({ ...existing, state: 'RUNNING' }),
    ]);
    other.exec('ROLLBACK');
    other.close();
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    for (const record of fresh) expect(await store.get(record.id)).toBeUndefined();
    expect(await store.get(existing.id)).toEqual(existing);
    await store.close();
  });

  it('commits the writes still waiting when it is closed', async () => {
    const path = freshPath();
    const store = new SqliteTaskStore({ path });
    const record = newRecord();
    const created = store.create(record);
    await store.close();
    await created;
    const reopened = new SqliteTaskStore({ path });
    expect(await reopened.get(record.id)).toEqual(record);
    await reopened.close();
  });
});

describe('SqliteTaskStore in memory', () => {
  it('is a complete store', async () => {
    const store = new SqliteTaskStore({ path: ':memory:' });
    const record = newRecord({ name: 'mem' });
    await store.create(record);
    const stored = await store.replace({ ...record, state: 'RUNNING' });
    expect(await store.get(record.id)).toEqual(stored);
    expect(await store.list({ pageSize: 10, namePrefix: 'me' })).toEqual({ records: [stored] });
    await store.close();
  });
});

describe('SqliteTaskStore list statements', () => {
  it('lists right after more filter shapes than it keeps prepared, the first one again too', async () => {
    const store = new SqliteTaskStore({ path: ':memory:' });
    const tagged = newRecord({ name: 'wf-1', tags: { k: 'v' } });
    const newer = newRecord({ tags: { k: 'w' } });
    await store.create(tagged);
    await store.create(newer);
    // 80 statement texts each for list and listStatesJson: every combination of the other filters,
    // with one to five tag filters. Each matches the tagged record alone.
    const queries = everyListQuery(
      [1, 2, 3, 4, 5].map((n) => Array.from({ length: n }, () => ({ key: 'k', value: 'v' }))),
      { pageSize: 10, owner: tagged.owner, state: 'QUEUED', namePrefix: 'wf-', after: newer.id },
    );
    for (const query of [...queries, queries[0]]) {
      expect(await store.list(query)).toEqual({ records: [tagged] });
      expect(await store.listStatesJson(query)).toEqual({
        tasks: JSON.stringify([{ id: tagged.id, state: 'QUEUED' }]),
      });
    }
    await store.close();
  });
});

describe('SqliteTaskStore bulk loading', () => {
  /** Every row of the tasks and task_tags tables of the file at `path`, in a fixed order. */
  function tables(path: string): { tasks: unknown[]; tags: unknown[] } {
    const db = new Database(path, { readonly: true });
    const tasks = db.prepare('SELECT * FROM tasks ORDER BY id').all();
    const tags = db.prepare('SELECT * FROM task_tags ORDER BY id, key, value').all();
    db.close();
    return { tasks, tags };
  }

  it('writes the very rows and tag rows that creating each record does', async () => {
    // More records than one statement of createMany takes, and not a multiple of it; each kind
    // of column filled and left empty: tags, names, nodes, leases, unfinished and finished.
    const states = ['QUEUED', 'RUNNING', 'COMPLETE', 'CANCELED'] as const;
    const records = Array.from({ length: 123 }, (_, i) =>
      newRecord({
        state: states[i % 4],
        ...(i % 3 && { name: `wf-${i}` }),
        tags: i % 5 ? { k: String(i % 7), [`t${i % 4}`]: '' } : {},
        ...(i % 2 && { node: `n${i % 3}` }),
        ...(i % 6 === 1 && {
          lease: { owner: 'tracker-a', expiresAt: '2030-01-01T00:00:00+02:00' },
        }),
      }),
    );
    const [onePath, bulkPath] = [freshPath(), freshPath()];
    const one = new SqliteTaskStore({ path: onePath });
    for (const record of records) await one.create(record);
    await one.close();
    const bulk = new SqliteTaskStore({ path: bulkPath });
    await bulk.createMany(records);
    await bulk.close();

    const expected = tables(onePath);
    expect(expected.tags.length).toBeGreaterThan(records.length);
    expect(tables(bulkPath)).toEqual(expected);
  });

  it('stores nothing of a long batch when a record late in it is refused or taken', async () => {
    const store = new SqliteTaskStore({ path: ':memory:' });
    const taken = newRecord();
    await store.create(taken);
    const batch = Array.from({ length: 120 }, () => newRecord({ tags: { k: 'v' } }));
    await expect(
      store.createMany([...batch.slice(0, 110), newRecord({ version: 2 })]),
    ).rejects.toThrow(RangeError);
    // SQLite's error, matched by its message: its class comes from the native addon, which Jest
    // loads once per process, so in a run of several files it may belong to another file's realm.
    await expect(
      store.createMany([...batch.slice(0, 110), { ...taken }, ...batch.slice(110)]),
    ).rejects.toMatchObject({ message: expect.stringMatching(/UNIQUE/) });
    expect(await store.list({ pageSize: 10, tags: [{ key: 'k', value: 'v' }] })).toEqual({
      records: [],
    });
    expect((await store.list({ pageSize: 10 })).records).toEqual([taken]);
    await store.close();
  });

  it('stores every record of a batch, or none when one is refused', async () => {
    const store = new SqliteTaskStore({ path: ':memory:' });
    const batch = [newRecord({ tags: { k: 'v' } }), newRecord({ state: 'RUNNING', node: 'n' })];
    await store.createMany(batch);
    expect((await store.list({ pageSize: 10 })).records).toEqual([...batch].reverse());
    expect(await store.countActiveByNode()).toEqual(new Map([['n', 1]]));
    const refused = [newRecord(), newRecord({ version: 2 })];
    await expect(store.createMany(refused)).rejects.toThrow(RangeError);
    expect(await store.get(refused[0].id)).toBeUndefined();
    await store.close();
  });
});

describe('SqliteTaskStore on a shared file', () => {
  // Two connections to one file stand in for two processes: each has its own locks and cache.
  let path: string;
  let a: SqliteTaskStore;
  let b: SqliteTaskStore;
  beforeEach(() => {
    path = freshPath();
    a = new SqliteTaskStore({ path });
    b = new SqliteTaskStore({ path });
  });
  afterEach(async () => {
    await a.close();
    await b.close();
  });

  it('uses WAL, so that readers do not block the writer', () => {
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('sees the other connection’s writes and refuses a version it has overtaken', async () => {
    const record = newRecord();
    await a.create(record);
    expect(await b.get(record.id)).toEqual(record);
    await b.replace({ ...record, state: 'RUNNING' });
    await expect(a.replace({ ...record, state: 'CANCELED' })).rejects.toThrow(StaleVersionError);
  });

  it('loses no update when both write at once', async () => {
    const record = newRecord();
    await a.create(record);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        updateTask(i % 2 ? a : b, record.id, (current) => ({
          ...current,
          systemLogs: [...current.systemLogs, `line ${i}`],
        })),
      ),
    );
    expect((await a.get(record.id))?.systemLogs).toHaveLength(20);
  });
});

describe('SqliteTaskStore schema', () => {
  it('refuses a file written by a newer schema', () => {
    const path = freshPath();
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    expect(() => new SqliteTaskStore({ path })).toThrow(/schema version 99/);
  });

  describe('query plans', () => {
    const path = freshPath();
    let db: Database.Database;
    beforeAll(async () => {
      await new SqliteTaskStore({ path }).close();
      db = new Database(path, { readonly: true });
    });
    afterAll(() => db.close());

    /** The plan's steps; no statistics are kept, so the planner decides as it will in use. */
    const plan = (sql: string, params: Record<string, string | number> = {}): string[] =>
      db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all(params)
        .map((row) => (row as { detail: string }).detail);

    /** Walks an index (or a key lookup) for every table, and never sorts. */
    const expectIndexed = (steps: string[]): void => {
      for (const step of steps) {
        expect(step).not.toMatch(/TEMP B-TREE/);
        if (/^SCAN /.test(step)) expect(step).toMatch(/USING (COVERING )?INDEX/);
      }
    };

    // Every combination of the list filters, the tag filter as key and value, key only, or two.
    const tagVariants: (TaskQuery['tags'] | undefined)[] = [
      undefined,
      [{ key: 'k', value: 'v' }],
      [{ key: 'k', value: '' }],
      [
        { key: 'k', value: 'v' },
        { key: 'j', value: '' },
      ],
    ];
    const queries = everyListQuery(tagVariants);

    it.each(queries.map((query) => [JSON.stringify(query), query]))(
      'lists %s from indexes, MINIMAL from indexes alone',
      (_, query) => {
        const minimal = listStatement(query, 'state');
        const minimalPlan = plan(minimal.sql, minimal.params);
        expectIndexed(minimalPlan);
        // No step reads a task's row: tasks come from a covering index, tags from their key.
        for (const step of minimalPlan) {
          expect(step).toMatch(/USING (COVERING INDEX|PRIMARY KEY)/);
        }
        // The MINIMAL page's JSON: the same walk, its rows aggregated as they come (no sort).
        const json = statesJsonStatement(query);
        const jsonPlan = plan(json.sql, json.params);
        expect(jsonPlan).toEqual([
          expect.stringMatching(/^CO-ROUTINE/),
          ...minimalPlan,
          expect.stringMatching(/^SCAN \(?subquery/),
        ]);
        const full = listStatement(query, RECORD_COLUMNS);
        expectIndexed(plan(full.sql, full.params));
      },
    );

    it('finds leases and loads from partial indexes of the unfinished tasks alone', () => {
      expect(
        plan(
          `SELECT node, count(*) FROM tasks WHERE ${UNFINISHED} AND node IS NOT NULL GROUP BY node`,
        ),
      ).toEqual([expect.stringMatching(/^SEARCH tasks USING COVERING INDEX tasks_node_load/)]);
      // listHeld, and the counts of a takeover's share.
      const byOwner = /^SEARCH tasks USING COVERING INDEX tasks_lease \(lease_owner=\?\)/;
      expect(
        plan(
          `SELECT id, version, doc_version FROM tasks WHERE lease_owner = 'a' AND ${UNFINISHED}`,
        ),
      ).toEqual([expect.stringMatching(byOwner)]);
      expect(
        plan(`SELECT count(*) FROM tasks WHERE lease_owner IS NOT NULL AND ${UNFINISHED}`),
      ).toEqual([expect.stringMatching(/^SEARCH tasks USING COVERING INDEX tasks_lease/)]);
      // The free tasks in id order from the index, without a sort.
      expect(plan(FREE_TASKS, { limit: 10 })).toEqual([expect.stringMatching(byOwner)]);
      const orphaned = plan(ORPHANED_TASKS, { owners: '["a"]', limit: 10 });
      expect(orphaned.filter((step) => /^(SCAN|SEARCH) tasks/.test(step))).toEqual([
        expect.stringMatching(byOwner),
      ]);
    });
  });

  it('upgrades a version 1 file in place, keeping its records', async () => {
    const path = freshPath();
    // The file exactly as the version 1 build left it.
    const v1 = new Database(path);
    v1.pragma('journal_mode = WAL');
    v1.exec(SCHEMA_V1);
    const insert = v1.prepare(
      `INSERT INTO tasks (id, owner, state, name, created_at, version, tags, doc)
       VALUES (@id, @owner, @state, @name, @createdAt, @version, @tags, @doc)`,
    );
    const records = [
      newRecord({ name: 'old', tags: { k: 'v' } }),
      newRecord({ state: 'COMPLETE' }),
      newRecord({ state: 'RUNNING', version: 3, node: 'n1' }),
    ];
    for (const r of records) {
      insert.run({
        ...r,
        name: r.name ?? null,
        tags: JSON.stringify(r.tags),
        doc: JSON.stringify(r),
      });
    }
    v1.pragma('user_version = 1');
    v1.close();

    const store = new SqliteTaskStore({ path });
    const db = new Database(path, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(4);
    const columns = db.pragma('table_info(tasks)') as { name: string }[];
    expect(columns.map((c) => c.name)).toEqual(
      expect.arrayContaining(['lease_owner', 'lease_expires']),
    );
    const indexes = db
      .prepare<[], string>(
        `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks'`,
      )
      .pluck()
      .all();
    expect(indexes).toEqual(expect.arrayContaining(['tasks_lease']));
    expect(indexes).not.toContain('tasks_free');
    expect(indexes).not.toContain('tasks_held');
    expect(indexes).not.toContain('tasks_unfinished');
    expect(indexes).not.toContain('tasks_name');
    expect(indexes).not.toContain('tasks_claimable');
    db.close();

    for (const r of records) expect(await store.get(r.id)).toEqual(r);
    expect((await store.list({ pageSize: 10, tags: [{ key: 'k', value: 'v' }] })).records).toEqual([
      records[0],
    ]);
    expect(await store.listUnfinished()).toEqual([records[0], records[2]]);
    // The columns version 3 added were filled in from the documents.
    expect(await store.countActiveByNode()).toEqual(new Map([['n1', 1]]));
    expect(await store.listStatesJson({ pageSize: 10, tags: [{ key: 'k', value: '' }] })).toEqual({
      tasks: JSON.stringify([{ id: records[0].id, state: 'QUEUED' }]),
    });
    const claimed = await store.claim('A', 60_000, 10);
    expect(claimed.map((r) => r.id)).toEqual([records[0].id, records[2].id]);
    expect(await store.claim('B', 60_000, 10)).toEqual([]);
    await expect(store.replace(records[2])).rejects.toThrow(StaleVersionError);
    await store.close();

    // Opening it again finds it current and changes nothing.
    const again = new SqliteTaskStore({ path });
    expect(await again.get(records[0].id)).toEqual(claimed[0]);
    expect((await again.listHeld('A')).map((r) => r.id).sort()).toEqual(
      [records[0], records[2]].map((r) => r.id),
    );
    await again.close();
  });
});

describe('SqliteTaskStore upgrade to leases by owner (version 3 to 4)', () => {
  it('keeps the leases of a version 3 file: a live owner’s tasks stay its own, an expired one’s are taken over', async () => {
    const path = freshPath();
    const future = { owner: 'A', expiresAt: '2999-01-01T00:00:00.000Z' };
    const past = { owner: 'B', expiresAt: '2000-01-01T00:00:00.000Z' };
    const records = [
      newRecord({ state: 'RUNNING', lease: future }),
      newRecord({ state: 'RUNNING', lease: past }),
      newRecord({ state: 'COMPLETE', lease: { owner: 'C', expiresAt: past.expiresAt } }),
    ];
    const store = new SqliteTaskStore({ path });
    await store.createMany(records);
    await store.close();
    // Back to what version 3 left: leases on the tasks alone, and its lease indexes.
    const v3 = new Database(path);
    v3.exec(`
      DROP TRIGGER tasks_lease_insert;
      DROP TRIGGER tasks_lease_update;
      DROP TABLE lease_owners;
      DROP INDEX tasks_lease;
      CREATE INDEX tasks_free ON tasks (lease_expires, id, state) WHERE ${UNFINISHED};
      CREATE INDEX tasks_held ON tasks (lease_owner, lease_expires, id, version, doc_version, lease_at, state)
        WHERE ${UNFINISHED};
    `);
    v3.pragma('user_version = 3');
    v3.close();

    const upgraded = new SqliteTaskStore({ path });
    try {
      for (const record of records) expect(await upgraded.get(record.id)).toEqual(record);
      const taken = await upgraded.claim('X', 60_000, 10);
      expect(taken.map((r) => r.id)).toEqual([records[1].id]);
      expect(await upgraded.listHeld('A')).toEqual([records[0]]);
    } finally {
      await upgraded.close();
    }
  });
});

describe('SqliteTaskStore leases across processes', () => {
  // The children run the compiled store, as trackers in production do. `npm test` builds first;
  // a bare `npx jest` may find no build, or one older than the source, and then says so and skips.
  const root = join(__dirname, '../../..');
  const child = join(root, 'dist/libs/persistence/src/testing/claim-loop.child.js');
  const sources = ['sqlite-task-store.ts', 'store-rules.ts', 'testing/claim-loop.child.ts'].map(
    (file) => join(__dirname, file),
  );
  const built = existsSync(child) ? statSync(child).mtimeMs : undefined;
  const stale = sources.some((source) => statSync(source).mtimeMs > (built ?? 0));
  const skipReason =
    built === undefined
      ? `${child} is missing (run npm run build)`
      : stale
        ? `${child} is older than its source (run npm run build)`
        : undefined;
  if (skipReason) console.warn(`multi-process lease test skipped: ${skipReason}`);
  const itBuilt = skipReason ? it.skip : it;

  /** Runs one child to its end; resolves with every id it claimed, round by round. */
  function runChild(proc: ChildProcess, ready: Promise<void>): Promise<string[][]> {
    return new Promise((resolve, reject) => {
      let out = '';
      let err = '';
      proc.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
      proc.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
      proc.on('error', reject);
      proc.on('exit', (code) => {
        if (code !== 0) return reject(new Error(`child exited with ${code}: ${err}`));
        resolve(
          out
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line) as string[]),
        );
      });
      ready.catch(reject);
    });
  }

  itBuilt('splits the tasks between two processes claiming at once, none twice', async () => {
    const path = freshPath();
    const store = new SqliteTaskStore({ path });
    const records: TaskRecord[] = [];
    for (let i = 0; i < 400; i++) records.push(newRecord({ state: i % 2 ? 'RUNNING' : 'QUEUED' }));
    for (const r of records) await store.create(r);

    const owners = ['tracker-a', 'tracker-b'];
    const procs = owners.map((owner) => fork(child, [path, owner, '10'], { silent: true }));
    const ready = Promise.all(
      procs.map((p) => new Promise<void>((resolve) => p.once('message', () => resolve()))),
    ).then(() => {
      for (const p of procs) p.send('go');
    });
    const [a, b] = await Promise.all(procs.map((p) => runChild(p, ready)));

    const claimedA = a.flat();
    const claimedB = b.flat();
    expect(new Set(claimedA).size).toBe(claimedA.length);
    expect(new Set(claimedB).size).toBe(claimedB.length);
    expect(claimedA.filter((id) => claimedB.includes(id))).toEqual([]);
    expect([...claimedA, ...claimedB].sort()).toEqual(records.map((r) => r.id));
    // Both took part, or this proved nothing about concurrency.
    expect(claimedA.length).toBeGreaterThan(0);
    expect(claimedB.length).toBeGreaterThan(0);
    const ownerOf = new Map([
      ...claimedA.map((id) => [id, owners[0]] as const),
      ...claimedB.map((id) => [id, owners[1]] as const),
    ]);
    for (const record of await store.listUnfinished()) {
      expect(record.lease?.owner).toBe(ownerOf.get(record.id));
    }
    await store.close();
  });
});
