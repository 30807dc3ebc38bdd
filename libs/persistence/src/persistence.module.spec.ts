import { Test } from '@nestjs/testing';
import { PersistenceModule } from './persistence.module';
import { SqliteTaskStore } from './sqlite-task-store';
import { TaskStore } from './task-store';
import { TaskStoreHealthIndicator } from './task-store.health';

describe('PersistenceModule', () => {
  it('binds the SQLite store, reports its health and closes it on shutdown', async () => {
    const app = await Test.createTestingModule({
      imports: [PersistenceModule.forRoot({ driver: 'sqlite', path: ':memory:' })],
    }).compile();
    await app.init();
    const store = app.get(TaskStore);
    expect(store).toBeInstanceOf(SqliteTaskStore);
    const health = app.get(TaskStoreHealthIndicator);
    expect(await health.pingCheck('store')).toEqual({
      store: expect.objectContaining({ status: 'up' }),
    });

    await app.close();
    await expect(store.ping()).rejects.toThrow();
  });

  it('takes its options from a factory', async () => {
    const app = await Test.createTestingModule({
      imports: [
        PersistenceModule.forRootAsync({
          useFactory: () => Promise.resolve({ driver: 'sqlite' as const, path: ':memory:' }),
        }),
      ],
    }).compile();
    await app.init();
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
});
