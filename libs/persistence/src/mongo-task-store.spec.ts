import { createConnection } from 'mongoose';
import { MongoTaskStore, taskFilter } from './mongo-task-store';
import { describeTaskStoreContract } from './task-store.contract';
import { InvalidPageTokenError } from './task-store';

// MongoDB cannot run on the development machines; docker compose provides one and sets MONGO_URL.
const url = process.env.MONGO_URL;

if (url) {
  const run = `protes_contract_${process.pid}_${Date.now()}`;
  const databases: string[] = [];

  afterAll(async () => {
    const connection = await createConnection(url).asPromise();
    for (const name of databases) await connection.useDb(name).dropDatabase();
    await connection.close();
  });

  describeTaskStoreContract('MongoTaskStore', async () => {
    // A database per test, so that every test starts from an empty store.
    const dbName = `${run}_${databases.length}`;
    databases.push(dbName);
    const connect = () => MongoTaskStore.connect(url, { dbName });
    return { store: await connect(), reopen: connect };
  });
} else {
  console.warn('MONGO_URL not set: MongoDB contract suite skipped');
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
