import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteTaskStore } from './sqlite-task-store';
import { describeTaskStoreContract, newRecord } from './task-store.contract';
import { StaleVersionError } from './task-store';
import { updateTask } from './task-updates';

const dir = mkdtempSync(join(tmpdir(), 'protes-sqlite-'));
let files = 0;
const freshPath = () => join(dir, `tasks-${++files}.db`);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeTaskStoreContract('SqliteTaskStore', () => {
  const path = freshPath();
  return Promise.resolve({
    store: new SqliteTaskStore({ path }),
    reopen: () => Promise.resolve(new SqliteTaskStore({ path })),
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

  it('has the indexes that list queries need', async () => {
    const path = freshPath();
    await new SqliteTaskStore({ path }).close();
    const db = new Database(path, { readonly: true });
    const plan = (sql: string) =>
      db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all()
        .map((row) => (row as { detail: string }).detail)
        .join('; ');
    expect(plan(`SELECT doc FROM tasks WHERE owner = 'a' AND id < 'x' ORDER BY id DESC`)).toMatch(
      /USING INDEX tasks_owner/,
    );
    expect(plan(`SELECT doc FROM tasks WHERE state = 'RUNNING' ORDER BY id DESC`)).toMatch(
      /USING INDEX tasks_state/,
    );
    expect(
      plan(`SELECT doc FROM tasks WHERE name >= 'a' AND name < 'a' || CAST(x'FF' AS TEXT)`),
    ).toMatch(/USING INDEX tasks_name/);
    db.close();
  });
});
