import { randomBytes } from 'node:crypto';
// Imported rather than global so that the production build (no jest types) compiles this file too.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { TERMINAL_STATES, TES_STATES } from '@protes/tes';
import {
  newTaskRecord,
  type TagFilter,
  type TaskLease,
  type TaskQuery,
  type TaskRecord,
} from './task-record';
import {
  InvalidPageTokenError,
  StaleVersionError,
  TaskExistsError,
  TaskNotFoundError,
  type TaskStore,
} from './task-store';
import { updateTask } from './task-updates';
import { encodePageToken } from './store-rules';

export interface ContractSubject {
  store: TaskStore;
  /**
   * Opens the same storage again, over a connection of its own as another process would have: for
   * the restart test (which closes `store` first) and the concurrent claims (which keep both open).
   */
  reopen: () => Promise<TaskStore>;
}

let lastId = 0;
/**
 * Stores require time-ordered ids (newer sorts after older); a zero-padded counter stands in for
 * the clock, and the random part for the rest of a ULID.
 */
export const nextId = (): string =>
  `${String(++lastId).padStart(10, '0')}${randomBytes(5).toString('hex')}`;

/** The value each list filter takes in everyListQuery; `after` is the id a page token names. */
export interface ListFilterValues {
  pageSize: number;
  owner: string;
  state: TaskQuery['state'];
  namePrefix: string;
  after: string;
}

/**
 * Every combination of the list filters (owner, state, name prefix, page token, with `values`)
 * with each of the tag filters given: 16 queries per tag variant.
 */
export function everyListQuery(
  tagVariants: readonly (TagFilter[] | undefined)[],
  values: ListFilterValues = {
    pageSize: 256,
    owner: 'alice',
    state: 'RUNNING',
    namePrefix: 'wf-',
    after: '01abc',
  },
): TaskQuery[] {
  return tagVariants.flatMap((tags) =>
    Array.from({ length: 16 }, (_, mask) => ({
      pageSize: values.pageSize,
      ...(tags && { tags }),
      ...(mask & 1 && { owner: values.owner }),
      ...(mask & 2 && { state: values.state }),
      ...(mask & 4 && { namePrefix: values.namePrefix }),
      ...(mask & 8 && { pageToken: encodePageToken(values.after) }),
    })),
  );
}

export function newRecord(fields: Partial<TaskRecord> = {}): TaskRecord {
  const task = { executors: [{ image: 'alpine', command: ['true'] }] };
  return { ...newTaskRecord(nextId(), 'alice', task), ...fields };
}

const tagFilters = (tags: Record<string, string>): TagFilter[] =>
  Object.entries(tags).map(([key, value]) => ({ key, value }));

const ids = (records: TaskRecord[]): string[] => records.map((r) => r.id);

function withoutLease(record: TaskRecord): TaskRecord {
  const copy = { ...record };
  delete copy.lease;
  return copy;
}
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
          lease: { owner: 'tracker-1', expiresAt: '2024-01-01T02:05:00.5+02:00' },
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

    describe('getState', () => {
      it('answers the id, owner and state that get answers, also after each change', async () => {
        const big = 'x'.repeat(64 * 1024);
        const record = newRecord({
          owner: 'bob',
          received: {
            executors: [{ image: 'alpine', command: ['true'] }],
            inputs: [{ path: '/in', content: big }],
          },
        });
        await store.create(record);
        expect(await store.getState(record.id)).toEqual({
          id: record.id,
          owner: 'bob',
          state: 'QUEUED',
        });
        let current = record;
        for (const state of ['RUNNING', 'COMPLETE'] as const) {
          current = await store.replace({ ...current, state });
          const got = await store.get(record.id);
          expect(await store.getState(record.id)).toEqual({
            id: got?.id,
            owner: got?.owner,
            state,
          });
        }
        expect(await store.getState(nextId())).toBeUndefined();
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

    describe('writes issued together', () => {
      it('settles each on its own: the refused ones write nothing, the others are all stored', async () => {
        const [existing, changed] = await createAll([newRecord(), newRecord()]);
        const fresh = Array.from({ length: 5 }, () => newRecord());
        // All issued in the same turn of the event loop, as the POSTs of one burst are.
        const outcomes = await Promise.allSettled([
          ...fresh.map((record) => store.create(record)),
          store.create({ ...existing, owner: 'mallory' }),
          store.replace({ ...changed, state: 'RUNNING' }),
          store.replace({ ...changed, state: 'CANCELED' }),
          store.replace(newRecord()),
        ]);
        const reasons = outcomes.map((o): unknown =>
          o.status === 'rejected' ? o.reason : undefined,
        );
        expect(reasons.slice(0, 5)).toEqual([
          undefined,
          undefined,
          undefined,
          undefined,
          undefined,
        ]);
        expect(reasons[5]).toBeInstanceOf(TaskExistsError);
        expect(reasons[6]).toBeUndefined();
        expect(reasons[7]).toBeInstanceOf(StaleVersionError);
        expect(reasons[8]).toBeInstanceOf(TaskNotFoundError);
        for (const record of fresh) expect(await store.get(record.id)).toEqual(record);
        expect(await store.get(existing.id)).toEqual(existing);
        expect(await store.get(changed.id)).toEqual({ ...changed, state: 'RUNNING', version: 2 });
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

    describe('leases', () => {
      // A fixed clock: the tests move it through the `now` parameter instead of sleeping.
      const T0 = new Date('2030-01-01T00:00:00.000Z');
      const MINUTE = 60_000;
      const at = (ms: number): Date => new Date(T0.getTime() + ms);
      const leaseOf = (owner: string, expiresInMs: number): TaskLease => ({
        owner,
        expiresAt: at(expiresInMs).toISOString(),
      });
      const unfinished = (count: number): Promise<TaskRecord[]> =>
        createAll(Array.from({ length: count }, () => newRecord({ state: 'RUNNING' })));

      it('claims free tasks: sets the lease, bumps the version, returns them as stored', async () => {
        const records = await unfinished(3);
        const claimed = await store.claim('A', MINUTE, 10, T0);
        expect(claimed).toEqual(
          records.map((r) => ({ ...r, lease: leaseOf('A', MINUTE), version: 2 })),
        );
        for (const record of claimed) expect(await store.get(record.id)).toEqual(record);
        expect(await store.listUnfinished()).toEqual(claimed);
      });

      it('lets nobody else claim a held task until its lease expires, then hands it over', async () => {
        const records = await unfinished(2);
        await store.claim('A', MINUTE, 10, T0);
        expect(await store.claim('B', MINUTE, 10, T0)).toEqual([]);
        expect(await store.claim('B', MINUTE, 10, at(MINUTE - 1))).toEqual([]);
        // At expiresAt the lease is over.
        const taken = await store.claim('B', MINUTE, 10, at(MINUTE));
        expect(taken).toEqual(
          records.map((r) => ({ ...r, lease: leaseOf('B', 2 * MINUTE), version: 3 })),
        );
        // A has lost them: it can neither renew them nor claim them back.
        expect(await store.renew('A', ids(records), MINUTE, at(MINUTE))).toEqual([]);
        expect(await store.claim('A', MINUTE, 10, at(MINUTE + 1))).toEqual([]);
        for (const record of taken) expect(await store.get(record.id)).toEqual(record);
      });

      it('renews the owner’s leases due within half a lease period, and returns only new tasks', async () => {
        const records = await unfinished(2);
        await store.claim('A', MINUTE, 10, T0);
        // Not due yet: nothing changes, nothing new comes back.
        expect(await store.claim('A', MINUTE, 10, at(MINUTE / 2 - 1))).toEqual([]);
        expect(await store.get(records[0].id)).toMatchObject({
          version: 2,
          lease: leaseOf('A', MINUTE),
        });
        // Due: renewed to the new expiry, still not returned. The renewal is the owner's, not a
        // write of each task: the versions stay, and a writer holding a task's record goes on.
        expect(await store.claim('A', 5 * MINUTE, 10, at(MINUTE / 2))).toEqual([]);
        const renewed = leaseOf('A', MINUTE / 2 + 5 * MINUTE);
        for (const record of records) {
          expect(await store.get(record.id)).toEqual({ ...record, lease: renewed, version: 2 });
        }
        // Every task it holds is kept past the first expiry, until the renewed one.
        expect(await store.claim('B', MINUTE, 10, at(5 * MINUTE))).toEqual([]);
        // Also once expired, as long as nobody else took them.
        await store.claim('A', MINUTE, 10, at(60 * MINUTE));
        expect(await store.claim('B', MINUTE, 10, at(60 * MINUTE + 1))).toEqual([]);
        expect((await store.listHeld('A')).map((r) => r.lease)).toEqual([
          leaseOf('A', 61 * MINUTE),
          leaseOf('A', 61 * MINUTE),
        ]);
      });

      it('claims at most `limit` new tasks, oldest first, on top of the owner’s own', async () => {
        const records = await unfinished(7);
        expect(ids(await store.claim('A', MINUTE, 2, T0))).toEqual(ids(records.slice(0, 2)));
        expect(ids(await store.claim('B', MINUTE, 2, T0))).toEqual(ids(records.slice(2, 4)));
        expect(ids(await store.claim('A', MINUTE, 2, T0))).toEqual(ids(records.slice(4, 6)));
        expect(await store.claim('C', MINUTE, 0, T0)).toEqual([]);
        expect(ids(await store.claim('C', MINUTE, 10, T0))).toEqual([records[6].id]);
        expect(await store.claim('C', MINUTE, 10, T0)).toEqual([]);
        expect((await store.get(records[4].id))?.lease).toEqual(leaseOf('A', MINUTE));
      });

      it('lists the unfinished tasks an owner holds, as stored, and follows their changes', async () => {
        const [a1, a2, b1, ended] = await createAll([
          newRecord({ state: 'RUNNING', lease: leaseOf('A', MINUTE) }),
          newRecord({ state: 'QUEUED', lease: leaseOf('A', -MINUTE) }),
          newRecord({ state: 'RUNNING', lease: leaseOf('B', MINUTE) }),
          newRecord({ state: 'COMPLETE', lease: leaseOf('A', MINUTE) }),
          newRecord({ state: 'RUNNING' }),
        ]);
        const sorted = async (owner: string): Promise<TaskRecord[]> =>
          (await store.listHeld(owner)).sort((x, y) => (x.id < y.id ? -1 : 1));
        // An expired lease nobody took over is still held. A lease expires with its owner's
        // latest one: a2, written with an expiry before a1's, shows a1's.
        expect(await sorted('A')).toEqual([a1, { ...a2, lease: a1.lease }]);
        expect(await sorted('B')).toEqual([b1]);
        expect(await sorted('C')).toEqual([]);
        // Every kind of change shows in the next call: the document, the lease, the end.
        const changed = await store.replace({ ...a1, systemLogs: ['changed'] });
        await store.renew('A', [a2.id], MINUTE, T0);
        expect(await sorted('A')).toEqual([
          changed,
          { ...a2, lease: leaseOf('A', MINUTE), version: 2 },
        ]);
        await store.replace({ ...changed, state: 'COMPLETE' });
        await store.release('A', [a2.id]);
        expect(await sorted('A')).toEqual([]);
        expect(await store.get(ended.id)).toEqual(ended);
        await expect(store.listHeld('')).rejects.toThrow(RangeError);
      });

      it('never claims a terminal task, whatever its lease', async () => {
        const terminal = [...TERMINAL_STATES];
        const records = await createAll([
          ...TES_STATES.map((state) => newRecord({ state })),
          ...terminal.map((state) => newRecord({ state, lease: leaseOf('B', -MINUTE) })),
          ...terminal.map((state) => newRecord({ state, lease: leaseOf('A', MINUTE) })),
        ]);
        const claimed = await store.claim('A', MINUTE, 100, T0);
        expect(ids(claimed)).toEqual(ids(records.filter((r) => !TERMINAL_STATES.has(r.state))));
        for (const record of records.filter((r) => TERMINAL_STATES.has(r.state))) {
          expect(await store.get(record.id)).toEqual(record);
        }
      });

      it('renews only the unfinished tasks the owner holds, and says which', async () => {
        const [a1, a2, b1, ended, free] = await createAll([
          newRecord({ state: 'RUNNING', lease: leaseOf('A', MINUTE) }),
          newRecord({ state: 'QUEUED', lease: leaseOf('A', MINUTE) }),
          newRecord({ state: 'RUNNING', lease: leaseOf('B', MINUTE) }),
          newRecord({ state: 'COMPLETE', lease: leaseOf('A', MINUTE) }),
          newRecord({ state: 'RUNNING' }),
        ]);
        const asked = [b1.id, a2.id, ended.id, free.id, nextId(), a1.id, a2.id];
        expect(await store.renew('A', asked, 2 * MINUTE, at(1000))).toEqual([a2.id, a1.id]);
        const renewed = leaseOf('A', 1000 + 2 * MINUTE);
        expect(await store.get(a1.id)).toEqual({ ...a1, lease: renewed, version: 2 });
        expect(await store.get(a2.id)).toEqual({ ...a2, lease: renewed, version: 2 });
        for (const record of [b1, free]) expect(await store.get(record.id)).toEqual(record);
        // The ended task is not written; its lease shows the owner's expiry, as every one does.
        expect(await store.get(ended.id)).toEqual({ ...ended, lease: renewed });
        expect(await store.renew('A', [], MINUTE, T0)).toEqual([]);
      });

      it('renews an expired lease that nobody has taken over', async () => {
        const [task] = await unfinished(1);
        await store.claim('A', MINUTE, 1, T0);
        expect(await store.renew('A', [task.id], MINUTE, at(5 * MINUTE))).toEqual([task.id]);
        expect(await store.claim('B', MINUTE, 1, at(5 * MINUTE + 1))).toEqual([]);
      });

      it('hands a dead owner’s tasks over in one claim each, shared among the live owners', async () => {
        const records = await unfinished(301);
        // A holds them all (a batch far above the limit the others claim with below).
        expect(await store.claim('A', MINUTE, 301, T0)).toHaveLength(301);
        const fresh = await createAll([newRecord({ state: 'QUEUED' })]);
        // B and C are alive, with leases that outlast A's; B takes the new task meanwhile.
        expect(ids(await store.claim('B', 10 * MINUTE, 10, T0))).toEqual(ids(fresh));
        expect(await store.claim('C', 10 * MINUTE, 10, T0)).toEqual([]);
        // A stops renewing. Once its lease expired, the first live owner to claim takes its part
        // of all the held tasks at once, whatever its limit, the oldest first; the next the rest.
        const byB = await store.claim('B', 10 * MINUTE, 10, at(MINUTE));
        expect(ids(byB)).toEqual(ids(records.slice(0, 150)));
        expect(byB.every((r) => r.lease?.owner === 'B' && r.version === 3)).toBe(true);
        const byC = await store.claim('C', 10 * MINUTE, 10, at(MINUTE));
        expect(ids(byC)).toEqual(ids(records.slice(150)));
        expect(await store.claim('B', 10 * MINUTE, 10, at(MINUTE))).toEqual([]);
        expect(await store.listHeld('A')).toEqual([]);
        expect((await store.listHeld('B')).length).toBe(151);
        expect((await store.listHeld('C')).length).toBe(151);
      });

      it('leaves a revived owner what was not taken over yet', async () => {
        const records = await unfinished(4);
        await store.claim('A', MINUTE, 4, T0);
        await store.claim('B', 10 * MINUTE, 0, T0);
        await store.claim('C', 10 * MINUTE, 0, T0);
        // B takes its half; A renews before C claims, and keeps the other half.
        expect(ids(await store.claim('B', 10 * MINUTE, 0, at(MINUTE)))).toEqual(
          ids(records.slice(0, 2)),
        );
        expect(await store.claim('A', MINUTE, 0, at(MINUTE))).toEqual([]);
        expect(await store.claim('C', 10 * MINUTE, 0, at(MINUTE))).toEqual([]);
        const heldByA = (await store.listHeld('A')).map((r) => r.id).sort();
        expect(heldByA).toEqual(ids(records.slice(2)));
      });

      it('releases the owner’s leases only, so that others may claim them at once', async () => {
        const [a1, a2, b1, ended] = await createAll([
          newRecord({ state: 'RUNNING', lease: leaseOf('A', MINUTE) }),
          newRecord({ state: 'RUNNING', lease: leaseOf('A', MINUTE) }),
          newRecord({ state: 'RUNNING', lease: leaseOf('B', MINUTE) }),
          newRecord({ state: 'COMPLETE', lease: leaseOf('A', MINUTE) }),
        ]);
        await store.release('A', [a1.id, b1.id, ended.id, nextId(), a1.id]);
        expect(await store.get(a1.id)).toEqual({ ...withoutLease(a1), version: 2 });
        expect(await store.get(ended.id)).toEqual({ ...withoutLease(ended), version: 2 });
        expect(await store.get(a2.id)).toEqual(a2);
        expect(await store.get(b1.id)).toEqual(b1);
        expect(ids(await store.claim('C', MINUTE, 10, T0))).toEqual([a1.id]);
        await expect(store.release('A', [])).resolves.toBeUndefined();
      });

      it('keeps the lease a record is written with, and compares it as an instant', async () => {
        // T0 + 1 h, written with an offset: as text it sorts after T0 + 1 h in UTC.
        const lease = { owner: 'A', expiresAt: '2030-01-01T02:00:00+01:00' };
        const record = newRecord({ state: 'RUNNING', lease });
        await store.create(record);
        expect(await store.get(record.id)).toEqual(record);
        expect(await store.claim('B', MINUTE, 1, at(60 * MINUTE - 1))).toEqual([]);

        const updated = await updateTask(store, record.id, (c) => ({ ...c, systemLogs: ['x'] }));
        expect(updated).toEqual({ ...record, systemLogs: ['x'], version: 2 });
        expect(ids(await store.claim('B', MINUTE, 1, at(60 * MINUTE)))).toEqual([record.id]);

        // A record written without its lease frees the task; one written with a lease takes it.
        const current = (await store.get(record.id)) as TaskRecord;
        const freed = await store.replace(withoutLease(current));
        expect(await store.get(record.id)).toEqual(freed);
        expect(ids(await store.claim('C', MINUTE, 1, T0))).toEqual([record.id]);
        const current2 = (await store.get(record.id)) as TaskRecord;
        await store.replace({ ...current2, lease: leaseOf('D', 10 * MINUTE) });
        expect(await store.claim('C', MINUTE, 1, at(10 * MINUTE - 1))).toEqual([]);
      });

      it('refuses a write based on the record as it was before a lease changed', async () => {
        const [task] = await unfinished(1);
        await store.claim('A', MINUTE, 1, T0);
        await expect(store.replace({ ...task, systemLogs: ['late'] })).rejects.toThrow(
          StaleVersionError,
        );
        const claimed = (await store.get(task.id)) as TaskRecord;
        await store.renew('A', [task.id], MINUTE, at(1000));
        await expect(store.replace(claimed)).rejects.toThrow(StaleVersionError);
        const renewed = (await store.get(task.id)) as TaskRecord;
        await store.release('A', [task.id]);
        await expect(store.replace(renewed)).rejects.toThrow(StaleVersionError);
        expect(await store.get(task.id)).toEqual({ ...task, version: 4 });
      });

      it('refuses arguments it cannot honour', async () => {
        const [task] = await unfinished(1);
        const bad: [string, () => Promise<unknown>][] = [
          ['empty owner', () => store.claim('', MINUTE, 1, T0)],
          ['zero lease', () => store.claim('A', 0, 1, T0)],
          ['fractional lease', () => store.claim('A', 1.5, 1, T0)],
          ['endless lease', () => store.claim('A', Number.MAX_SAFE_INTEGER, 1, T0)],
          ['negative limit', () => store.claim('A', MINUTE, -1, T0)],
          ['fractional limit', () => store.claim('A', MINUTE, 1.5, T0)],
          ['invalid now', () => store.claim('A', MINUTE, 1, new Date(NaN))],
          ['renew, empty owner', () => store.renew('', [task.id], MINUTE, T0)],
          ['renew, zero lease', () => store.renew('A', [task.id], 0, T0)],
          ['release, empty owner', () => store.release('', [task.id])],
          [
            'lease that is no date',
            () => store.replace({ ...task, lease: { owner: 'A', expiresAt: 'tomorrow' } }),
          ],
          [
            'lease without owner',
            () => store.replace({ ...task, lease: { owner: '', expiresAt: T0.toISOString() } }),
          ],
          [
            'new record with a lease that is no date',
            () => store.create(newRecord({ lease: { owner: 'A', expiresAt: '2030-01-01' } })),
          ],
        ];
        for (const [what, call] of bad) {
          const result = await call().then(String, (e: Error) => e.name);
          expect({ what, result }).toEqual({ what, result: 'RangeError' });
        }
        expect(await store.get(task.id)).toEqual(task);
        expect(await store.listUnfinished()).toEqual([task]);
      });

      it('keeps leases across a restart', async () => {
        const [task] = await unfinished(1);
        const [claimed] = await store.claim('A', MINUTE, 1, T0);
        await store.close();
        store = await subject.reopen();
        opened.push(store);
        expect(await store.get(task.id)).toEqual(claimed);
        expect(await store.claim('B', MINUTE, 1, at(MINUTE - 1))).toEqual([]);
        expect(await store.renew('A', [task.id], MINUTE, at(MINUTE - 1))).toEqual([task.id]);
      });

      it('never hands a task to two owners claiming at once over two connections', async () => {
        const records = await unfinished(200);
        const other = await subject.reopen();
        opened.push(other);
        // Claims in rounds of 10 new tasks; a round that brings nothing new means all are taken.
        const claimAll = async (claimer: TaskStore, owner: string): Promise<Set<string>> => {
          const held = new Set<string>();
          for (;;) {
            const batch = await claimer.claim(owner, MINUTE, 10, T0);
            expect(batch.filter((r) => r.lease?.owner !== owner)).toEqual([]);
            const fresh = ids(batch);
            expect(fresh.filter((id) => held.has(id))).toEqual([]);
            if (!fresh.length) return held;
            for (const id of fresh) held.add(id);
          }
        };
        const [a, b] = await Promise.all([claimAll(store, 'A'), claimAll(other, 'B')]);
        expect([...a].filter((id) => b.has(id))).toEqual([]);
        expect([...a, ...b].sort()).toEqual(ids(records));
        // Both took part, or the test proved nothing about concurrency.
        expect(a.size).toBeGreaterThan(0);
        expect(b.size).toBeGreaterThan(0);
        for (const record of await other.listUnfinished()) {
          expect(record.lease?.owner).toBe(a.has(record.id) ? 'A' : 'B');
        }
      });
    });

    it('lists pages of ids and states as JSON, exactly as the full list pages them', async () => {
      const states: TaskRecord['state'][] = ['QUEUED', 'RUNNING', 'COMPLETE'];
      await createAll(
        Array.from({ length: 9 }, (_, i) =>
          newRecord({ state: states[i % 3], name: `n${i % 2}`, tags: { k: String(i % 2) } }),
        ),
      );
      const queries: TaskQuery[] = [
        { pageSize: 4 },
        // The last page is full and nothing follows it: no token.
        { pageSize: 3 },
        { pageSize: 1 },
        { pageSize: 2, state: 'RUNNING' },
        { pageSize: 2, state: 'CANCELED' },
        { pageSize: 2, namePrefix: 'n1' },
        { pageSize: 2, tags: [{ key: 'k', value: '0' }] },
        { pageSize: 2, tags: [{ key: 'k', value: '' }], owner: 'alice', state: 'QUEUED' },
      ];
      for (const query of queries) {
        let pageToken: string | undefined;
        const walked: string[] = [];
        do {
          const full = await store.list({ ...query, pageToken });
          const minimal = await store.listStatesJson({ ...query, pageToken });
          // The very text the gateway used to send for these records, byte for byte.
          expect(minimal).toEqual({
            tasks: JSON.stringify(full.records.map(({ id, state }) => ({ id, state }))),
            ...(full.nextPageToken && { nextPageToken: full.nextPageToken }),
          });
          walked.push(...full.records.map((r) => r.id));
          pageToken = full.nextPageToken;
        } while (pageToken);
        const all = await store.list({ ...query, pageSize: 100 });
        expect(walked).toEqual(all.records.map((r) => r.id));
      }
      await expect(store.listStatesJson({ pageSize: 1, pageToken: 'x' })).rejects.toThrow(
        InvalidPageTokenError,
      );
      await expect(store.listStatesJson({ pageSize: 0 })).rejects.toThrow(RangeError);
    });

    it('answers every combination of filters as JSON, page after page, as the full list does', async () => {
      const states: TaskRecord['state'][] = ['QUEUED', 'RUNNING', 'COMPLETE'];
      const records = await createAll(
        Array.from({ length: 40 }, (_, i) =>
          newRecord({
            owner: i % 4 ? 'alice' : 'bob',
            state: states[i % 3],
            ...(i % 5 && { name: `wf-${i % 2}` }),
            tags: i % 2 ? { k: String(i % 3), j: '' } : { k: '1' },
          }),
        ),
      );
      const tagVariants = [
        undefined,
        [{ key: 'k', value: '1' }],
        [{ key: 'k', value: '' }],
        [
          { key: 'k', value: '1' },
          { key: 'j', value: '' },
        ],
      ];
      const queries = everyListQuery(tagVariants, {
        pageSize: 3,
        owner: 'alice',
        state: 'RUNNING',
        namePrefix: 'wf-1',
        after: records[33].id,
      });
      let pages = 0;
      for (const query of queries) {
        let pageToken = query.pageToken;
        do {
          const full = await store.list({ ...query, pageToken });
          expect(await store.listStatesJson({ ...query, pageToken })).toEqual({
            tasks: JSON.stringify(full.records.map(({ id, state }) => ({ id, state }))),
            ...(full.nextPageToken && { nextPageToken: full.nextPageToken }),
          });
          pageToken = full.nextPageToken;
          pages++;
        } while (pageToken);
      }
      // Many queries took more than one page, or the walk proved little about the tokens.
      expect(pages).toBeGreaterThan(2 * queries.length);
    });

    it('counts the unfinished tasks on each node, following every change', async () => {
      const records = await createAll([
        newRecord({ state: 'RUNNING', node: 'a' }),
        newRecord({ state: 'QUEUED', node: 'a' }),
        newRecord({ state: 'INITIALIZING', node: 'b' }),
        newRecord({ state: 'COMPLETE', node: 'b' }),
        newRecord({ state: 'QUEUED' }),
      ]);
      expect(await store.countActiveByNode()).toEqual(
        new Map([
          ['a', 2],
          ['b', 1],
        ]),
      );
      await store.replace({ ...records[0], state: 'EXECUTOR_ERROR' });
      await store.replace({ ...records[4], node: 'c' });
      await store.replace({ ...records[2], node: 'a' });
      expect(await store.countActiveByNode()).toEqual(
        new Map([
          ['a', 2],
          ['c', 1],
        ]),
      );
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
