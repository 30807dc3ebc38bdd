import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MiddlewareDecision } from '@protes/core';
import type { TesTask, TesTaskRequest } from '@protes/tes';
import { startGateway, startSimulator, type Started } from '../../scripts/processes';
import { CheckedApi, metadataOf, simCall, TES_PATH, waitFor } from './helpers';

/**
 * A TES 1.0 node and a TES 1.1 node behind one gateway (the compiled apps: `npm run build`), with
 * `tes-compat` in the chain: each node gets its own version of a task at forwarding (the forNode
 * hook), so the 1.0 node gets what 1.0 takes, and a failover from it to the 1.1 node gets the task
 * as the client sent it. The 1.0 node is a simulator in `--tes-version 1.0.0` mode: it refuses what
 * 1.1 added with a 400, as a strict 1.0 server would. Tests run in order and share one store.
 */

const RUN = `t10${Date.now().toString(36)}`;
const SIM_ARGS = ['--queued-ms', '20', '--initializing-ms', '20', '--running-ms', '60'];
const MANAGEMENT = '/protes/v1/middlewares';
/** Request fields TES 1.1 added. */
const ONLY_11 = [
  'streamable',
  'path_prefix',
  'ignore_error',
  'backend_parameters',
  'backend_parameters_strict',
];

let dir: string;
let old: Started;
let current: Started;
let gateway: Started;
let api: CheckedApi;

/** A task using 1.1 fields that a 1.0 node can do without (so tes-compat keeps it as candidate). */
const droppable = (name: string): TesTaskRequest => ({
  name: `${RUN}-${name}`,
  inputs: [{ path: '/data/in.txt', content: 'hello\n', streamable: true }],
  outputs: [{ path: '/data/out.txt', url: 'file:///tmp/out.txt', path_prefix: '/data/' }],
  executors: [{ image: 'alpine', command: ['cat', '/data/in.txt'], ignore_error: false }],
  resources: { cpu_cores: 1, backend_parameters: { queue: 'short' } },
  tags: { 'e2e.run': RUN },
});

const decisionsOf = (t: TesTask): MiddlewareDecision[] =>
  JSON.parse(metadataOf(t).protes_decisions ?? '[]') as MiddlewareDecision[];

/** Every key anywhere in a JSON value. */
function keysOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(keysOf);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => [key, ...keysOf(child)]);
}

/** The task as the node that runs it holds it (its FULL view). */
async function onNode(full: TesTask): Promise<TesTask> {
  const node = metadataOf(full).protes_node === 'old' ? old : current;
  const remoteId = metadataOf(full).protes_remote_id;
  const answer = await simCall<TesTask>(
    `${node.url}${TES_PATH}/tasks/${encodeURIComponent(remoteId)}?view=FULL`,
  );
  expect(answer.status).toBe(200);
  return answer.body;
}

async function manage(method: 'PUT' | 'DELETE', json?: unknown): Promise<number> {
  const response = await fetch(`${gateway.url}${MANAGEMENT}`, {
    method,
    headers: json === undefined ? {} : { 'content-type': 'application/json' },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  await response.text();
  return response.status;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'protes-tes10-e2e-'));
  old = await startSimulator({ name: 'old', args: [...SIM_ARGS, '--tes-version', '1.0.0'] });
  current = await startSimulator({ name: 'current', args: SIM_ARGS });
  // Probed once at start (to learn each node's TES version), then rarely: the outage below must
  // fail a forwarding, not open the 1.0 node's breaker before the task reaches it.
  const health = { probeIntervalMs: 60_000, failureThreshold: 5, coolDownMs: 1000 };
  gateway = await startGateway({
    PROTES_CONFIG: '',
    PROTES_STORE__DRIVER: 'sqlite',
    PROTES_SERVER__PORT: '0',
    PROTES_STORE__SQLITE_PATH: join(dir, 'protes.db'),
    // In this order, so that the chain (which does not rank) offers the 1.0 node first.
    PROTES_NODES: JSON.stringify([
      { name: 'old', url: `${old.url}${TES_PATH}`, health },
      { name: 'current', url: `${current.url}${TES_PATH}`, health },
    ]),
    PROTES_TRACKER__MIN_POLL_MS: '50',
    PROTES_TRACKER__MAX_POLL_MS: '300',
    PROTES_FORWARDING__TIMEOUT_MS: '2000',
    PROTES_LOG__LEVEL: 'error',
    PROTES_MIDDLEWARE__CHAIN: JSON.stringify(['tes-compat']),
  });
  api = new CheckedApi(gateway.url);
  await waitFor('both TES versions', async () => {
    const versions = (await api.nodes()).map((n) => [n.name, n.tesVersion]);
    return (
      JSON.stringify(versions) ===
      JSON.stringify([
        ['old', '1.0.0'],
        ['current', '1.1.0'],
      ])
    );
  });
}, 60_000);

afterAll(async () => {
  await Promise.all([gateway, old, current].filter(Boolean).map((p) => p.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('a TES 1.0 node and a TES 1.1 node behind tes-compat', () => {
  it('runs a task with 1.1 fields on the 1.0 node, which gets it as 1.0 takes it', async () => {
    const sent = droppable('on-old');
    const full = await api.waitForState(await api.create(sent), 'COMPLETE');

    // The client's view is valid TES 1.1 (CheckedApi holds every answer to the schema) and shows
    // the task as the client sent it.
    expect(metadataOf(full).protes_node).toBe('old');
    expect(full.inputs).toEqual(sent.inputs);
    expect(full.outputs).toEqual(sent.outputs);
    expect(full.executors).toEqual(sent.executors);
    expect(full.resources).toEqual(sent.resources);
    expect(full.logs?.[0].logs[0]).toMatchObject({ exit_code: 0 });

    // The node got the 1.0 version: no 1.1 field, every file with its type.
    const remote = await onNode(full);
    expect(keysOf(remote).filter((key) => ONLY_11.includes(key))).toEqual([]);
    expect(remote.inputs).toEqual([{ path: '/data/in.txt', content: 'hello\n', type: 'FILE' }]);
    expect(remote.outputs).toEqual([
      { path: '/data/out.txt', url: 'file:///tmp/out.txt', type: 'FILE' },
    ]);
    expect(remote.resources).toEqual({ cpu_cores: 1 });
    expect(remote.state).toBe('COMPLETE');

    // The chain kept both nodes; the forNode hook rewrote the task for the 1.0 node. The node's
    // answers needed no translation, so no fromNode decision.
    expect(decisionsOf(full)).toEqual([
      expect.objectContaining({
        entry: 0,
        middleware: 'tes-compat',
        outcome: 'applied',
        order: ['old', 'current'],
      }),
      expect.objectContaining({
        entry: 0,
        middleware: 'tes-compat',
        outcome: 'applied',
        order: ['old'],
        reason: 'forNode for node old: changed inputs, outputs, executors, resources',
        ms: expect.any(Number),
      }),
    ]);
  });

  it('sends a task that needs 1.1 to the 1.1 node only, as the client sent it', async () => {
    const sent: TesTaskRequest = {
      ...droppable('needs-11'),
      executors: [
        { image: 'alpine', command: ['false'], ignore_error: true },
        { image: 'alpine', command: ['true'] },
      ],
    };
    const full = await api.waitForState(await api.create(sent), 'COMPLETE');
    expect(metadataOf(full).protes_node).toBe('current');
    expect(decisionsOf(full)).toEqual([
      expect.objectContaining({ middleware: 'tes-compat', order: ['current'] }),
    ]);
    const remote = await onNode(full);
    expect(remote.executors).toEqual(sent.executors);
    expect(remote.inputs).toEqual(sent.inputs);
  });

  it('fails over from the 1.0 node, when it is down, to the 1.1 node with the 1.1 fields kept', async () => {
    const outage = await simCall(`${old.url}/sim/outage`, 'POST', { mode: 'error', ms: 5000 });
    expect(outage.status).toBe(200);
    try {
      const sent = droppable('failover');
      const full = await api.waitForState(await api.create(sent), 'COMPLETE');
      expect(metadataOf(full).protes_node).toBe('current');
      expect(metadataOf(full).protes_attempts).toMatch(
        /^old: failed \(old: HTTP 503 .*\); current: accepted as /,
      );
      // The 1.0 version was made for the node tried first; the 1.1 node got the original.
      expect(decisionsOf(full).slice(1)).toEqual([
        expect.objectContaining({
          middleware: 'tes-compat',
          order: ['old'],
          reason: 'forNode for node old: changed inputs, outputs, executors, resources',
        }),
      ]);
      const remote = await onNode(full);
      expect(remote.inputs).toEqual(sent.inputs);
      expect(remote.outputs).toEqual(sent.outputs);
      expect(remote.executors).toEqual(sent.executors);
      expect(remote.resources).toEqual(sent.resources);
      expect(remote.tags).toEqual({ ...sent.tags, protes_id: full.id });
    } finally {
      await simCall(`${old.url}/sim/outage`, 'POST', { mode: 'error', ms: 0 });
    }
  });

  it('without tes-compat, the 1.0 node refuses the 1.1 fields (400) and the task goes on to the 1.1 node', async () => {
    expect(await manage('PUT', { chain: [{ name: 'tes-compat', enabled: false }] })).toBe(200);
    try {
      const full = await api.waitForState(await api.create(droppable('no-compat')), 'COMPLETE');
      expect(metadataOf(full).protes_node).toBe('current');
      expect(metadataOf(full).protes_attempts).toMatch(
        /^old: failed \(old: HTTP 400 .*inputs\[0\]\.streamable is not part of TES 1\.0/,
      );
      // A disabled entry's hooks do not run either.
      expect(decisionsOf(full)).toEqual([
        expect.objectContaining({ middleware: 'tes-compat', outcome: 'skipped' }),
      ]);
    } finally {
      expect(await manage('DELETE')).toBe(200);
    }
  });

  it('lists every task in each view as valid TES 1.1', async () => {
    for (const view of ['MINIMAL', 'BASIC', 'FULL']) {
      const tasks = await api.listAll({ view, name_prefix: RUN });
      expect(tasks).toHaveLength(4);
      expect(tasks.every((t) => t.state === 'COMPLETE')).toBe(true);
    }
    expect(api.violations).toEqual([]);
  });
});
