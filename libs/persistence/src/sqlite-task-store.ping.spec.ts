import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteTaskStore } from './sqlite-task-store';
import { newRecord } from './task-store.contract';

const dir = mkdtempSync(join(tmpdir(), 'protes-sqlite-ping-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SqliteTaskStore.ping', () => {
  it('fails while the file can be read but not written, and answers again after', async () => {
    const path = join(dir, 'tasks.db');
    const store = new SqliteTaskStore({ path, busyTimeoutMs: 50 });
    const record = newRecord();
    await store.create(record);
    await expect(store.ping()).resolves.toBeUndefined();
    // Another process holds the write lock: reads go on (WAL), every write waits and fails.
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      await expect(store.get(record.id)).resolves.toEqual(record);
      await expect(store.ping()).rejects.toThrow(/locked|busy/i);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    await expect(store.ping()).resolves.toBeUndefined();
    await store.close();
  });
});
