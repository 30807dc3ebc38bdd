import { randomBytes } from 'node:crypto';
// Imported rather than global so that the production build (no jest types) compiles this file too.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { TERMINAL_STATES, TES_STATES } from '@protes/tes';
import type { TagFilter, TaskQuery, TaskRecord } from './task-record';
import {
  InvalidPageTokenError,
  StaleVersionError,
  TaskExistsError,
  TaskNotFoundError,
  type TaskStore,
} from './task-store';
import { updateTask } from './task-updates';

export interface ContractSubject {
  store: TaskStore;
  /** Opens the same storage again, for the restart test; the contract closes `store` first. */
  reopen: () => Promise<TaskStore>;
}

let lastId = 0;
/**
 * Stores require time-ordered ids (newer sorts after older); a zero-padded counter stands in for
 * the clock, and the random part for the rest of a ULID.
 */
export const nextId = (): string =>
  `${String(++lastId).padStart(10, '0')}${randomBytes(5).toString('hex')}`;

export function newRecord(fields: Partial<TaskRecord> = {}): TaskRecord {
  const now = new Date().toISOString();
  return {
    id: nextId(),
    owner: 'alice',
    state: 'QUEUED',
    tags: {},
    received: { executors: [{ image: 'alpine', command: ['true'] }] },
    attempts: [],
    remoteLogs: [],
    systemLogs: [],
    cancelRequested: false,
    createdAt: now,
    updatedAt: now,
    version: 1,
    ...fields,
  };
}

const tagFilters = (tags: Record<string, string>): TagFilter[] =>
  Object.entries(tags).map(([key, value]) => ({ key, value }));

const ids = (records: TaskRecord[]): string[] => records.map((r) => r.id);
const newestFirst = (records: TaskRecord[]): string[] => ids(records).reverse();

/** Every id that a walk through all pages returns, in order. */
async function walk(
  store: TaskStore,
  query: TaskQuery,
  betweenPages?: () => Promise<void>,
): Promise<string[]> {
  const seen: string[] = [];
  let pageToken: string | undefined;
  do {
    const page = await store.list({ ...query, pageToken });
    expect(page.records.length).toBeLessThanOrEqual(query.pageSize);
    seen.push(...ids(page.records));
    pageToken = page.nextPageToken;
    await betweenPages?.();
  } while (pageToken);
  return seen;
}

/**
 * The behaviour every TaskStore adapter must show, declared once and run by each adapter's spec.
 * `open` must give a fresh, empty store on every call.
 */
export function describeTaskStoreContract(
  name: string,
  open: () => Promise<ContractSubject>,
): void {
  describe(`${name} (TaskStore contract)`, () => {
    let subject: ContractSubject;
    let store: TaskStore;
    const opened: TaskStore[] = [];

    beforeEach(async () => {
      subject = await open();
      store = subject.store;
      opened.push(store);
    });

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    const createAll = async (records: TaskRecord[]): Promise<TaskRecord[]> => {
      for (const record of records) await store.create(record);
      return records;
    };

    describe('create and get', () => {
      it('gives back exactly what was stored', async () => {
        const record = newRecord({
          name: 'full record ✓',
          state: 'RUNNING',
          // Keys MongoDB would not take as field names.
          tags: { 'a.b': 'c', $x: 'y', empty: '' },
          received: {
            name: 'full record ✓',
            executors: [
              { image: 'alpine', command: ['sh', '-c', 'echo $HOME'], env: { 'A.B': '1' } },
            ],
            resources: { backend_parameters: { $where: 'x' } },
          },
          forwarded: { executors: [{ image: 'alpine', command: ['true'] }] },
          node: 'node-a',
          remoteId: 'remote-1',
          attempts: [
            { node: 'node-b', at: '2024-01-01T00:00:00Z', error: 'ECONNREFUSED' },
            { node: 'node-a', at: '2024-01-01T00:00:01Z', remoteId: 'remote-1' },
          ],
          remoteLogs: [{ logs: [{ exit_code: 0 }], outputs: [], metadata: { 'k.1': 'v' } }],
          systemLogs: ['forwarded to node-a'],
          cancelRequested: true,
          endedAt: '2024-01-01T00:01:00Z',
        });
        await store.create(record);
        expect(await store.get(record.id)).toEqual(record);
      });

      it('answers undefined for an unknown id', async () => {
        await store.create(newRecord());
        expect(await store.get(nextId())).toBeUndefined();
      });

      it('refuses a second record with the same id and keeps the first', async () => {
        const first = newRecord({ owner: 'alice' });
        await store.create(first);
        await expect(store.create({ ...first, owner: 'mallory' })).rejects.toThrow(TaskExistsError);
        expect(await store.get(first.id)).toEqual(first);
      });

      it('refuses a new record whose version is not 1', async () => {
        const record = newRecord({ version: 2 });
        await expect(store.create(record)).rejects.toThrow(RangeError);
        expect(await store.get(record.id)).toBeUndefined();
      });
    });

    describe('replace', () => {
      it('stores the record with the version bumped and the caller’s updatedAt', async () => {
        const record = newRecord();
        await store.create(record);
        const next = {
          ...record,
          state: 'RUNNING' as const,
          name: 'renamed',
          tags: { k: 'v' },
          systemLogs: ['started'],
          updatedAt: '2030-01-01T00:00:00.000Z',
        };
        const stored = await store.replace(next);
        expect(stored).toEqual({ ...next, version: 2 });
        expect(await store.get(record.id)).toEqual(stored);
        // The indexed copies follow the record, not only the document.
        const page = await store.list({
          pageSize: 10,
          state: 'RUNNING',
          namePrefix: 'ren',
          tags: [{ key: 'k', value: 'v' }],
        });
        expect(ids(page.records)).toEqual([record.id]);
        expect(await store.list({ pageSize: 10, state: 'QUEUED' })).toEqual({ records: [] });
      });

      it('refuses a stale version and writes nothing', async () => {
        const record = newRecord();
        await store.create(record);
        const winner = await store.replace({ ...record, state: 'RUNNING' });
        await expect(store.replace({ ...record, state: 'CANCELED' })).rejects.toThrow(
          StaleVersionError,
        );
        expect(await store.get(record.id)).toEqual(winner);
        expect(await store.listUnfinished()).toEqual([winner]);
      });

      it('says when the task does not exist', async () => {
        await expect(store.replace(newRecord())).rejects.toThrow(TaskNotFoundError);
      });
    });

    describe('updateTask', () => {
      it('loses none of 20 concurrent updates', async () => {
        const record = newRecord();
        await store.create(record);
        const lines = Array.from({ length: 20 }, (_, i) => `line ${i}`);
        await Promise.all(
          lines.map((line) =>
            updateTask(store, record.id, (current) => ({
              ...current,
              systemLogs: [...current.systemLogs, line],
            })),
          ),
        );
        const final = await store.get(record.id);
        expect([...(final?.systemLogs ?? [])].sort()).toEqual([...lines].sort());
        expect(final?.version).toBe(21);
      });

      it('writes nothing when the mutation has nothing to change', async () => {
        const record = newRecord();
        await store.create(record);
        expect(await updateTask(store, record.id, () => undefined)).toEqual(record);
        expect((await store.get(record.id))?.version).toBe(1);
      });

      it('answers undefined for an unknown task', async () => {
        expect(await updateTask(store, nextId(), (r) => r)).toBeUndefined();
      });
    });

    describe('list filters', () => {
      it('filters by owner', async () => {
        const [a1, , a2] = await createAll([
          newRecord({ owner: 'alice' }),
          newRecord({ owner: 'bob' }),
          newRecord({ owner: 'alice' }),
          newRecord({ owner: 'alice2' }),
        ]);
        const page = await store.list({ owner: 'alice', pageSize: 10 });
        expect(ids(page.records)).toEqual([a2.id, a1.id]);
      });

      it('takes the name prefix literally', async () => {
        const names = // Split on spaces to keep the list readable; none of the names has one.
          'a%b a%bc axb a_b aXb a.*b a.* ab a[1 a[ a\\b a(b a+b a$ a^b a|b a{1} A%b %b .* a\u{10FFFF}z a\0b é*'.split(
            ' ',
          );
        const records = await createAll([
          ...names.map((n) => newRecord({ name: n })),
          newRecord(), // no name at all
        ]);
        const prefixes =
          'a% a_ a.* a[ a\\ a( a+ a$ a^ a| a{1 % .* . * a A a\u{10FFFF} a\0 é é* zzz'.split(' ');
        for (const namePrefix of prefixes) {
          const page = await store.list({ namePrefix, pageSize: 100 });
          const expected = records.filter((r) => r.name?.startsWith(namePrefix));
          expect({ namePrefix, ids: ids(page.records) }).toEqual({
            namePrefix,
            ids: newestFirst(expected),
          });
        }
      });

      it('filters by state', async () => {
        const records = await createAll(TES_STATES.map((state) => newRecord({ state })));
        for (const state of TES_STATES) {
          const page = await store.list({ state, pageSize: 100 });
          expect(page.records).toEqual(records.filter((r) => r.state === state));
        }
      });

      // The table from the TES 1.1 specification of tag_key/tag_value.
      const tagCases: [Record<string, string>, Record<string, string>, boolean][] = [
        [{ foo: 'bar' }, { foo: 'bar' }, true],
        [{ foo: 'bar' }, { foo: 'bat' }, false],
        [{ foo: '' }, { foo: '' }, true],
        [{ foo: 'bar', baz: 'bat' }, { foo: 'bar', baz: 'bat' }, true],
        [{ foo: 'bar' }, { foo: 'bar', baz: 'bat' }, true],
        [{ foo: 'bar', baz: 'bat' }, { foo: 'bar' }, false],
        [{ foo: '' }, { foo: 'bar' }, true],
        [{ foo: '' }, {}, false],
        // Key and value must come from the same tag.
        [{ foo: 'bar' }, { foo: 'x', bar: 'bar' }, false],
        [{ 'a.b': 'c', $x: '' }, { 'a.b': 'c', $x: 'y' }, true],
      ];
      it.each(tagCases)(
        'tag filter %j against tags %j matches: %s',
        async (filter, tags, matches) => {
          const task = newRecord({ tags });
          await createAll([newRecord({ tags: { other: 'bar' } }), task]);
          const page = await store.list({ tags: tagFilters(filter), pageSize: 10 });
          expect(ids(page.records)).toEqual(matches ? [task.id] : []);
        },
      );

      it('combines every filter', async () => {
        const match = {
          owner: 'alice',
          state: 'RUNNING' as const,
          name: 'align-1',
          tags: { project: 'p1', run: '7' },
        };
        const [m1, , , , , m2] = await createAll([
          newRecord(match),
          newRecord({ ...match, owner: 'bob' }),
          newRecord({ ...match, state: 'QUEUED' }),
          newRecord({ ...match, name: 'call-1' }),
          newRecord({ ...match, tags: { project: 'p2', run: '7' } }),
          newRecord({ ...match, name: 'align-2' }),
        ]);
        const page = await store.list({
          owner: 'alice',
          state: 'RUNNING',
          namePrefix: 'align',
          tags: [
            { key: 'project', value: 'p1' },
            { key: 'run', value: '' },
          ],
          pageSize: 10,
        });
        expect(ids(page.records)).toEqual([m2.id, m1.id]);
      });
    });

    describe('paging', () => {
      it('lists newest first, with a token only while more records remain', async () => {
        const records = await createAll(Array.from({ length: 7 }, () => newRecord()));
        const all = newestFirst(records);

        const first = await store.list({ pageSize: 3 });
        expect(ids(first.records)).toEqual(all.slice(0, 3));
        expect(first.nextPageToken).toEqual(expect.any(String));
        const second = await store.list({ pageSize: 3, pageToken: first.nextPageToken });
        expect(ids(second.records)).toEqual(all.slice(3, 6));
        const last = await store.list({ pageSize: 3, pageToken: second.nextPageToken });
        expect(last).toEqual({ records: [records[0]] });

        expect((await store.list({ pageSize: 7 })).nextPageToken).toBeUndefined();
        expect((await store.list({ pageSize: 100 })).nextPageToken).toBeUndefined();
      });

      it('answers an empty page for an empty store', async () => {
        expect(await store.list({ pageSize: 10 })).toEqual({ records: [] });
      });

      it('walks every record exactly once, whatever the page size', async () => {
        const records = await createAll(
          Array.from({ length: 11 }, (_, i) => newRecord({ owner: i % 3 ? 'alice' : 'bob' })),
        );
        for (const pageSize of [1, 2, 3, 5, 10, 11, 12]) {
          expect(await walk(store, { pageSize })).toEqual(newestFirst(records));
          expect(await walk(store, { pageSize, owner: 'alice' })).toEqual(
            newestFirst(records.filter((r) => r.owner === 'alice')),
          );
        }
      });

      it('neither repeats nor drops records when tasks are created during the walk', async () => {
        const records = await createAll(Array.from({ length: 10 }, () => newRecord()));
        const seen = await walk(store, { pageSize: 3 }, async () => {
          await createAll([newRecord(), newRecord()]);
        });
        expect(seen).toEqual(newestFirst(records));
      });

      it('refuses a page token it did not issue', async () => {
        await createAll([newRecord(), newRecord()]);
        const { nextPageToken } = await store.list({ pageSize: 1 });
        const forged = [
          'garbage',
          'not base64!',
          '',
          Buffer.from('nope').toString('base64url'),
          Buffer.from('p1:').toString('base64url'),
          Buffer.from([0x70, 0x31, 0x3a, 0xff]).toString('base64url'),
          `${nextPageToken}==`,
          `${nextPageToken}.`,
        ];
        for (const pageToken of forged) {
          await expect(store.list({ pageSize: 1, pageToken })).rejects.toThrow(
            InvalidPageTokenError,
          );
        }
      });

      it('refuses a page size below 1', async () => {
        await expect(store.list({ pageSize: 0 })).rejects.toThrow(RangeError);
      });
    });

    it('lists exactly the unfinished tasks, oldest first', async () => {
      const records = await createAll(
        [...TES_STATES, ...TES_STATES].map((state) => newRecord({ state })),
      );
      expect(await store.listUnfinished()).toEqual(
        records.filter((r) => !TERMINAL_STATES.has(r.state)),
      );
    });

    it('answers a ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('keeps everything across a restart', async () => {
      const records = await createAll([
        newRecord({ name: 'one', tags: { k: 'v' } }),
        newRecord({ owner: 'bob', state: 'COMPLETE' }),
        newRecord({ state: 'RUNNING' }),
      ]);
      const changed = await store.replace({ ...records[2], systemLogs: ['before restart'] });
      const before = [records[0], records[1], changed];
      await store.close();

      store = await subject.reopen();
      opened.push(store);
      for (const record of before) expect(await store.get(record.id)).toEqual(record);
      expect((await store.list({ pageSize: 10 })).records).toEqual([...before].reverse());
      expect(
        ids((await store.list({ pageSize: 10, tags: [{ key: 'k', value: 'v' }] })).records),
      ).toEqual([records[0].id]);
      expect(await store.listUnfinished()).toEqual([records[0], changed]);
      // Versions carry on where they were.
      await expect(store.replace(changed)).resolves.toMatchObject({ version: 3 });
      await expect(store.replace(records[2])).rejects.toThrow(StaleVersionError);
    });
  });
}
