import { Test, type TestingModule } from '@nestjs/testing';
import { createConnection } from 'mongoose';
import { ChainSettingsStore } from './chain-settings-store';
import { describeChainSettingsContract } from './chain-settings-store.contract';
import { PersistenceModule } from './persistence.module';

// MongoDB cannot run on the development machines; docker compose provides one and sets MONGO_URL.
const url = process.env.MONGO_URL;

if (url) {
  const run = `protes_settings_${process.pid}_${Date.now()}`;
  const databases: string[] = [];
  const apps: TestingModule[] = [];

  // The stores' close() leaves the connection to MongooseModule; closing the modules closes it.
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  afterAll(async () => {
    const connection = await createConnection(url).asPromise();
    for (const name of databases) await connection.useDb(name).dropDatabase();
    await connection.close();
  });

  /** The store as an application gets it, from PersistenceModule, over a connection of its own. */
  const open = async (dbName: string): Promise<ChainSettingsStore> => {
    const app = await Test.createTestingModule({
      imports: [PersistenceModule.forRoot({ driver: 'mongo', url, dbName })],
    }).compile();
    apps.push(app);
    await app.init();
    return app.get(ChainSettingsStore);
  };

  describeChainSettingsContract('MongoChainSettingsStore', async () => {
    const dbName = `${run}_${databases.length}`;
    databases.push(dbName);
    const connect = () => open(dbName);
    return { store: await connect(), reopen: connect };
  });
} else {
  console.warn('MONGO_URL not set: MongoDB chain settings contract suite skipped');
  describe('MongoChainSettingsStore (ChainSettingsStore contract)', () => {
    it.todo('MONGO_URL not set: MongoDB contract suite skipped');
  });
}
