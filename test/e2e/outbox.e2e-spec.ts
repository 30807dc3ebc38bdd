import { loggedErrors, metadataOf, runTask, systemLogsOf, waitFor } from './helpers';
import {
  copiesOn,
  historyOf,
  liveCopies,
  LONG,
  pause,
  resume,
  SCENARIO_MS,
  suiteLab,
} from './outbox-lab';

/**
 * The outbox end to end: POST /tasks answers once the task is stored, and the tracker forwards it
 * afterwards, exactly once, whatever fails in between (the processes and how a node is made slow:
 * outbox-lab.ts). Each scenario has its own store and nodes. Nothing here asserts a duration.
 */

const RUN = `obx${Date.now().toString(36)}`;

const lab = suiteLab();

describe('the outbox', () => {
  it(
    'answers POST while the only node answers nothing, and forwards every task exactly once after the gateway is killed',
    async () => {
      const a = await lab.node('a');
      const first = await lab.gateway('killed', [a], { PROTES_FORWARDING__TIMEOUT_MS: '60000' });
      pause(a);
      // The node is paused: POST answers anyway (it no longer waits for the node).
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push(await first.api.create(runTask(RUN, `killed-${i}`)));
      for (const id of ids) expect((await first.api.get(id)).state).toBe('QUEUED');
      // The tracker has sent them (each attempt recorded in flight before it left)...
      await waitFor('every task to be sent', async () => {
        const tasks = await Promise.all(ids.map((id) => first.api.get(id, 'FULL')));
        return tasks.every((t) => historyOf(t).some((h) => h.event === 'attempting'));
      });
      // ...and dies before any answer; the node then handles what it was sent.
      await first.gateway.stop('SIGKILL');
      resume(a);
      const second = await lab.gateway('killed', [a]);
      const ended = await second.api.waitForAllEnded(ids, 60_000);
      for (const id of ids) {
        expect(ended.get(id)?.state).toBe('COMPLETE');
        expect(await copiesOn(a, id)).toHaveLength(1);
      }
    },
    SCENARIO_MS,
  );

  it(
    'ends with one running copy when a node answers after the forwarding timeout',
    async () => {
      const slow = await lab.node('slow');
      const fast = await lab.node('fast');
      const { api } = await lab.gateway('late', [slow, fast]);
      pause(slow);
      const id = await api.create(runTask(RUN, 'late', LONG));
      // The slow node did not answer in time: the task went to the next node.
      await waitFor('the task to run on fast', async () => (await copiesOn(fast, id)).length === 1);
      resume(slow);
      // The late copy the slow node made meanwhile is canceled there (or there is none).
      await waitFor(
        'one live copy',
        async () => (await liveCopies([slow, fast], id)).length === 1,
        { timeoutMs: 30_000 },
      );
      const task = await api.get(id, 'FULL');
      expect(metadataOf(task).protes_node).toBe('fast');
      const lateCopies = await copiesOn(slow, id);
      if (lateCopies.length) {
        expect(historyOf(task).map((h) => h.event)).toContain('copyCanceled');
      }
      await api.cancel(id);
    },
    SCENARIO_MS,
  );

  it(
    'fails over to the next node when the first is down at forwarding time',
    async () => {
      const down = await lab.node('down');
      const up = await lab.node('up');
      const { api } = await lab.gateway('failover', [down, up]);
      await down.started.stop();
      const id = await api.create(runTask(RUN, 'failover'));
      const task = await api.waitForState(id, 'COMPLETE', 30_000);
      expect(metadataOf(task).protes_node).toBe('up');
      expect(metadataOf(task).protes_attempts).toMatch(/^down: failed .*; up: accepted as /);
      expect(await copiesOn(up, id)).toHaveLength(1);
    },
    SCENARIO_MS,
  );

  it(
    'ends SYSTEM_ERROR when every node is down, with the reasons',
    async () => {
      const gone = await lab.node('gone');
      const { api } = await lab.gateway('all-down', [gone]);
      await gone.started.stop();
      const id = await api.create(runTask(RUN, 'all-down'));
      const task = await api.waitForState(id, 'SYSTEM_ERROR', 30_000);
      expect(systemLogsOf(task).join('\n')).toMatch(/forwarding to gone|no TES node is available/);
    },
    SCENARIO_MS,
  );

  it(
    'leaves the breaker closed after a node refuses tasks with 4xx, and places the next task',
    async () => {
      const a = await lab.node('picky');
      const { api } = await lab.gateway('refusals', [a]);
      // The simulator refuses an unknown `sim.outcome` with 400: an answer about the task.
      const refused = [];
      for (let i = 0; i < 4; i++) {
        refused.push(await api.create(runTask(RUN, `refused-${i}`, { 'sim.outcome': 'BOGUS' })));
      }
      for (const id of refused) {
        const task = await api.waitForState(id, 'SYSTEM_ERROR', 30_000);
        expect(systemLogsOf(task).join('\n')).toMatch(/HTTP 400/);
      }
      expect((await api.nodes()).find((n) => n.name === 'picky')).toMatchObject({
        breaker: 'closed',
        failures: 0,
      });
      const id = await api.create(runTask(RUN, 'ordinary'));
      await api.waitForState(id, 'COMPLETE', 30_000);
    },
    SCENARIO_MS,
  );

  it(
    'resubmits the tasks of a node unreachable past tracker.nodeLostAfterMs, and cancels its copy when it returns',
    async () => {
      const a = await lab.node('lost-a');
      const b = await lab.node('lost-b');
      const { api } = await lab.gateway('lost', [a, b], {
        PROTES_TRACKER__NODE_LOST_AFTER_MS: '1000',
      });
      const id = await api.create(runTask(RUN, 'lost', LONG));
      await api.waitForState(id, 'RUNNING', 30_000);
      expect(metadataOf(await api.get(id, 'FULL')).protes_node).toBe('lost-a');
      pause(a);
      await waitFor('the task to run on lost-b', async () => (await copiesOn(b, id)).length, {
        timeoutMs: 60_000,
      });
      // The node comes back once the gateway has recorded the move (the copy on lost-b appears a
      // moment before the record says so).
      await waitFor(
        'the gateway to record the task on lost-b',
        async () => metadataOf(await api.get(id, 'FULL')).protes_node === 'lost-b',
        { timeoutMs: 30_000 },
      );
      resume(a);
      await waitFor(
        'the copy on lost-a to be canceled',
        async () => (await copiesOn(a, id)).every((t) => t.state === 'CANCELED'),
        { timeoutMs: 30_000 },
      );
      expect(await liveCopies([a, b], id)).toHaveLength(1);
      const task = await api.get(id, 'FULL');
      expect(metadataOf(task).protes_node).toBe('lost-b');
      expect(historyOf(task).map((h) => h.event)).toEqual(
        expect.arrayContaining(['resubmitted', 'copyCanceled']),
      );
      await api.cancel(id);
    },
    SCENARIO_MS,
  );

  it('logged no error', () => {
    for (const gateway of lab.gateways.slice(1)) expect(loggedErrors(gateway)).toBe('');
  });
});
