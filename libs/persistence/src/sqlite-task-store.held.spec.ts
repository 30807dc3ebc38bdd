import { SqliteTaskStore } from './sqlite-task-store';
import { newRecord } from './task-store.contract';
import type { TaskRecord } from './task-record';

/**
 * listHeld is read by a tracker each time one of its nodes is due, over every task it holds: it
 * must parse a stored document only when that document changed since its last answer.
 */
describe('SqliteTaskStore.listHeld', () => {
  let store: SqliteTaskStore;
  let records: TaskRecord[];
  const byId = (list: TaskRecord[]) => new Map(list.map((r) => [r.id, r]));

  /** listHeld, and how many documents it parsed (JSON.parse calls during the read). */
  async function listHeld(
    owner: string,
  ): Promise<{ held: Map<string, TaskRecord>; parsed: number }> {
    const parse = jest.spyOn(JSON, 'parse');
    try {
      const held = byId(await store.listHeld(owner));
      return { held, parsed: parse.mock.calls.length };
    } finally {
      parse.mockRestore();
    }
  }

  beforeEach(async () => {
    store = new SqliteTaskStore({ path: ':memory:' });
    records = [1, 2, 3].map((n) => newRecord({ state: 'RUNNING', node: 'n0', remoteId: `r${n}` }));
    await store.createMany(records);
    await store.claim('A', 60_000, 10);
  });

  afterEach(() => store.close());

  it('parses each document once, and answers an unchanged task with the record built then', async () => {
    const first = await listHeld('A');
    expect(first.parsed).toBe(3);
    const again = await listHeld('A');
    expect(again.parsed).toBe(0);
    for (const { id } of records) expect(again.held.get(id)).toBe(first.held.get(id));
  });

  it('parses again only a changed document; a renewed lease shows without parsing', async () => {
    const first = await listHeld('A');
    const changed = first.held.get(records[0].id) as TaskRecord;
    await store.replace({ ...changed, remoteId: 'r1-moved' });
    const ended = first.held.get(records[1].id) as TaskRecord;
    await store.replace({ ...ended, state: 'COMPLETE' });
    const before = first.held.get(records[2].id)?.lease?.expiresAt;
    // Every lease is due for renewal a minute later.
    await store.claim('A', 60_000, 10, new Date(Date.now() + 59_000));

    const next = await listHeld('A');
    expect(next.parsed).toBe(1);
    expect(next.held.get(records[0].id)?.remoteId).toBe('r1-moved');
    // An ended task is no longer held.
    expect(next.held.has(records[1].id)).toBe(false);
    const renewed = next.held.get(records[2].id);
    expect(renewed).toEqual(await store.get(records[2].id));
    expect(renewed?.lease?.expiresAt).not.toBe(before);
    // Not copied for it: the record kept for the task has its lease extended in place.
    expect(renewed).toBe(first.held.get(records[2].id));
  });

  it('answers a second owner from its own reads', async () => {
    await listHeld('A');
    await store.release('A', [records[0].id]);
    await store.claim('B', 60_000, 10);
    const b = await listHeld('B');
    expect([...b.held.keys()]).toEqual([records[0].id]);
    expect(b.held.get(records[0].id)?.lease?.owner).toBe('B');
  });
});
