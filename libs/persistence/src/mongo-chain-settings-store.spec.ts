import { createConnection } from 'mongoose';
import { describeChainSettingsContract } from './chain-settings-store.contract';
import { MongoChainSettingsStore } from './mongo-chain-settings-store';

// MongoDB cannot run on the development machines; docker compose provides one and sets MONGO_URL.
const url = process.env.MONGO_URL;

if (url) {
  const run = `protes_settings_${process.pid}_${Date.now()}`;
  const databases: string[] = [];

  afterAll(async () => {
    const connection = await createConnection(url).asPromise();
    for (const name of databases) await connection.useDb(name).dropDatabase();
    await connection.close();
  });

  describeChainSettingsContract('MongoChainSettingsStore', async () => {
    const dbName = `${run}_${databases.length}`;
    databases.push(dbName);
    const connect = () => MongoChainSettingsStore.connect(url, { dbName });
    return { store: await connect(), reopen: connect };
  });
} else {
  console.warn('MONGO_URL not set: MongoDB chain settings contract suite skipped');
  describe('MongoChainSettingsStore (ChainSettingsStore contract)', () => {
    it.todo('MONGO_URL not set: MongoDB contract suite skipped');
  });
}
