import { lockBroker } from '@protes/tracking/rmq-test-lock';
import type { Started } from '../../scripts/processes';
import { AMQP_URL, type CheckedApi, deleteQueue, loggedErrors, runTask, waitFor } from './helpers';
import {
  copiesOn,
  historyOf,
  LONG,
  type Node,
  pause,
  resume,
  SCENARIO_MS,
  suiteLab,
} from './outbox-lab';

/**
 * The outbox's corners end to end (real gateway, tracker and simulator processes, see
 * outbox-lab.ts; RabbitMQ for the tracker): a copy a node creates after the task ended, a client's
 * cancel while the only node does not answer, and a graceful stop with forwards in flight. Nothing
 * here asserts a duration.
 */

const RUN = `obc${Date.now().toString(36)}`;

const lab = suiteLab();

/**
 * A node and a gateway over it alone (both named `name`, on the store of that name) that counts
 * the node lost once it has not answered for a second.
 */
async function loneNode(
  name: string,
  args: string[] = [],
): Promise<{ node: Node; api: CheckedApi }> {
  const node = await lab.node(name, args);
  const { api } = await lab.gateway(name, [node], { PROTES_TRACKER__NODE_LOST_AFTER_MS: '1000' });
  return { node, api };
}

/** Waits until the node holds copies of the task and every one of them is canceled. */
const allCanceledOn = (node: Node, id: string) =>
  waitFor(
    `the copies of ${id} on ${node.name} to be canceled`,
    async () => {
      const copies = await copiesOn(node, id);
      return copies.length > 0 && copies.every((t) => t.state === 'CANCELED');
    },
    { timeoutMs: 30_000 },
  );

describe('the outbox, at its corners', () => {
  it(
    'cancels a copy the node creates after the task ended SYSTEM_ERROR, and the task stays SYSTEM_ERROR',
    async () => {
      const { node: slow, api } = await loneNode('late-end');
      pause(slow);
      const id = await api.create(runTask(RUN, 'late-end', LONG));
      // Every attempt times out, and the node's breaker opens: no node is left to take the task.
      await api.waitForState(id, 'SYSTEM_ERROR', 60_000);
      // The node now handles the creates it was sent: the copies it makes run for nobody.
      resume(slow);
      await allCanceledOn(slow, id);
      const task = await api.get(id, 'FULL');
      expect(task.state).toBe('SYSTEM_ERROR');
      const late = historyOf(task).filter((h) => h.event === 'copyCanceled');
      expect(late.length).toBeGreaterThan(0);
      expect(late.every((h) => h.to === 'SYSTEM_ERROR' && h.node === 'late-end')).toBe(true);
    },
    SCENARIO_MS,
  );

  it(
    "ends CANCELED when the client cancels while the node it was sent to does not answer, and cancels the node's late copy",
    async () => {
      const { node: silent, api } = await loneNode('silent');
      pause(silent);
      const id = await api.create(runTask(RUN, 'cancel-pending', LONG));
      await waitFor('the task to be sent', async () =>
        historyOf(await api.get(id, 'FULL')).some((h) => h.event === 'attempting'),
      );
      expect((await api.cancel(id)).status).toBe(200);
      const ended = await api.waitForState(id, 'CANCELED', 60_000);
      expect(ended.state).toBe('CANCELED');
      resume(silent);
      await allCanceledOn(silent, id);
      expect((await api.get(id)).state).toBe('CANCELED');
    },
    SCENARIO_MS,
  );

  it(
    'ends CANCELED when the client cancels a task queued on a node that then stays unreachable past tracker.nodeLostAfterMs, and cancels its copy when it returns',
    async () => {
      // The node keeps its tasks QUEUED: the task is pending there when the node goes silent.
      const { node: gone, api } = await loneNode('gone', ['--queued-ms', '600000']);
      const id = await api.create(runTask(RUN, 'cancel-lost'));
      await api.placed(id);
      pause(gone);
      expect((await api.cancel(id)).status).toBe(200);
      // The node never confirms; once it counts as lost, the cancel the client asked for is done.
      const ended = await api.waitForState(id, ['CANCELED', 'SYSTEM_ERROR'], 60_000);
      expect(ended.state).toBe('CANCELED');
      resume(gone);
      await allCanceledOn(gone, id);
      expect((await api.get(id)).state).toBe('CANCELED');
    },
    SCENARIO_MS,
  );
});

/** Every TES call to this node takes 3 s; one create at a time; a stop waits up to 4.5 s. */
const SLOW_NODE = ['--latency-ms', '3000'];
const SIGTERM_ENV = {
  PROTES_FORWARDING__TIMEOUT_MS: '20000',
  PROTES_FORWARDING__CONCURRENCY_PER_NODE: '1',
  PROTES_TRACKER__LEASE_MS: '10000',
  PROTES_TRACKER__SHUTDOWN_GRACE_MS: '4500',
};

/**
 * Three tasks for a slow node, and SIGTERM to the process that forwards them while the first is
 * being sent; then a new one. `forwarder` starts that process (the standalone gateway, or a
 * tracker) and gives the API to read the tasks through.
 */
async function stopWhileSending(
  forwarder: () => Promise<{ process: Started; api: CheckedApi }>,
  slow: Node,
): Promise<void> {
  const first = await forwarder();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push(await first.api.create(runTask(RUN, `sigterm-${i}`)));
  const sending = await waitFor('one task to be sent', async () => {
    for (const id of ids) {
      const entries = historyOf(await first.api.get(id, 'FULL'));
      if (entries.some((h) => h.event === 'attempting')) return { id, by: entries.at(-1)?.by };
    }
    return undefined;
  });
  await first.process.stop('SIGTERM');
  // It stopped as asked (Nest ends the process with the signal once closed), not of an error of
  // its RabbitMQ client's channels, which a tracker stopped right after it started once died of.
  expect(first.process.child.exitCode).toBeNull();
  expect(first.process.stderr()).not.toContain('Channel ended');

  const second = await forwarder();
  const ended = await second.api.waitForAllEnded(ids, 60_000);
  for (const id of ids) {
    expect(ended.get(id)?.state).toBe('COMPLETE');
    expect(await copiesOn(slow, id)).toHaveLength(1);
    const byFirst = historyOf(await second.api.get(id, 'FULL')).filter(
      (h) => h.by.id === sending.by?.id,
    );
    // The one in flight was recorded by the process that sent it, before it stopped (else, for a
    // tracker that died, the next one asked the node and adopted the copy); the others were left
    // in the outbox for the next one.
    const recorded = id === sending.id ? ['attempting', 'forwarded'] : [];
    const events = byFirst.map((h) => h.event);
    expect(events).toEqual(recorded);
  }
}

describe('SIGTERM with forwards in flight', () => {
  it(
    'the standalone gateway records the forwards in flight, sends nothing new, and the next start forwards the rest exactly once',
    async () => {
      const slow = await lab.node('sigterm', SLOW_NODE);
      await stopWhileSending(async () => {
        const { gateway, api } = await lab.gateway('sigterm', [slow], SIGTERM_ENV);
        return { process: gateway, api };
      }, slow);
    },
    SCENARIO_MS,
  );

  (AMQP_URL ? it : it.skip)(
    'so does a tracker (distributed mode; skipped without TEST_AMQP_URL), and the next tracker forwards the rest exactly once',
    async () => {
      // The broker may be restarted by the distributed suite: held while this test uses it.
      const unlock = await lockBroker();
      const queue = `protes.e2e.${RUN}`;
      try {
        const slow = await lab.node('sigterm-tracker', SLOW_NODE);
        const bus = {
          ...SIGTERM_ENV,
          PROTES_BUS__DRIVER: 'rabbitmq',
          PROTES_BUS__URL: AMQP_URL ?? '',
          PROTES_BUS__QUEUE: queue,
        };
        const { api } = await lab.gateway('sigterm-tracker', [slow], bus);
        await stopWhileSending(async () => {
          const tracker = await lab.tracker('sigterm-tracker', [slow], bus);
          return { process: tracker, api };
        }, slow);
      } finally {
        unlock();
        await deleteQueue(AMQP_URL ?? '', queue);
      }
    },
    SCENARIO_MS,
  );
});

it('logged no error', () => {
  for (const gateway of lab.gateways) expect(loggedErrors(gateway)).toBe('');
});
