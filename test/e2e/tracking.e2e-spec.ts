import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TesTask, TesTaskRequest } from '@protes/tes';
import type { SimStats } from '../../apps/tes-sim/src';
import { nodesEnv, startGateway, startSimulator, type Started } from '../../scripts/processes';
import {
  CheckedApi,
  loggedErrors,
  metadataOf,
  runTask,
  simCall,
  sleep,
  systemLogsOf,
  TERMINAL,
  TES_PATH,
  waitFor,
} from './helpers';

/**
 * The tracker end to end: how the compiled gateway (`npm run build`) follows tasks on simulated TES
 * nodes, each a real process on an ephemeral port. One list call per node and round whatever the
 * number of tasks; one GET per task on a node that cannot list; tasks a node loses (preempted,
 * system error, forgotten) resubmitted to another node under the same gateway id.
 *
 * Each scenario has its own gateway, store and nodes, so no tracker sees another scenario's tasks.
 */

const RUN = `trk${Date.now().toString(36)}`;
const SIM_ARGS = ['--queued-ms', '20', '--initializing-ms', '20', '--running-ms', '150'];
const MIN_POLL_MS = 100;
const MAX_POLL_MS = 400;
const MAX_RESUBMISSIONS = 2;
/** The tag the gateway puts on every task it forwards (its own id). */
const GATEWAY_ID_TAG = 'protes_id';

let dir: string;
/** Every process started (simulators, restarted ones too, and gateways), stopped in afterAll. */
const processes: Started[] = [];
/** Every gateway, so that the last test checks that none logged an error. */
const gateways: Started[] = [];
/** Every client made, so that the last test sees every schema violation. */
const clients: CheckedApi[] = [];

/** A simulated node; `started` changes when it is restarted. */
interface SimNode {
  name: string;
  args: string[];
  started: Started;
}

async function startNodes(specs: { name: string; args?: string[] }[]): Promise<SimNode[]> {
  const started = await Promise.allSettled(
    specs.map(({ name, args = [] }) => startSimulator({ name, args: [...SIM_ARGS, ...args] })),
  );
  const nodes: SimNode[] = [];
  started.forEach((result, i) => {
    if (result.status === 'fulfilled') {
      processes.push(result.value);
      nodes.push({ name: specs[i].name, args: specs[i].args ?? [], started: result.value });
    }
  });
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return nodes;
}

/** Stops the simulator and starts a new one on the same port: it has forgotten every task. */
async function restartNode(node: SimNode): Promise<void> {
  const port = Number(new URL(node.started.url).port);
  await node.started.stop();
  node.started = await startSimulator({ name: node.name, args: [...SIM_ARGS, ...node.args] }, port);
  processes.push(node.started);
  expect(node.started.url).toBe(`http://127.0.0.1:${port}`);
}

interface Federation {
  gateway: Started;
  api: CheckedApi;
  nodes: SimNode[];
}

/** A gateway with its own SQLite file over `nodes`. */
async function startFederation(
  label: string,
  nodes: SimNode[],
  env: NodeJS.ProcessEnv = {},
): Promise<Federation> {
  const gateway = await startGateway({
    // Whatever the shell that runs the tests has set: no configuration file, the SQLite store.
    PROTES_CONFIG: '',
    PROTES_STORE__DRIVER: 'sqlite',
    PROTES_SERVER__PORT: '0',
    PROTES_STORE__SQLITE_PATH: join(dir, `${label}.db`),
    PROTES_NODES: nodesEnv(nodes.map((n) => ({ name: n.name, url: n.started.url }))),
    PROTES_TRACKER__MIN_POLL_MS: String(MIN_POLL_MS),
    PROTES_TRACKER__MAX_POLL_MS: String(MAX_POLL_MS),
    PROTES_TRACKER__LEASE_MS: '3000',
    PROTES_TRACKER__MAX_RESUBMISSIONS: String(MAX_RESUBMISSIONS),
    PROTES_TRACKER__EXPOSE_PREEMPTED: 'false',
    PROTES_FORWARDING__TIMEOUT_MS: '2000',
    PROTES_LOG__LEVEL: 'warn',
    ...env,
  });
  processes.push(gateway);
  gateways.push(gateway);
  const api = new CheckedApi(gateway.url);
  clients.push(api);
  return { gateway, api, nodes };
}

async function stopFederation(federation: Federation | undefined): Promise<void> {
  if (!federation) return;
  await federation.gateway.stop();
  await Promise.all(federation.nodes.map((n) => n.started.stop()));
}

const task = (name: string, tags: Record<string, string> = {}): TesTaskRequest =>
  runTask(RUN, name, tags);

async function statsOf(node: SimNode): Promise<SimStats> {
  const { status, body } = await simCall<SimStats>(`${node.started.url}/sim/stats`);
  expect(status).toBe(200);
  return body;
}

async function resetStats(node: SimNode): Promise<SimStats> {
  const { status, body } = await simCall<SimStats>(`${node.started.url}/sim/reset-stats`, 'POST');
  expect(status).toBe(200);
  return body;
}

/** The node's own copies of a gateway task, found by the tag the gateway puts on it. */
async function copiesOn(node: SimNode, gatewayId: string): Promise<TesTask[]> {
  const { status, body } = await simCall<{ tasks: TesTask[] }>(
    `${node.started.url}${TES_PATH}/tasks?view=BASIC&tag_key=${GATEWAY_ID_TAG}&tag_value=${gatewayId}`,
  );
  expect(status).toBe(200);
  return body.tasks;
}

/** Counts of states, for failure messages: "RUNNING×58 QUEUED×2". */
function stateSummary(tasks: TesTask[]): string {
  const counts = new Map<string, number>();
  for (const t of tasks) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
  return [...counts].map(([state, n]) => `${state}×${n}`).join(' ');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'protes-tracking-'));
});

afterAll(async () => {
  // Gateways first, so that no tracker sees its nodes go away.
  await Promise.all(gateways.map((g) => g.stop()));
  await Promise.all(processes.map((p) => p.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('tracker end to end', () => {
  describe('list-based polling', () => {
    /** Tasks run far longer than a measure takes, so that none changes state in the window. */
    const LONG_RUN_MS = 20_000;
    /** Time for the node's poll interval to back off to its maximum once nothing moves. */
    const SETTLE_MS = 1000;
    const WINDOW_MS = 2000;
    let federation: Federation;
    let solo: SimNode;

    beforeAll(async () => {
      [solo] = await startNodes([{ name: 'solo' }]);
      federation = await startFederation('scaling', [solo]);
    }, 30_000);

    afterAll(() => stopFederation(federation), 30_000);

    interface Window {
      tasks: number;
      listCalls: number;
      taskGets: number;
      otherCalls: number;
    }

    /** Runs `count` long tasks on the node, then counts its requests over a quiet window. */
    async function measure(count: number): Promise<{ ids: string[]; window: Window }> {
      const { api } = federation;
      const tag = `${RUN}.scale-${count}`;
      const ids = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          api.create(
            task(`${RUN}-scale-${count}-${i}`, { [tag]: '', 'sim.run_ms': String(LONG_RUN_MS) }),
          ),
        ),
      );
      let states = '';
      await waitFor(
        `the ${count} tasks to run`,
        async () => {
          const listed = await api.listAll({ tag_key: tag });
          states = stateSummary(listed);
          return listed.length === count && listed.every((t) => t.state === 'RUNNING');
        },
        { timeoutMs: 15_000, intervalMs: 100, describe: () => states },
      );
      await sleep(SETTLE_MS);
      const before = await resetStats(solo);
      await sleep(WINDOW_MS);
      const after = await statsOf(solo);
      // Nothing moved on the node during the window, and the gateway agrees.
      expect(before.tasks.RUNNING).toBe(count);
      expect(after.tasks.RUNNING).toBe(count);
      const listed = await api.listAll({ tag_key: tag });
      expect(stateSummary(listed)).toBe(`RUNNING×${count}`);
      const r = after.requests;
      return {
        ids,
        window: {
          tasks: count,
          listCalls: r['GET /tasks'],
          taskGets: r['GET /tasks/:id'],
          otherCalls: r['POST /tasks'] + r['POST cancel'] + r['GET /service-info'],
        },
      };
    }

    it('reads all of a node’s tasks with one list call per round, however many there are', async () => {
      const { api } = federation;
      const few = await measure(5);
      // The first tasks end, so that only the next ones are followed.
      await Promise.all(few.ids.map((id) => api.cancel(id)));
      const canceled = await api.waitForAllEnded(few.ids, 10_000);
      expect(stateSummary([...canceled.values()])).toBe('CANCELED×5');

      const many = await measure(60);
      console.log(
        `tracking one node for ${WINDOW_MS} ms (min poll ${MIN_POLL_MS} ms, max ${MAX_POLL_MS} ms):\n` +
          [few.window, many.window]
            .map(
              (w) =>
                `  ${w.tasks} running tasks: ${w.listCalls} × GET /tasks, ` +
                `${w.taskGets} × GET /tasks/:id, ${w.otherCalls} other calls`,
            )
            .join('\n'),
      );

      for (const { window } of [few, many]) {
        // Nothing changed state: no task was read on its own.
        expect(window.taskGets).toBe(0);
        expect(window.otherCalls).toBe(0);
        // The node is still polled, at most once per minimum interval.
        expect(window.listCalls).toBeGreaterThan(0);
        expect(window.listCalls).toBeLessThanOrEqual(WINDOW_MS / MIN_POLL_MS + 1);
      }
      // Calls per round do not grow with the number of tasks.
      expect(many.window.listCalls).toBeLessThanOrEqual(Math.ceil(few.window.listCalls * 1.5) + 2);
      // Polling each task on its own would need at least one call per task in the window.
      expect(many.window.listCalls + many.window.taskGets).toBeLessThan(many.window.tasks);
    }, 50_000);
  });

  describe('a node that does not serve ListTasks', () => {
    let federation: Federation;
    let nolist: SimNode;

    beforeAll(async () => {
      [nolist] = await startNodes([{ name: 'nolist', args: ['--no-list'] }]);
      federation = await startFederation('nolist', [nolist]);
    }, 30_000);

    afterAll(() => stopFederation(federation), 30_000);

    it('tracks its tasks one by one to COMPLETE, and stops asking for its list', async () => {
      const { api } = federation;
      // It does refuse to list.
      const refused = await simCall(`${nolist.started.url}${TES_PATH}/tasks`);
      expect(refused.status).toBe(501);
      await resetStats(nolist);

      const batch = async (label: string): Promise<void> => {
        const ids = await Promise.all(
          Array.from({ length: 5 }, (_, i) =>
            api.create(task(`${RUN}-nolist-${label}-${i}`, { 'sim.run_ms': '300' })),
          ),
        );
        const ended = await api.waitForAllEnded(ids, 15_000);
        for (const t of ended.values()) {
          expect(t.state).toBe('COMPLETE');
          expect(metadataOf(t).protes_node).toBe('nolist');
          expect(t.logs?.[0]?.logs[0]?.exit_code).toBe(0);
        }
      };

      await batch('first');
      const first = (await statsOf(nolist)).requests;
      await batch('second');
      const second = (await statsOf(nolist)).requests;
      console.log(
        `node without ListTasks, 5 + 5 tasks: ${second['GET /tasks']} × GET /tasks (501), ` +
          `${first['GET /tasks/:id']} + ${second['GET /tasks/:id'] - first['GET /tasks/:id']} × GET /tasks/:id`,
      );

      // Asked for its list once (or twice, if a round was under way), then never again.
      expect(first['GET /tasks']).toBeGreaterThanOrEqual(1);
      expect(first['GET /tasks']).toBeLessThanOrEqual(2);
      expect(second['GET /tasks']).toBe(first['GET /tasks']);
      // At least a state read and a FULL read per task.
      expect(first['GET /tasks/:id']).toBeGreaterThanOrEqual(10);
      expect(second['GET /tasks/:id'] - first['GET /tasks/:id']).toBeGreaterThanOrEqual(10);
    }, 40_000);
  });

  describe('resubmission of tasks a node loses', () => {
    let federation: Federation;
    const HEALTHY = ['ok1', 'ok2'];

    beforeAll(async () => {
      const nodes = await startNodes([
        { name: 'preempt', args: ['--failure-rate', '1', '--failure-kind', 'PREEMPTED'] },
        { name: 'ok1' },
        { name: 'ok2' },
      ]);
      federation = await startFederation('resubmit', nodes);
    }, 30_000);

    afterAll(() => stopFederation(federation), 30_000);

    /** Copies of the task on every node, by node. */
    async function copies(id: string): Promise<Record<string, TesTask[]>> {
      const out: Record<string, TesTask[]> = {};
      for (const n of federation.nodes) out[n.name] = await copiesOn(n, id);
      return out;
    }

    it('moves each task preempted on one node to another, under the same gateway id', async () => {
      const { api } = federation;
      const tag = `${RUN}.preempt`;
      const firstOnPreempt: string[] = [];
      const others: string[] = [];
      // The node is chosen at random: submit until a few tasks went to the preempting node first.
      for (let round = 0; round < 10 && firstOnPreempt.length < 3; round++) {
        const ids = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            api.create(task(`${RUN}-preempt-${round}-${i}`, { [tag]: '', 'sim.run_ms': '200' })),
          ),
        );
        for (const id of ids) {
          // POST answers before forwarding: wait until a node took the task. Attempts only
          // grow, so the first one stays first whatever happened since.
          const attempts = metadataOf(await api.placed(id)).protes_attempts ?? '';
          (attempts.startsWith('preempt: ') ? firstOnPreempt : others).push(id);
        }
      }
      expect(firstOnPreempt.length).toBeGreaterThanOrEqual(3);

      const ended = await api.waitForAllEnded([...firstOnPreempt, ...others], 20_000);
      for (const id of firstOnPreempt) {
        const t = ended.get(id) as TesTask;
        expect(t.id).toBe(id);
        expect(t.state).toBe('COMPLETE');
        const meta = metadataOf(t);
        expect(HEALTHY).toContain(meta.protes_node);
        // Both attempts, in order: the lost one with its reason, then the one that ran it.
        expect(meta.protes_attempts).toMatch(
          new RegExp(
            `^preempt: failed \\([^)]*preempt[^)]*\\); ${meta.protes_node}: accepted as ${meta.protes_remote_id}$`,
          ),
        );
        // The node's logs are those of the node that ran it.
        expect(t.logs?.[0]?.logs[0]?.exit_code).toBe(0);
        expect(t.logs?.[0]?.metadata?.node).toBe(meta.protes_node);
        const logs = systemLogsOf(t);
        expect(logs).toContainEqual(
          expect.stringMatching(/preempt.*PREEMPTED.*preemption.*resubmitting to another node/),
        );
        // One copy lost on the preempting node, one run to its end elsewhere, none on the third.
        const byNode = await copies(id);
        expect(byNode.preempt.map((c) => c.state)).toEqual(['PREEMPTED']);
        expect(byNode[meta.protes_node].map((c) => c.state)).toEqual(['COMPLETE']);
        expect(byNode[meta.protes_node][0].id).toBe(meta.protes_remote_id);
        const third = HEALTHY.find((n) => n !== meta.protes_node) ?? '';
        expect(byNode[third]).toEqual([]);
      }
      for (const id of others) {
        const t = ended.get(id) as TesTask;
        expect(t.state).toBe('COMPLETE');
        expect(metadataOf(t).protes_attempts).toMatch(/^ok\d: accepted as [^;]+$/);
        expect(systemLogsOf(t).join('\n')).not.toMatch(/resubmitting/);
      }
      console.log(
        `preempting node: ${firstOnPreempt.length} of ${firstOnPreempt.length + others.length} tasks went there first, all resubmitted and COMPLETE`,
      );
    }, 40_000);

    it('ends a task that fails on every node after 1 + maxResubmissions attempts on distinct nodes', async () => {
      const { api } = federation;
      const [systemError, preempted, executorError] = await Promise.all(
        (['SYSTEM_ERROR', 'PREEMPTED', 'EXECUTOR_ERROR'] as const).map((outcome) =>
          api.create(
            task(`${RUN}-forced-${outcome}`, { 'sim.outcome': outcome, 'sim.run_ms': '100' }),
          ),
        ),
      );
      const ended = await api.waitForAllEnded([systemError, preempted, executorError], 20_000);

      for (const [id, lostAs, reason] of [
        [systemError, 'SYSTEM_ERROR', 'simulated system error'],
        [preempted, 'PREEMPTED', 'simulated preemption'],
      ] as const) {
        const t = ended.get(id) as TesTask;
        // PREEMPTED is shown as SYSTEM_ERROR (tracker.exposePreempted is false).
        expect(t.state).toBe('SYSTEM_ERROR');
        const meta = metadataOf(t);
        const attempts = meta.protes_attempts ?? '';
        const tried = [...attempts.matchAll(/(?:^|; )(\w+): failed \(/g)].map((m) => m[1]);
        expect(tried).toHaveLength(1 + MAX_RESUBMISSIONS);
        expect(new Set(tried).size).toBe(tried.length);
        expect(attempts).not.toMatch(/accepted as/);
        // Every loss is listed with its reason; all but the last say the task went on.
        const notes = systemLogsOf(t).filter((line) => line.includes(`ended ${lostAs}`));
        expect(notes).toHaveLength(1 + MAX_RESUBMISSIONS);
        notes.forEach((line, i) => {
          expect(line).toContain(`attempt on node ${tried[i]} `);
          expect(line).toContain(reason);
          if (i < notes.length - 1) expect(line).toMatch(/resubmitting to another node$/);
          else expect(line).not.toMatch(/resubmitting/);
        });
        const byNode = await copies(id);
        for (const n of federation.nodes) {
          expect(byNode[n.name].map((c) => c.state)).toEqual([lostAs]);
        }
      }

      // The task's own failure: never resubmitted.
      const e = ended.get(executorError) as TesTask;
      expect(e.state).toBe('EXECUTOR_ERROR');
      expect(e.logs?.[0]?.logs[0]?.exit_code).toBe(1);
      const meta = metadataOf(e);
      expect(meta.protes_attempts).toMatch(/^\w+: accepted as [^;]+$/);
      expect(systemLogsOf(e).join('\n')).not.toMatch(/resubmitting/);
      const byNode = await copies(executorError);
      expect(Object.values(byNode).flat()).toHaveLength(1);
      expect(byNode[meta.protes_node].map((c) => c.state)).toEqual(['EXECUTOR_ERROR']);
    }, 30_000);
  });

  describe('a two-node federation', () => {
    let federation: Federation;

    beforeAll(async () => {
      const nodes = await startNodes([{ name: 'east' }, { name: 'west' }]);
      // PREEMPTED is shown as it is once resubmissions run out (checked in the last test here).
      federation = await startFederation('forget', nodes, {
        PROTES_TRACKER__EXPOSE_PREEMPTED: 'true',
      });
    }, 30_000);

    afterAll(() => stopFederation(federation), 30_000);

    it('resubmits elsewhere a task its node no longer knows after a restart', async () => {
      const { api, nodes } = federation;
      const id = await api.create(task(`${RUN}-forgotten`, { 'sim.run_ms': '4000' }));
      const running = await api.waitForState(id, 'RUNNING', 10_000);
      const firstMeta = metadataOf(running);
      const first = nodes.find((n) => n.name === firstMeta.protes_node);
      if (!first) throw new Error(`the task runs on no known node: ${JSON.stringify(firstMeta)}`);
      const other = nodes.find((n) => n !== first) as SimNode;
      const remoteId = firstMeta.protes_remote_id;

      await restartNode(first);
      const gone = await simCall(`${first.started.url}${TES_PATH}/tasks/${remoteId}`);
      expect(gone.status).toBe(404);

      const done = await api.waitForState(id, TERMINAL, 15_000);
      expect(done.id).toBe(id);
      expect(done.state).toBe('COMPLETE');
      const meta = metadataOf(done);
      expect(meta.protes_node).toBe(other.name);
      expect(meta.protes_attempts).toBe(
        `${first.name}: failed (node ${first.name} no longer knows task ${remoteId}); ` +
          `${other.name}: accepted as ${meta.protes_remote_id}`,
      );
      expect(systemLogsOf(done)).toContainEqual(
        expect.stringMatching(
          new RegExp(`node ${first.name} no longer knows task ${remoteId}.*resubmitting`),
        ),
      );
      expect(await copiesOn(first, id)).toEqual([]);
      expect((await copiesOn(other, id)).map((c) => c.state)).toEqual(['COMPLETE']);
    }, 30_000);

    // With no untried node left, a lost task ends in the node's own state, not resubmitted.
    it('ends a task preempted on both nodes PREEMPTED, its last loss not resubmitted', async () => {
      const { api } = federation;
      const id = await api.create(
        task(`${RUN}-preempted-everywhere`, { 'sim.outcome': 'PREEMPTED', 'sim.run_ms': '100' }),
      );
      const ended = await api.waitForState(id, TERMINAL, 10_000);
      const notes = systemLogsOf(ended).filter((line) => line.includes('ended PREEMPTED'));
      expect(notes).toHaveLength(2);
      expect(notes[0]).toMatch(/resubmitting to another node$/);
      expect(notes[1]).not.toMatch(/resubmitting/);
      expect(ended.state).toBe('PREEMPTED');
    }, 20_000);
  });

  it('answered everything with bodies that match its schemas, and logged no error', () => {
    // Run last: every scenario's gateway was started (and stopped).
    expect(gateways).toHaveLength(4);
    expect(clients.flatMap((c) => c.violations)).toEqual([]);
    // The gateway writes only error and fatal logs to stderr (warnings go to stdout).
    for (const gateway of gateways) {
      expect(loggedErrors(gateway)).toBe('');
    }
  });
});
