import { Test, type TestingModule } from '@nestjs/testing';
import { createConnection } from 'mongoose';
import { TERMINAL_STATES } from '@protes/tes';
import { fromDocument, heldByFilter, taskFilter, toDocument } from './mongo-task-store';
import { PersistenceModule } from './persistence.module';
import { describeTaskStoreContract, everyListQuery, newRecord } from './task-store.contract';
import { InvalidPageTokenError, TaskStore } from './task-store';
import { TASK_MODEL, taskSchema, type TaskDocument } from './task.schema';

// MongoDB cannot run on the development machines; docker compose provides one and sets MONGO_URL.
const url = process.env.MONGO_URL;

if (url) {
  const run = `protes_contract_${process.pid}_${Date.now()}`;
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
  const open = async (dbName: string): Promise<TaskStore> => {
    const app = await Test.createTestingModule({
      imports: [PersistenceModule.forRoot({ driver: 'mongo', url, dbName })],
    }).compile();
    apps.push(app);
    await app.init();
    return app.get(TaskStore);
  };

  describeTaskStoreContract('MongoTaskStore', async () => {
    // A database per test, so that every test starts from an empty store.
    const dbName = `${run}_${databases.length}`;
    databases.push(dbName);
    const connect = () => open(dbName);
    return { store: await connect(), reopen: connect };
  });

  describe('MongoTaskStore query plans', () => {
    // Every combination of the list filters, as in the SQLite plan test.
    const tagVariants = [undefined, [{ key: 'k', value: 'v' }], [{ key: 'k', value: '' }]];
    const queries = everyListQuery(tagVariants);

    it('answers every list query from an index, never a collection scan', async () => {
      const dbName = `${run}_plans`;
      databases.push(dbName);
      await open(dbName);
      const connection = await createConnection(url).asPromise();
      try {
        const tasks = connection.useDb(dbName).model<TaskDocument>(TASK_MODEL, taskSchema);
        for (const query of queries) {
          const plan = await tasks
            .find(taskFilter(query))
            .sort({ _id: -1 })
            .limit(query.pageSize + 1)
            .explain('queryPlanner');
          expect({ query, plan: JSON.stringify(plan) }).not.toEqual({
            query,
            plan: expect.stringContaining('COLLSCAN'),
          });
        }
      } finally {
        await connection.close();
      }
    });
  });
} else {
  console.warn('MONGO_URL not set: MongoDB contract suite and query plans skipped');
  describe('MongoTaskStore (TaskStore contract)', () => {
    it.todo('MONGO_URL not set: MongoDB contract suite skipped');
  });
}

// What can be checked without a server: the filter the adapter sends.
describe('MongoTaskStore list filter', () => {
  it('turns the name prefix into an anchored regex that matches it literally', () => {
    const names = 'a%b a_b a.*b axb a[1 a\\b a(b) a+ a$ a^ a|b a{2} a? a\0b ba.* é*'.split(' ');
    const prefixes = 'a% a_ a.* a[ a\\ a( a+ a$ a^ a| a{2 a? a\0 .* é*'.split(' ');
    for (const prefix of prefixes) {
      const { name } = taskFilter({ namePrefix: prefix, pageSize: 1 }) as {
        name: { $regex: string };
      };
      const pattern = name.$regex;
      expect(pattern).toMatch(/^\^/);
      expect(pattern).not.toContain('\0');
      // PCRE and JavaScript's unicode mode agree on these escapes.
      const regex = new RegExp(pattern, 'u');
      expect(names.filter((n) => regex.test(n))).toEqual(names.filter((n) => n.startsWith(prefix)));
    }
  });

  it('keeps user strings out of operator position', () => {
    expect(
      taskFilter({
        owner: '$where',
        state: 'RUNNING',
        tags: [
          { key: 'a.b', value: '' },
          { key: '$x', value: 'y' },
        ],
        pageSize: 1,
      }),
    ).toEqual({
      owner: { $eq: '$where' },
      state: { $eq: 'RUNNING' },
      $and: [
        { tags: { $elemMatch: { k: { $eq: 'a.b' } } } },
        { tags: { $elemMatch: { k: { $eq: '$x' }, v: { $eq: 'y' } } } },
      ],
    });
  });

  it('pages on _id and refuses a foreign token', () => {
    expect(() => taskFilter({ pageToken: 'garbage', pageSize: 1 })).toThrow(InvalidPageTokenError);
    expect(taskFilter({ pageSize: 1 })).toEqual({});
  });
});

// What can be checked without a server: the documents and filters of leases, through mongoose's
// own casting and validation on a connection that is never opened.
describe('MongoTaskStore lease documents', () => {
  const connection = createConnection();
  const Task = connection.model<TaskDocument>(TASK_MODEL, taskSchema);
  afterAll(() => connection.close());

  /** The document as mongoose would send it: cast and validated against the schema. */
  async function asStored(document: TaskDocument): Promise<TaskDocument> {
    const hydrated = new Task(document);
    await hydrated.validate();
    return hydrated.toObject();
  }

  it('keeps the lease and the version outside `doc`, and puts them back on reading', async () => {
    const record = newRecord({
      state: 'RUNNING',
      version: 7,
      lease: { owner: 'tracker-1', expiresAt: '2030-01-01T02:00:00.5+01:00' },
    });
    const document = toDocument(record);
    expect(JSON.parse(document.doc)).not.toHaveProperty('lease');
    expect(JSON.parse(document.doc)).not.toHaveProperty('version');
    expect(document.lease).toEqual({
      owner: 'tracker-1',
      expiresAt: '2030-01-01T02:00:00.5+01:00',
      expiry: new Date('2030-01-01T01:00:00.500Z'),
    });
    const stored = await asStored(document);
    expect(stored.lease?.expiry).toEqual(new Date('2030-01-01T01:00:00.500Z'));
    expect(fromDocument(stored)).toEqual(record);
  });

  it('stores no lease field at all for a record without a lease', async () => {
    const record = newRecord();
    const stored = await asStored(toDocument(record));
    expect(stored).not.toHaveProperty('lease');
    expect(fromDocument(stored)).toEqual(record);
  });

  it('reads documents written before leases, whose version was inside `doc`', () => {
    const record = newRecord({ version: 2 });
    const old = { doc: JSON.stringify(record), version: 3 };
    expect(fromDocument(old)).toEqual({ ...record, version: 3 });
  });

  it('takes over the unfinished tasks of expired owners, the owners as values, not operators', () => {
    const filter = heldByFilter(['A', '$where']);
    expect(filter).toEqual({
      'lease.owner': { $in: ['A', '$where'] },
      state: { $nin: [...TERMINAL_STATES] },
    });
    // mongoose casts it without complaint, the owners staying strings.
    const cast = Task.find(filter).cast() as { 'lease.owner': { $in: string[] } };
    expect(cast['lease.owner'].$in).toEqual(['A', '$where']);
  });

  it('shows a lease with its owner’s expiry, which the owner’s renewals move', () => {
    const record = newRecord({ lease: { owner: 'A', expiresAt: '2030-01-01T00:00:00.000Z' } });
    const later = '2030-01-01T00:05:00.000Z';
    expect(fromDocument(toDocument(record), later)).toEqual({
      ...record,
      lease: { owner: 'A', expiresAt: later },
    });
  });
});
