import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeChainSettingsContract } from './chain-settings-store.contract';
import { SqliteChainSettingsStore } from './sqlite-chain-settings-store';
import { SqliteTaskStore } from './sqlite-task-store';
import { newRecord } from './task-store.contract';

let dir: string;
let files = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'protes-chain-settings-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeChainSettingsContract('SqliteChainSettingsStore', () => {
  const path = join(dir, `settings-${files++}.db`);
  const open = () => Promise.resolve(new SqliteChainSettingsStore({ path }));
  return Promise.resolve({ store: new SqliteChainSettingsStore({ path }), reopen: open });
});

describe('SqliteChainSettingsStore beside the task store', () => {
  it('shares the file with the tasks without touching their schema, in either opening order', async () => {
    for (const settingsFirst of [true, false]) {
      const path = join(dir, `shared-${settingsFirst}.db`);
      const settings = settingsFirst ? new SqliteChainSettingsStore({ path }) : undefined;
      const tasks = new SqliteTaskStore({ path });
      const store = settings ?? new SqliteChainSettingsStore({ path });
      const record = newRecord();
      await tasks.create(record);
      await store.save(['random'], 0);
      expect(await tasks.get(record.id)).toEqual(record);
      expect((await store.get())?.chain).toEqual(['random']);
      await Promise.all([tasks.close(), store.close()]);
    }
  });
});
