import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  CHAIN_SETTINGS_KEY,
  ChainSettingsConflictError,
  ChainSettingsStore,
  type StoredChain,
} from './chain-settings-store';
import type { SqliteTaskStoreOptions } from './sqlite-task-store';

interface Row {
  version: number;
  updated_at: string;
  value: string;
}

/**
 * ChainSettingsStore in a `settings` table of the task store's SQLite file, over a connection of
 * its own. The table is created if missing; the tasks' schema version is not touched. A save is one
 * conditional statement, so gateways sharing the file cannot overwrite each other unseen.
 */
export class SqliteChainSettingsStore extends ChainSettingsStore {
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement<[string], Row>;

  constructor({ path, busyTimeoutMs = 5000 }: SqliteTaskStoreOptions) {
    super();
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path, { timeout: busyTimeoutMs });
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS settings (
      key TEXT PRIMARY KEY, version INTEGER NOT NULL, updated_at TEXT NOT NULL, value TEXT NOT NULL
    )`);
    // Read for every task the gateway accepts (another gateway may have changed the chain).
    this.getStmt = this.db.prepare<[string], Row>(
      'SELECT version, updated_at, value FROM settings WHERE key = ?',
    );
  }

  get(): Promise<StoredChain | undefined> {
    return settle(() => {
      const row = this.getStmt.get(CHAIN_SETTINGS_KEY);
      return (
        row && {
          chain: JSON.parse(row.value) as unknown,
          version: row.version,
          updatedAt: row.updated_at,
        }
      );
    });
  }

  save(chain: unknown, expectedVersion: number): Promise<StoredChain> {
    return settle(() => {
      const stored = { chain, version: expectedVersion + 1, updatedAt: new Date().toISOString() };
      const { changes } = this.db
        .prepare(
          expectedVersion === 0
            ? `INSERT INTO settings (key, version, updated_at, value)
               VALUES (@key, @version, @updatedAt, @value) ON CONFLICT (key) DO NOTHING`
            : `UPDATE settings SET version = @version, updated_at = @updatedAt, value = @value
               WHERE key = @key AND version = @version - 1`,
        )
        .run({
          key: CHAIN_SETTINGS_KEY,
          version: stored.version,
          updatedAt: stored.updatedAt,
          value: JSON.stringify(chain),
        });
      if (changes !== 1) throw new ChainSettingsConflictError();
      return stored;
    });
  }

  clear(): Promise<void> {
    return settle(() => {
      this.db.prepare('DELETE FROM settings WHERE key = ?').run(CHAIN_SETTINGS_KEY);
    });
  }

  close(): Promise<void> {
    return settle(() => {
      if (this.db.open) this.db.close();
    });
  }
}

/** better-sqlite3 is synchronous; this keeps the port's contract that failures are rejections. */
const settle = <T>(fn: () => T): Promise<T> => new Promise<T>((resolve) => resolve(fn()));
