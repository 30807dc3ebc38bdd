import { TERMINAL_STATES } from '@protes/tes';
import { getConnectionToken, getModelToken } from '@nestjs/mongoose';
import { Test } from '@nestjs/testing';
import mongoose, { createConnection, type Model } from 'mongoose';
import { ChainSettingsStore } from './chain-settings-store';
import { CHAIN_SETTINGS_MODEL, type SettingsDocument } from './chain-settings.schema';
import { MongoChainSettingsStore } from './mongo-chain-settings-store';
import {
  DEFAULT_SERVER_SELECTION_TIMEOUT_MS,
  mongooseOptions,
  PROTES_CONNECTION,
} from './mongo-connection';
import { MongoTaskStore } from './mongo-task-store';
import { PersistenceModule } from './persistence.module';
import { SqliteChainSettingsStore } from './sqlite-chain-settings-store';
import { SqliteTaskStore } from './sqlite-task-store';
import { TaskStore } from './task-store';
import { TaskStoreHealthIndicator } from './task-store.health';
import { TASK_MODEL, type TaskDocument } from './task.schema';

// Nothing listens on port 1, so connecting is refused at once.
const UNREACHABLE = 'mongodb://127.0.0.1:1/protes';

describe('PersistenceModule', () => {
  it('binds the SQLite store, reports its health and closes it on shutdown', async () => {
    const app = await Test.createTestingModule({
      imports: [PersistenceModule.forRoot({ driver: 'sqlite', path: ':memory:' })],
    }).compile();
    await app.init();
    const store = app.get(TaskStore);
    expect(store).toBeInstanceOf(SqliteTaskStore);
    expect(app.get(ChainSettingsStore)).toBeInstanceOf(SqliteChainSettingsStore);
    const health = app.get(TaskStoreHealthIndicator);
    expect(await health.pingCheck('store')).toEqual({
      store: expect.objectContaining({ status: 'up' }),
    });

    await app.close();
    await expect(store.ping()).rejects.toThrow();
  });

  it('leaves mongoose out of a SQLite application', async () => {
    const connections = mongoose.connections.length;
    const app = await Test.createTestingModule({
      imports: [PersistenceModule.forRoot({ driver: 'sqlite', path: ':memory:' })],
    }).compile();
    await app.init();
    expect(() =>
      app.get<unknown>(getConnectionToken(PROTES_CONNECTION), { strict: false }),
    ).toThrow();
    expect(() =>
      app.get<unknown>(getModelToken(TASK_MODEL, PROTES_CONNECTION), { strict: false }),
    ).toThrow();
    expect(mongoose.connections).toHaveLength(connections);
    await app.close();
  });

  it('takes its options from a factory', async () => {
    const app = await Test.createTestingModule({
      imports: [
        PersistenceModule.forRootAsync({
          driver: 'sqlite',
          useFactory: () => Promise.resolve({ driver: 'sqlite' as const, path: ':memory:' }),
        }),
      ],
    }).compile();
    await app.init();
    expect(app.get(TaskStore)).toBeInstanceOf(SqliteTaskStore);
    await app.close();
  });

  it('refuses factory options for another driver than the one it was built for', async () => {
    await expect(
      Test.createTestingModule({
        imports: [
          PersistenceModule.forRootAsync({
            driver: 'sqlite',
            useFactory: () => ({ driver: 'mongo' as const, url: UNREACHABLE }),
          }),
        ],
      }).compile(),
    ).rejects.toThrow(
      'PersistenceModule was built for the sqlite store, but its options are for mongo',
    );
  });

  it('takes the store section of the proTES configuration', async () => {
    const app = await Test.createTestingModule({
      imports: [PersistenceModule.fromConfig({ driver: 'sqlite', sqlitePath: ':memory:' })],
    }).compile();
    expect(app.get(TaskStore)).toBeInstanceOf(SqliteTaskStore);
    await app.close();
  });

  it('reports a store that does not answer as down', async () => {
    const app = await Test.createTestingModule({
      imports: [PersistenceModule.forRoot({ driver: 'sqlite', path: ':memory:' })],
    }).compile();
    await app.get(TaskStore).close();
    expect(await app.get(TaskStoreHealthIndicator).pingCheck('store')).toEqual({
      store: expect.objectContaining({ status: 'down' }),
    });
    await app.close();
  });

  describe('with MongoDB', () => {
    // No MongoDB server can run here (see mongo-task-store.spec.ts for the suites that need one).
    // What is checked without it: the start-up failure, and the wiring, on a connection that
    // stands in for MongooseModule's and is never opened.

    it('fails at start-up, saying why, when MongoDB does not answer', async () => {
      const started = Date.now();
      await expect(
        Test.createTestingModule({
          imports: [
            PersistenceModule.forRoot({
              driver: 'mongo',
              url: UNREACHABLE,
              serverSelectionTimeoutMS: 200,
            }),
          ],
        }).compile(),
      ).rejects.toThrow(/^cannot open the MongoDB store: .*127\.0\.0\.1:1/);
      // Once: MongooseModule does not retry on top of the driver's server selection.
      expect(Date.now() - started).toBeLessThan(3000);
    });

    it('gives MongooseModule the URL that the factory of forRootAsync returns', async () => {
      await expect(
        Test.createTestingModule({
          imports: [
            PersistenceModule.forRootAsync({
              driver: 'mongo',
              useFactory: () =>
                Promise.resolve({
                  driver: 'mongo' as const,
                  url: UNREACHABLE,
                  serverSelectionTimeoutMS: 200,
                }),
            }),
          ],
        }).compile(),
      ).rejects.toThrow(/^cannot open the MongoDB store: .*127\.0\.0\.1:1/);
    });

    it('gives the stores the models MongooseModule registers on its connection', async () => {
      const connection = createConnection();
      const app = await Test.createTestingModule({
        imports: [PersistenceModule.forRoot({ driver: 'mongo', url: UNREACHABLE })],
      })
        .overrideProvider(getConnectionToken(PROTES_CONNECTION))
        .useValue(connection)
        .compile();
      const store = app.get(TaskStore);
      const chainSettings = app.get(ChainSettingsStore);
      expect(store).toBeInstanceOf(MongoTaskStore);
      expect(chainSettings).toBeInstanceOf(MongoChainSettingsStore);

      const tasks = app.get<Model<TaskDocument>>(getModelToken(TASK_MODEL, PROTES_CONNECTION));
      const settings = app.get<Model<SettingsDocument>>(
        getModelToken(CHAIN_SETTINGS_MODEL, PROTES_CONNECTION),
      );
      expect(tasks.db).toBe(connection);
      expect(settings.db).toBe(connection);
      expect(settings.collection.collectionName).toBe('settings');
      // Private, read here only to show that the store holds no connection of its own.
      expect(store['tasks' as keyof TaskStore]).toBe(tasks);
      expect(chainSettings['settings' as keyof ChainSettingsStore]).toBe(settings);

      // Start-up builds the task indexes and waits for them (a server would do the work).
      const createIndexes = jest.spyOn(tasks, 'createIndexes').mockResolvedValue(undefined);
      // Then it looks for documents older than their `node` field (none here: no server to ask).
      const find = jest
        .spyOn(tasks, 'find')
        .mockReturnValue({ lean: () => Promise.resolve([]) } as unknown as ReturnType<
          typeof tasks.find
        >);
      // And for the owners of leases written before owners had documents of their own (none).
      const aggregate = jest
        .spyOn(tasks, 'aggregate')
        .mockReturnValue(Promise.resolve([]) as unknown as ReturnType<typeof tasks.aggregate>);
      await app.init();
      expect(createIndexes).toHaveBeenCalledTimes(1);
      expect(aggregate).toHaveBeenCalledTimes(1);
      expect(find).toHaveBeenCalledWith(
        { state: { $nin: [...TERMINAL_STATES] }, node: { $exists: false } },
        { doc: 1 },
      );

      // The health indicator pings through the store, hence through that connection.
      expect(await app.get(TaskStoreHealthIndicator).pingCheck('store')).toEqual({
        store: expect.objectContaining({
          status: 'down',
          message: 'MongoDB connection is not open',
        }),
      });

      // MongooseModule closes the connection at shutdown, once; the stores leave it to it.
      const close = jest.spyOn(connection, 'close');
      await app.close();
      expect(close).toHaveBeenCalledTimes(1);
    });

    it('connects as protes, builds no index in the background and does not retry', () => {
      expect(mongooseOptions({ driver: 'mongo', url: UNREACHABLE })).toEqual({
        uri: UNREACHABLE,
        appName: 'protes',
        serverSelectionTimeoutMS: DEFAULT_SERVER_SELECTION_TIMEOUT_MS,
        autoIndex: false,
        autoCreate: false,
        retryAttempts: 0,
        connectionErrorFactory: expect.any(Function),
      });
      expect(mongooseOptions({ driver: 'mongo', url: UNREACHABLE, dbName: 'x' }).dbName).toBe('x');
    });

    it('leaves the application name and the server selection timeout to the URL if it sets them', () => {
      const url = `${UNREACHABLE}?replicaSet=rs0&APPNAME=site&serverselectiontimeoutms=30000`;
      const options = mongooseOptions({ driver: 'mongo', url });
      expect(options).not.toHaveProperty('appName');
      expect(options).not.toHaveProperty('serverSelectionTimeoutMS');
      // Options given to the module still win, as they do in the driver.
      const given = mongooseOptions({ driver: 'mongo', url, serverSelectionTimeoutMS: 500 });
      expect(given.serverSelectionTimeoutMS).toBe(500);
    });
  });
});
