import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TesTask } from '@protes/tes';
import { startGateway, startSimulator, type Started } from '../../scripts/processes';
import {
  CheckedApi,
  e2eGatewayEnv,
  loggedErrors,
  metadataOf,
  runTask,
  simCall,
  systemLogsOf,
  TES_PATH,
  waitFor,
} from './helpers';

/**
 * The outbox end to end: POST /tasks answers once the task is stored, and the tracker forwards it
 * afterwards, exactly once, whatever fails in between. Real processes (the compiled gateway and
 * simulators, `npm run build`); a node is made "slower than any timeout" by pausing its process
 * (SIGSTOP): it accepts connections but answers nothing until it is resumed (SIGCONT), and then
 * handles what it was sent meanwhile, as a slow node does. Copies are counted on the nodes
 * themselves, by the `protes_id` tag the gateway puts on every task it forwards.
 *
 * Each scenario has its own store and nodes. Nothing here asserts a duration.
 */

const RUN = `obx${Date.now().toString(36)}`;
const SIM_ARGS = ['--queued-ms', '20', '--initializing-ms', '20', '--running-ms', '100'];
/** Keeps a task RUNNING on its node for the length of a scenario. */
const LONG = { 'sim.run_ms': '600000' };
const GATEWAY_ID_TAG = 'protes_id';
const SCENARIO_MS = 120_000;
const HEALTH = { probeIntervalMs: 500, failureThreshold: 3, coolDownMs: 1000 };

let dir: string;
const processes: Started[] = [];
const gateways: Started[] = [];

interface Node {
  name: string;
  started: Started;
}

async function startNode(name: string): Promise<Node> {
  const started = await startSimulator({ name, args: SIM_ARGS });
  processes.push(started);
  return { name, started };
}

/** Pauses or resumes the node's process: paused, it answers nothing, yet keeps every request. */
const pause = (node: Node) => node.started.child.kill('SIGSTOP');
const resume = (node: Node) => node.started.child.kill('SIGCONT');

/** A gateway over `nodes` (in this order: the empty chain keeps it), on the scenario's store. */
async function gatewayOver(
  label: string,
  nodes: Node[],
  extra: Record<string, string> = {},
): Promise<{ gateway: Started; api: CheckedApi }> {
  const gateway = await startGateway(
    e2eGatewayEnv(
      dir,
      // Breakers that close soon after a paused node is resumed, so that it is asked again soon.
      nodes.map((n) => ({ name: n.name, url: `${n.started.url}${TES_PATH}`, health: HEALTH })),
      {
        PROTES_STORE__SQLITE_PATH: join(dir, `${label}.db`),
        PROTES_MIDDLEWARE__CHAIN: '[]',
        PROTES_TRACKER__LEASE_MS: '2000',
        PROTES_FORWARDING__TIMEOUT_MS: '1000',
        ...extra,
      },
    ),
  );
  processes.push(gateway);
  gateways.push(gateway);
  return { gateway, api: new CheckedApi(gateway.url) };
}

/** The node's copies of a gateway task (found by its tag), in any state. */
async function copiesOn(node: Node, id: string): Promise<TesTask[]> {
  const { status, body } = await simCall<{ tasks: TesTask[] }>(
    `${node.started.url}${TES_PATH}/tasks?view=MINIMAL&tag_key=${GATEWAY_ID_TAG}&tag_value=${id}`,
  );
  expect(status).toBe(200);
  return body.tasks;
}

/** Copies of the task over all nodes that were not canceled: what runs, or ran, for it. */
async function liveCopies(nodes: Node[], id: string): Promise<TesTask[]> {
  const all = await Promise.all(nodes.map((n) => copiesOn(n, id)));
  return all.flat().filter((t) => t.state !== 'CANCELED' && t.state !== 'CANCELING');
}

const historyOf = (task: TesTask): { event: string; node?: string }[] =>
  JSON.parse(metadataOf(task).protes_history ?? '[]') as { event: string; node?: string }[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'protes-outbox-'));
});

afterAll(async () => {
  for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGCONT');
  await Promise.all(gateways.map((g) => g.stop()));
  await Promise.all(processes.map((p) => p.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('the outbox', () => {
  it(
    'answers POST while the only node answers nothing, and forwards every task exactly once after the gateway is killed',
    async () => {
      const a = await startNode('a');
      const first = await gatewayOver('killed', [a], { PROTES_FORWARDING__TIMEOUT_MS: '60000' });
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
      const second = await gatewayOver('killed', [a]);
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
      const slow = await startNode('slow');
      const fast = await startNode('fast');
      const { api } = await gatewayOver('late', [slow, fast]);
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
      const down = await startNode('down');
      const up = await startNode('up');
      const { api } = await gatewayOver('failover', [down, up]);
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
      const gone = await startNode('gone');
      const { api } = await gatewayOver('all-down', [gone]);
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
      const a = await startNode('picky');
      const { api } = await gatewayOver('refusals', [a]);
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
      const a = await startNode('lost-a');
      const b = await startNode('lost-b');
      const { api } = await gatewayOver('lost', [a, b], {
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
    for (const gateway of gateways.slice(1)) expect(loggedErrors(gateway)).toBe('');
  });
});
