import { Logger } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Actor,
  needsForwarding,
  newTaskRecord,
  type TaskLease,
  TaskLifecycle,
  type TaskPage,
  type TaskStatesJson,
  type TaskQuery,
  type TaskRecord,
  type TaskStateOf,
  TaskStore,
  TransitionRefusedError,
} from '@protes/core';
import { SqliteTaskStore } from './sqlite-task-store';
import { nextId } from './task-store.contract';
import { TaskExistsError } from './task-store';

/*
 * TaskLifecycle against a real store (SQLite; the lifecycle sits in @protes/core, which must not
 * depend on an adapter, so this spec lives with the adapters). The table itself is tested
 * exhaustively, without any store, in libs/core/src/lifecycle/transition.spec.ts.
 */

const GATEWAY: Actor = { kind: 'gateway', id: 'g1' };
const TRACKER: Actor = { kind: 'tracker', id: 't1' };
const TASK = { executors: [{ image: 'alpine', command: ['true'] }] };
const POLICY = { nodes: ['a', 'b'], maxResubmissions: 2 };

const dir = mkdtempSync(join(tmpdir(), 'protes-lifecycle-'));
let files = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// Refusals are logged at debug level; the tests below make plenty on purpose.
beforeAll(() => {
  Logger.overrideLogger(['error', 'warn']);
});

const forwardedTo = (node: string, remoteId: string) => ({
  node,
  remoteId,
  task: TASK,
  attempts: [{ node, at: new Date().toISOString(), remoteId }],
  decisions: [],
});

describe('TaskLifecycle', () => {
  let store: SqliteTaskStore;
  let lifecycle: TaskLifecycle;
  beforeEach(() => {
    store = new SqliteTaskStore({ path: ':memory:' });
    lifecycle = new TaskLifecycle(store);
  });
  afterEach(() => store.close());

  const accepted = () => lifecycle.accept(newTaskRecord(nextId(), 'alice', TASK), GATEWAY);
  const running = async () => {
    const { id } = await accepted();
    await lifecycle.forwarded(id, forwardedTo('a', 'r1'), GATEWAY);
    return lifecycle.observed(
      id,
      { node: 'a', remoteId: 'r1', state: 'RUNNING', logs: [] },
      TRACKER,
    );
  };

  it('stores a new task with its first history entry', async () => {
    const record = await accepted();
    expect(await store.get(record.id)).toEqual(record);
    expect(record).toMatchObject({ state: 'QUEUED', version: 1 });
    expect(record.history).toEqual([
      { event: 'accepted', to: 'QUEUED', at: expect.any(String), by: GATEWAY },
    ]);
  });

  it('refuses to accept a record that is not new, or an id that is taken', async () => {
    const record = await accepted();
    await expect(lifecycle.accept({ ...record, history: [] }, GATEWAY)).rejects.toThrow(
      TaskExistsError,
    );
    await expect(lifecycle.accept(record, GATEWAY)).rejects.toThrow(TransitionRefusedError);
  });

  it('writes each command through the table, one version per change', async () => {
    const { id } = await accepted();
    const forwarded = await lifecycle.forwarded(id, forwardedTo('a', 'r1'), GATEWAY);
    expect(forwarded).toMatchObject({ state: 'QUEUED', node: 'a', remoteId: 'r1', version: 2 });
    const logs = [{ logs: [{ exit_code: 0 }], outputs: [] }];
    const done = await lifecycle.observed(
      id,
      { node: 'a', remoteId: 'r1', state: 'COMPLETE', logs },
      TRACKER,
    );
    expect(done).toMatchObject({ state: 'COMPLETE', remoteLogs: logs, version: 3 });
    expect(await store.get(id)).toEqual(done);
    expect(done?.history?.map((e) => [e.event, e.to, e.by])).toEqual([
      ['accepted', 'QUEUED', GATEWAY],
      ['forwarded', 'QUEUED', GATEWAY],
      ['observed', 'COMPLETE', TRACKER],
    ]);
  });

  it('writes nothing and returns undefined when the table refuses; apply says why', async () => {
    const record = await running();
    const done = await lifecycle.observed(
      record!.id,
      { node: 'a', remoteId: 'r1', state: 'COMPLETE', logs: [] },
      TRACKER,
    );
    expect(await lifecycle.requestCancel(done!.id, GATEWAY)).toBeUndefined();
    expect(await lifecycle.apply(done!.id, { kind: 'cancelRequested' }, GATEWAY)).toEqual({
      outcome: 'refused',
      record: done,
      reason: 'the task ended COMPLETE: a terminal state is final',
    });
    expect(await store.get(done!.id)).toEqual(done);
  });

  it('writes nothing for an event that changes nothing, and returns the record', async () => {
    const record = await running();
    const canceling = await lifecycle.requestCancel(record!.id, GATEWAY);
    expect(canceling).toMatchObject({ state: 'CANCELING', cancelRequested: true });
    expect(await lifecycle.requestCancel(record!.id, GATEWAY)).toEqual(canceling);
    expect((await store.get(record!.id))?.version).toBe(canceling?.version);
  });

  it('answers undefined, and apply `missing`, for an unknown id', async () => {
    expect(await lifecycle.requestCancel('nope', GATEWAY)).toBeUndefined();
    expect(await lifecycle.apply('nope', { kind: 'cancelRequested' }, GATEWAY)).toEqual({
      outcome: 'missing',
    });
  });

  it('resubmits a lost task while the policy allows, then ends it', async () => {
    const record = await running();
    const id = record!.id;
    const loss = { node: 'a', remoteId: 'r1', lostAs: 'PREEMPTED' as const, reason: 'reclaimed' };
    const requeued = await lifecycle.lost(id, loss, POLICY, TRACKER);
    expect(requeued).toMatchObject({ state: 'QUEUED' });
    expect(needsForwarding(requeued!)).toBe(true);
    expect(requeued?.history?.at(-1)).toMatchObject({ event: 'resubmitted', node: 'a' });

    await lifecycle.forwarded(id, forwardedTo('b', 'r2'), TRACKER);
    const ended = await lifecycle.lost(id, { ...loss, node: 'b', remoteId: 'r2' }, POLICY, TRACKER);
    // Both nodes tried: the second loss ends the task.
    expect(ended).toMatchObject({ state: 'SYSTEM_ERROR', node: 'b' });
    expect(needsForwarding(ended!)).toBe(false);
    expect(ended?.history?.at(-1)).toMatchObject({ event: 'lost', to: 'SYSTEM_ERROR' });
    expect(ended?.attempts.map((a) => a.lostAs)).toEqual(['PREEMPTED', 'PREEMPTED']);
  });

  it('reports which of several events it applied', async () => {
    const record = await running();
    const loss = { node: 'a', remoteId: 'r1', lostAs: 'SYSTEM_ERROR' as const, reason: 'gone' };
    const result = await lifecycle.apply(
      record!.id,
      [
        { kind: 'resubmitted', ...loss, nodes: ['a'], maxResubmissions: 2 },
        { kind: 'lost', ...loss },
      ],
      TRACKER,
    );
    expect(result).toMatchObject({ outcome: 'applied', event: 'lost' });
  });
});

/**
 * A store that lets a test act between the lifecycle's read and its write, as another process
 * would: `beforeNextReplace` runs once, just before the next replace reaches the real store.
 */
class InterleavingStore extends TaskStore {
  beforeNextReplace?: () => Promise<void>;
  constructor(private readonly inner: TaskStore) {
    super();
  }
  create(record: TaskRecord): Promise<void> {
    return this.inner.create(record);
  }
  get(id: string): Promise<TaskRecord | undefined> {
    return this.inner.get(id);
  }
  getState(id: string): Promise<TaskStateOf | undefined> {
    return this.inner.getState(id);
  }
  list(query: TaskQuery): Promise<TaskPage> {
    return this.inner.list(query);
  }
  async replace(next: TaskRecord): Promise<TaskRecord> {
    const hook = this.beforeNextReplace;
    this.beforeNextReplace = undefined;
    await hook?.();
    return this.inner.replace(next);
  }
  listStatesJson(query: TaskQuery): Promise<TaskStatesJson> {
    return this.inner.listStatesJson(query);
  }
  countActiveByNode(): Promise<Map<string, number>> {
    return this.inner.countActiveByNode();
  }
  listUnfinished(): Promise<TaskRecord[]> {
    return this.inner.listUnfinished();
  }
  listHeld(owner: string): Promise<TaskRecord[]> {
    return this.inner.listHeld(owner);
  }
  claim(owner: string, leaseMs: number, limit: number, now?: Date): Promise<TaskRecord[]> {
    return this.inner.claim(owner, leaseMs, limit, now);
  }
  renew(owner: string, ids: string[], leaseMs: number, now?: Date): Promise<string[]> {
    return this.inner.renew(owner, ids, leaseMs, now);
  }
  release(owner: string, ids: string[]): Promise<void> {
    return this.inner.release(owner, ids);
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('TaskLifecycle with concurrent writers', () => {
  // Two connections to one file stand in for a gateway and a tracker in two processes.
  let gatewayStore: SqliteTaskStore;
  let trackerStore: SqliteTaskStore;
  let gateway: TaskLifecycle;
  let tracker: TaskLifecycle;
  beforeEach(() => {
    const path = join(dir, `tasks-${++files}.db`);
    gatewayStore = new SqliteTaskStore({ path });
    trackerStore = new SqliteTaskStore({ path });
    gateway = new TaskLifecycle(gatewayStore);
    tracker = new TaskLifecycle(trackerStore);
  });
  afterEach(async () => {
    await gatewayStore.close();
    await trackerStore.close();
  });

  const runningTask = async (): Promise<string> => {
    const { id } = await gateway.accept(newTaskRecord(nextId(), 'alice', TASK), GATEWAY);
    await gateway.forwarded(id, forwardedTo('a', 'r1'), GATEWAY);
    await tracker.observed(id, { node: 'a', remoteId: 'r1', state: 'RUNNING', logs: [] }, TRACKER);
    return id;
  };

  it('checks the table again on the record it writes over, after losing a race', async () => {
    const id = await runningTask();
    const interleaving = new InterleavingStore(trackerStore);
    // The client cancels between the tracker's read (RUNNING) and its write.
    interleaving.beforeNextReplace = async () => {
      await gateway.requestCancel(id, GATEWAY);
    };
    const stored = await new TaskLifecycle(interleaving).observed(
      id,
      { node: 'a', remoteId: 'r1', state: 'INITIALIZING', logs: [] },
      TRACKER,
    );
    // Read again, the cancel is pending: the node's non-terminal state is shown as CANCELING.
    expect(stored).toMatchObject({ state: 'CANCELING', cancelRequested: true });
    expect(stored?.history?.map((e) => e.event)).toEqual([
      'accepted',
      'forwarded',
      'observed',
      'cancelRequested',
    ]);
  });

  it('refuses, on the retry, what the other writer made impossible', async () => {
    const id = await runningTask();
    const interleaving = new InterleavingStore(gatewayStore);
    interleaving.beforeNextReplace = async () => {
      await tracker.observed(
        id,
        { node: 'a', remoteId: 'r1', state: 'COMPLETE', logs: [] },
        TRACKER,
      );
    };
    expect(await new TaskLifecycle(interleaving).requestCancel(id, GATEWAY)).toBeUndefined();
    expect(await gatewayStore.get(id)).toMatchObject({
      state: 'COMPLETE',
      cancelRequested: false,
    });
  });

  it('loses no event when gateways and trackers write one task at once', async () => {
    const { id } = await gateway.accept(newTaskRecord(nextId(), 'alice', TASK), GATEWAY);
    const decision = (i: number) => ({
      entry: i,
      middleware: `m${i}`,
      outcome: 'applied' as const,
      order: ['a'],
      ms: 0,
    });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? gateway : tracker).routed(
          id,
          { decisions: [decision(i)], candidates: ['a'] },
          i % 2 ? GATEWAY : TRACKER,
        ),
      ),
    );
    const stored = await gatewayStore.get(id);
    expect(stored?.decisions?.map((d) => d.entry).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    );
    expect(stored?.history).toHaveLength(21);
    expect(stored?.version).toBe(21);
  });

  it('ends every task the same way, whichever of a cancel and a completion wins', async () => {
    const ids = await Promise.all(Array.from({ length: 10 }, runningTask));
    await Promise.all(
      ids.flatMap((id) => [
        gateway.requestCancel(id, GATEWAY),
        tracker.observed(id, { node: 'a', remoteId: 'r1', state: 'COMPLETE', logs: [] }, TRACKER),
      ]),
    );
    for (const id of ids) {
      const stored = await gatewayStore.get(id);
      expect(stored).toMatchObject({ state: 'COMPLETE', cancelRequested: false });
      const events = stored?.history?.map((e) => e.event) ?? [];
      // The cancel either came first (then the completion ended it) or was refused.
      expect([
        ['accepted', 'forwarded', 'observed', 'observed'],
        ['accepted', 'forwarded', 'observed', 'cancelRequested', 'observed'],
      ]).toContainEqual(events);
      expect(stored?.version).toBe(events.length);
    }
  });

  it('keeps a lease taken meanwhile: the lifecycle writes over the fresh record', async () => {
    const id = await runningTask();
    const [claimed] = await trackerStore.claim('t1', 60_000, 10);
    expect(claimed?.id).toBe(id);
    const lease: TaskLease | undefined = claimed?.lease;
    const stored = await gateway.requestCancel(id, GATEWAY);
    expect(stored?.lease).toEqual(lease);
  });
});
