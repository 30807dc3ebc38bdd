import { Test, type TestingModule } from '@nestjs/testing';
import { loadConfig, ProtesConfigModule } from '@protes/config';
import {
  PersistenceModule,
  SqliteTaskStore,
  type TaskRecord,
  TaskStore,
} from '@protes/persistence';
import { newRecord } from '@protes/persistence/task-store.contract';
import type { TesState } from '@protes/tes';
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TrackerService } from './tracker.service';
import { TrackingModule } from './tracking.module';

/**
 * A TES node that lists its tasks (one page, MINIMAL) and answers GET of one task (FULL), counting
 * both. A fake rather than the simulator, which is an app and out of a library's reach.
 */
class FakeNode {
  readonly states = new Map<string, TesState>();
  lists = 0;
  gets = 0;
  url = '';
  private server!: Server;

  static async start(): Promise<FakeNode> {
    const node = new FakeNode();
    node.server = createServer((req, res) => node.answer(req, res));
    await new Promise<void>((resolve) => node.server.listen(0, '127.0.0.1', resolve));
    node.url = `http://127.0.0.1:${(node.server.address() as AddressInfo).port}/ga4gh/tes/v1`;
    return node;
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://node').pathname;
    const id = /\/tasks\/([^/]+)$/.exec(path)?.[1];
    let body: unknown;
    if (path.endsWith('/tasks')) {
      this.lists++;
      body = { tasks: [...this.states].map(([task, state]) => ({ id: task, state })) };
    } else if (id && this.states.has(id)) {
      this.gets++;
      body = { id, state: this.states.get(id), executors: [], logs: [] };
    }
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { msg: 'not found' }));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The real SQLite store, counting the reads of held tasks and the records written. */
class CountingStore extends SqliteTaskStore {
  heldReads = 0;
  writes = 0;

  override listHeld(owner: string): Promise<TaskRecord[]> {
    this.heldReads++;
    return super.listHeld(owner);
  }

  override replace(next: TaskRecord): Promise<TaskRecord> {
    this.writes++;
    return super.replace(next);
  }
}

describe('TrackerService rounds', () => {
  let node: FakeNode;
  let store: CountingStore;
  /** The tracker modules of the test, closed after it (which closes the store). */
  let modules: TestingModule[];
  let tracker: TrackerService;
  let tasks: TaskRecord[];

  beforeEach(async () => {
    node = await FakeNode.start();
    store = new CountingStore({ path: ':memory:' });
    tasks = ['r1', 'r2', 'r3'].map((remoteId) =>
      newRecord({ state: 'RUNNING', node: 'n0', remoteId }),
    );
    for (const task of tasks) {
      await store.create(task);
      node.states.set(task.remoteId ?? '', 'RUNNING');
    }
    modules = [];
    // Long poll intervals: a node polled once is not due again within the test.
    tracker = await compileTracker(60_000);
  });

  /** A tracker on the store and node, with poll intervals of `pollMs`. */
  async function compileTracker(pollMs: number): Promise<TrackerService> {
    const env = {
      PROTES_NODES: JSON.stringify([{ name: 'n0', url: node.url }]),
      PROTES_TRACKER__MIN_POLL_MS: String(pollMs),
      PROTES_TRACKER__MAX_POLL_MS: String(pollMs),
    };
    // Not initialised: no timer starts rounds, the test runs each one itself.
    const moduleRef = await Test.createTestingModule({
      imports: [
        ProtesConfigModule.forRoot(loadConfig(env)),
        PersistenceModule.forRoot({ driver: 'sqlite', path: ':memory:' }),
        TrackingModule.forRoot({ runTracker: true }),
      ],
    })
      .overrideProvider(TaskStore)
      .useValue(store)
      .compile();
    modules.push(moduleRef);
    return moduleRef.get(TrackerService);
  }

  afterEach(async () => {
    for (const moduleRef of modules) await moduleRef.close();
    await store.close();
    await node.close();
  });

  it('reads its tasks and lists their node once, and writes nothing while nothing changes', async () => {
    await tracker.runRound();
    expect(store.heldReads).toBe(1);
    expect(node.lists).toBe(1);
    expect(node.gets).toBe(0);
    expect(store.writes).toBe(0);
  });

  it('reads nothing in a round where no node of its tasks is due', async () => {
    await tracker.runRound();
    await tracker.runRound();
    await tracker.runRound();
    expect(store.heldReads).toBe(1);
    expect(node.lists).toBe(1);
    expect(store.writes).toBe(0);
  });

  it('polls a due node again with the tasks it read, reading the store only once they may have changed', async () => {
    // Another tracker, with short poll intervals: its node is due again a few ms after a poll.
    const polling = await compileTracker(10);
    /** A round once the node is due again. */
    const dueRound = async (): Promise<void> => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      await polling.runRound();
    };
    await polling.runRound();
    await dueRound();
    await dueRound();
    expect(node.lists).toBe(3);
    expect(store.heldReads).toBe(1);
    // A change it writes itself makes the next round read again, and the ended task is gone.
    node.states.set('r3', 'COMPLETE');
    await dueRound();
    expect(store.writes).toBe(1);
    await dueRound();
    expect(store.heldReads).toBe(2);
    const held = await store.listHeld(polling.owner);
    expect(held.map((r) => r.id).sort()).toEqual([tasks[0].id, tasks[1].id]);
  });

  it('after an event about a task, reads again and fetches and writes only the changed task', async () => {
    await tracker.runRound();
    node.states.set('r2', 'COMPLETE');
    tracker.pollSoon(tasks[1].id);
    await tracker.runRound();
    expect(store.heldReads).toBe(2);
    expect(node.lists).toBe(2);
    expect(node.gets).toBe(1);
    expect(store.writes).toBe(1);
    expect((await store.get(tasks[1].id))?.state).toBe('COMPLETE');
    expect((await store.get(tasks[0].id))?.state).toBe('RUNNING');
  });
});
