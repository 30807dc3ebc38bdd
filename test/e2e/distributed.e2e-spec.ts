import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { lockBroker } from '@protes/tracking/rmq-test-lock';
import type { TesState, TesTask, TesTaskRequest } from '@protes/tes';
import { connect } from 'amqplib';
import { TASK_EVENT_PATTERN } from '@protes/tracking';
import { DistributedCluster, skippedWithoutBroker } from './distributed-fixture';
import {
  AMQP_URL,
  type CheckedApi,
  copiesOnNodes,
  isTerminalState,
  leaseOwnerOf,
  tail,
  waitFor,
} from './helpers';

/**
 * Distributed mode end to end, with real processes: one gateway publishing task events to
 * RabbitMQ, two tracker processes consuming them, three simulated TES nodes, and one SQLite file
 * (WAL) as the store all of them share. Mid-run one tracker is killed (SIGKILL) and RabbitMQ is
 * restarted; every task must still end in its right state, and no node may have been asked to run
 * a task twice.
 *
 * Needs the build (`npm run build`), a RabbitMQ at TEST_AMQP_URL, and `rabbitmqctl` on the PATH to
 * restart it (.ci/run provides both). Without TEST_AMQP_URL the suite is skipped and says so.
 */
const RUN = `dist${Date.now().toString(36)}`;
const TOTAL = 200;
/** Every FAIL_EVERY-th task is told by its tag to end in EXECUTOR_ERROR. */
const FAIL_EVERY = 10;

const run = promisify(execFile);

/** One gateway, three nodes and (from the first test on) two trackers; a queue of this run only. */
const cluster = new DistributedCluster({
  run: RUN,
  simArgs: ['--queued-ms', '50', '--initializing-ms', '50', '--running-ms', '500'],
  env: {
    PROTES_BUS__PREFETCH: '16',
    PROTES_FORWARDING__TIMEOUT_MS: '5000',
    // Short leases, so that the killed tracker's tasks are taken over within seconds; a small
    // batch, so that both trackers hold tasks when one is killed.
    PROTES_TRACKER__LEASE_MS: '3000',
    PROTES_TRACKER__CLAIM_BATCH: '60',
  },
});
let api: CheckedApi;
/** Whether this test stopped RabbitMQ and has not started it again. */
let brokerStopped = false;
let unlockBroker: (() => void) | undefined;

/** The i-th task of the run: a running time from 300 to 1500 ms, some forced to fail. */
function task(i: number): TesTaskRequest {
  const tags: Record<string, string> = {
    'e2e.run': RUN,
    'e2e.index': String(i),
    'sim.run_ms': String(300 + ((i * 97) % 1201)),
  };
  if (i % FAIL_EVERY === FAIL_EVERY - 1) tags['sim.outcome'] = 'EXECUTOR_ERROR';
  return { name: `${RUN}-${i}`, executors: [{ image: 'alpine', command: ['true'] }], tags };
}

const expectedState = (t: TesTask): TesState =>
  t.tags?.['sim.outcome'] === 'EXECUTOR_ERROR' ? 'EXECUTOR_ERROR' : 'COMPLETE';

/** Ready messages and consumers of the run's queue, as the broker counts them. */
async function queueState(): Promise<{ messageCount: number; consumerCount: number }> {
  const connection = await connect(AMQP_URL ?? '');
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    return await channel.checkQueue(cluster.queue);
  } catch (error) {
    // The gateway declares the queue with its first publish, which may not have happened yet.
    if ((error as { code?: number }).code === 404) return { messageCount: 0, consumerCount: 0 };
    throw error;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Puts task events on the queue as a gateway would (Nest's RMQ packet: pattern and data). */
async function publishRaw(taskIds: string[]): Promise<void> {
  const connection = await connect(AMQP_URL ?? '');
  try {
    const channel = await connection.createConfirmChannel();
    for (const taskId of taskIds) {
      const packet = { pattern: TASK_EVENT_PATTERN, data: { type: 'queued', taskId } };
      channel.sendToQueue(cluster.queue, Buffer.from(JSON.stringify(packet)), { persistent: true });
    }
    await channel.waitForConfirms();
  } finally {
    await connection.close();
  }
}

/** queueState, undefined while the broker does not answer. */
const queueStateOrNothing = () => queueState().catch(() => undefined);

async function stopBroker(): Promise<void> {
  unlockBroker = await lockBroker();
  brokerStopped = true;
  await run('rabbitmqctl', ['-q', 'stop_app']);
}

async function startBroker(): Promise<void> {
  try {
    await run('rabbitmqctl', ['-q', 'start_app']);
    brokerStopped = false;
    await waitFor('RabbitMQ to answer again', queueStateOrNothing, {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
  } finally {
    unlockBroker?.();
    unlockBroker = undefined;
  }
}

/** Submits tasks `from` ≤ i < `to`, a few at a time; returns their ids and the slowest answer. */
async function submit(from: number, to: number): Promise<{ ids: string[]; slowestMs: number }> {
  const ids: string[] = [];
  let slowestMs = 0;
  const indexes = Array.from({ length: to - from }, (_, k) => from + k);
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = indexes.shift(); i !== undefined; i = indexes.shift()) {
        const started = Date.now();
        ids.push(await api.create(task(i)));
        slowestMs = Math.max(slowestMs, Date.now() - started);
      }
    }),
  );
  return { ids, slowestMs };
}

function stderrOfAll(): string {
  return cluster
    .processes()
    .map((p) => `--- ${p.url}\n${tail(p.stderr(), 10)}`)
    .join('\n');
}

if (AMQP_URL) {
  beforeAll(async () => {
    api = await cluster.start();
  }, 60_000);

  afterAll(async () => {
    // Whatever happened, RabbitMQ runs again and no process of this test is left.
    if (brokerStopped) await startBroker().catch(() => undefined);
    unlockBroker?.();
    await cluster.stop();
  }, 60_000);

  describe('distributed mode end to end (RabbitMQ, 1 gateway, 2 trackers, 3 nodes)', () => {
    const submitted: string[] = [];

    it('keeps events in the durable queue across a broker restart, then trackers consume them', async () => {
      // No tracker yet: the gateway's events wait in the queue.
      submitted.push(...(await submit(TOTAL, TOTAL + 5)).ids);
      await waitFor('5 events in the queue', async () => (await queueState()).messageCount === 5, {
        timeoutMs: 10_000,
        intervalMs: 100,
      });

      await stopBroker();
      await startBroker();
      // Durable queue, persistent messages: they survived.
      expect((await queueState()).messageCount).toBe(5);

      // The gateway reconnects by itself; events it published before it had are dropped (the
      // store has the tasks), so submit until one arrives.
      await waitFor(
        'the gateway to publish again after the restart',
        async () => {
          submitted.push(await api.create(task(TOTAL + 5 + submitted.length)));
          return (await queueState()).messageCount > 5;
        },
        { timeoutMs: 20_000, intervalMs: 250 },
      );

      for (let i = 0; i < 2; i++) await cluster.addTracker();
      await waitFor(
        'both trackers to consume the queue empty',
        async () => {
          const { messageCount, consumerCount } = await queueState();
          return consumerCount === 2 && messageCount === 0;
        },
        { timeoutMs: 15_000, intervalMs: 100 },
      );
    }, 90_000);

    it(`brings ${TOTAL} tasks to their end through a tracker kill and a broker restart, each run once`, async () => {
      const first = await submit(0, 100);
      submitted.push(...first.ids);

      // One tracker dies without a word, holding tasks: its leases expire and the other tracker
      // takes them over.
      const victim = cluster.trackers[0];
      const victimOwner = leaseOwnerOf(victim);
      const store = cluster.openStore();
      let held: string[] = [];
      try {
        held = await waitFor(
          'the tracker to be killed to hold tasks',
          async () => {
            const now = Date.now();
            const ids = (await store.listUnfinished())
              .filter((r) => r.lease?.owner === victimOwner && Date.parse(r.lease.expiresAt) > now)
              .map((r) => r.id);
            return ids.length > 0 && ids;
          },
          { timeoutMs: 10_000, intervalMs: 50 },
        );
      } finally {
        await store.close();
      }
      await victim.stop('SIGKILL');

      await stopBroker();
      let outage: { ids: string[]; slowestMs: number };
      try {
        // Publishing fails at once while the broker is down; the requests do not wait for it.
        outage = await submit(100, 150);
      } finally {
        await startBroker();
      }
      submitted.push(...outage.ids);
      expect(outage.slowestMs).toBeLessThan(2_000);

      submitted.push(...(await submit(150, TOTAL)).ids);
      expect(new Set(submitted).size).toBe(submitted.length);

      // Every task ends, in the state its tags asked for.
      let active: TesTask[] = [];
      await waitFor(
        'every task to end',
        async () => {
          const tasks = await api.listAll({ tag_key: 'e2e.run', tag_value: RUN, view: 'MINIMAL' });
          active = tasks.filter((t) => !isTerminalState(t.state));
          return tasks.length === submitted.length && active.length === 0;
        },
        {
          timeoutMs: 60_000,
          intervalMs: 500,
          describe: () =>
            `${active.length} still active, e.g. ${JSON.stringify(active.slice(0, 3))}\n${stderrOfAll()}`,
        },
      );
      const ended = await api.listAll({ tag_key: 'e2e.run', tag_value: RUN, view: 'BASIC' });
      const wrong = ended.filter((t) => t.state !== expectedState(t));
      expect(wrong.map((t) => [t.name, t.state])).toEqual([]);
      expect(held.filter((id) => !ended.some((t) => t.id === id))).toEqual([]);
      expect(ended.filter((t) => t.state === 'EXECUTOR_ERROR').length).toBeGreaterThanOrEqual(
        TOTAL / FAIL_EVERY,
      );

      // No node was asked to run a task twice: each gateway id is on exactly one node, once.
      const copies = await copiesOnNodes(cluster.sims);
      const twice = [...copies].filter(([, on]) => on.length !== 1);
      expect(twice).toEqual([]);
      expect([...copies.keys()].sort()).toEqual([...submitted].sort());

      // The surviving tracker reconnected by itself and consumes again: events put on the queue
      // now (for tasks that have ended, so they change nothing) are taken and acknowledged.
      await waitFor('the surviving tracker to consume again', async () => {
        const { consumerCount } = await queueState();
        return consumerCount === 1;
      });
      await publishRaw(submitted.slice(0, 50));
      await waitFor(
        'the surviving tracker to consume the queue empty',
        async () => (await queueState()).messageCount === 0,
        { timeoutMs: 15_000, intervalMs: 100 },
      );
      expect(api.violations).toEqual([]);
    }, 150_000);
  });
} else {
  skippedWithoutBroker('distributed mode end to end');
}
