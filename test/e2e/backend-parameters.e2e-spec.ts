import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeStatus } from '@protes/distribution';
import type { MiddlewareDecision } from '@protes/persistence';
import type { TesResources, TesTask, TesTaskRequest } from '@protes/tes';
import { startGateway, type Started } from '../../scripts/processes';
import {
  CheckedApi,
  expectFieldError,
  loggedErrors,
  metadataOf,
  simCall,
  startSimulators,
  TES_PATH,
  waitFor,
  e2eGatewayEnv,
} from './helpers';

/**
 * Backend parameters end to end: the compiled gateway (`npm run build`) with its default chain
 * (`random`) in front of two simulated TES nodes, `plain`, which declares no backend parameters
 * (it advertises only its storage), and `gpu`, whose configuration says which keys it supports.
 * Tests run in order and share one store.
 */

const RUN = `bp${Date.now().toString(36)}`;
const NODE_NAMES = ['plain', 'gpu'] as const;
type NodeName = (typeof NODE_NAMES)[number];
const GPU_KEYS = ['gpu_type', 'VmSize'];
const SIM_ARGS = ['--queued-ms', '20', '--initializing-ms', '20', '--running-ms', '100'];
const MANAGEMENT = '/protes/v1/middlewares';

let dir: string;
const sims = new Map<string, Started>();
let gateway: Started;
let api: CheckedApi;

function gatewayEnv(): NodeJS.ProcessEnv {
  const nodes = NODE_NAMES.map((name) => ({
    name,
    url: `${sims.get(name)?.url}${TES_PATH}`,
    ...(name === 'gpu' && { resources: { backendParameters: GPU_KEYS } }),
    // A node may refuse a task it cannot run: that must not open its breaker in these tests.
    health: { probeIntervalMs: 200, failureThreshold: 10, coolDownMs: 1000 },
  }));
  return e2eGatewayEnv(dir, nodes);
}

const task = (
  name: string,
  resources: TesResources,
  tags: Record<string, string> = {},
): TesTaskRequest => ({
  name: `${RUN}-${name}`,
  executors: [{ image: 'alpine', command: ['true'] }],
  resources,
  tags: { 'e2e.run': RUN, ...tags },
});

const decisionsOf = (t: TesTask): MiddlewareDecision[] =>
  JSON.parse(metadataOf(t).protes_decisions ?? '[]') as MiddlewareDecision[];

/** The nodes a task was offered to, in order, from its `protes_attempts`. */
const attemptedNodes = (t: TesTask): string[] =>
  (metadataOf(t).protes_attempts ?? '').split('; ').map((attempt) => attempt.split(':')[0]);

async function createCallsOnNodes(): Promise<number> {
  let total = 0;
  for (const sim of sims.values()) {
    const stats = await simCall<{ requests: Record<string, number> }>(`${sim.url}/sim/stats`);
    total += stats.body.requests['POST /tasks'];
  }
  return total;
}

/** The nodes as proTES's own API shows them (not TES: not schema-checked). */
async function nodeStatus(): Promise<NodeStatus[]> {
  const response = await fetch(`${gateway.url}/protes/v1/nodes`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { nodes: NodeStatus[] }).nodes;
}

async function putChain(chain: unknown[]): Promise<void> {
  const response = await fetch(`${gateway.url}${MANAGEMENT}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ chain }),
  });
  expect(response.status).toBe(200);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'protes-backend-parameters-e2e-'));
  await startSimulators(NODE_NAMES, SIM_ARGS, sims);
  gateway = await startGateway(gatewayEnv());
  api = new CheckedApi(gateway.url);
}, 30_000);

afterAll(async () => {
  await Promise.all([gateway, ...sims.values()].filter(Boolean).map((p) => p.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('backend parameters end to end', () => {
  it('shows what each node supports: configured, else what its service-info advertises', async () => {
    // The simulators advertise their storage; the gateway reads it with its first probes.
    const nodes = await waitFor('the first probes', async () => {
      const all = await nodeStatus();
      return all.every((n) => n.tesVersion) && all;
    });
    const byName = new Map(nodes.map((n) => [n.name, n]));
    expect(byName.get('gpu')).toMatchObject({ backendParameters: GPU_KEYS, healthy: true });
    expect(byName.get('plain')).toMatchObject({ storage: ['file:///sim'], healthy: true });
    expect(byName.get('plain')?.backendParameters).toBeUndefined();

    const info = await api.serviceInfo();
    expect(info.tesResources_backend_parameters).toEqual(['VmSize', 'gpu_type']);
    expect(info.storage).toContain('file:///sim');
  });

  it('refuses a strict key no node supports with a 400 naming it; nothing is stored or sent', async () => {
    const before = await createCallsOnNodes();
    const answer = await api.call('POST', `${TES_PATH}/tasks`, {
      json: task('strict-unknown', {
        backend_parameters: { gpu_type: 'a100', no_such_key: 'x' },
        backend_parameters_strict: true,
      }),
    });
    const body = expectFieldError(answer, 'resources.backend_parameters.no_such_key');
    // The key the gpu node supports is not named.
    expect(body.errors?.map((e) => e.field)).toEqual(['resources.backend_parameters.no_such_key']);
    expect((await api.list({ name_prefix: `${RUN}-strict-unknown` })).tasks).toEqual([]);
    expect(await createCallsOnNodes()).toBe(before);
  });

  it('sends a strict task only to the node supporting its keys, with the default chain', async () => {
    for (const i of [1, 2, 3, 4]) {
      // Keys compare case-insensitively: the node declares gpu_type.
      const id = await api.create(
        task(`strict-known-${i}`, {
          backend_parameters: { GPU_TYPE: 'a100' },
          backend_parameters_strict: true,
        }),
      );
      // POST answers before the forward (the outbox): wait until it was offered to a node (which
      // refuses it: the simulator declares no keys, only the gateway's configuration does).
      const full = await waitFor('the task to be offered to a node', async () => {
        const current = await api.get(id, 'FULL');
        return metadataOf(current).protes_attempts ? current : undefined;
      });
      expect(attemptedNodes(full)).toEqual(['gpu']);
      expect(decisionsOf(full)).toEqual([
        expect.objectContaining({
          entry: -1,
          middleware: 'backend-parameters',
          outcome: 'applied',
          order: ['gpu'],
        }),
        expect.objectContaining({ entry: 0, middleware: 'random', order: ['gpu'] }),
      ]);
    }
  });

  describe('without strict', () => {
    // The client chooses the node, so that each test knows where its task goes.
    beforeAll(() => putChain(['client-preference', 'random']));
    afterAll(async () => {
      await fetch(`${gateway.url}${MANAGEMENT}`, { method: 'DELETE' });
    });

    const hints = { backend_parameters: { gpu_type: 'a100', unknown_key: 'x' } };

    it('accepts a key a node does not support, drops it for that node and notes the drop', async () => {
      const id = await api.create(task('hint-gpu', hints, { 'protes.node': 'gpu' }));
      const full = await api.placed(id);
      expect(metadataOf(full).protes_node).toBe('gpu');
      expect(decisionsOf(full)).toContainEqual(
        expect.objectContaining({
          entry: -1,
          middleware: 'backend-parameters',
          outcome: 'applied',
          order: ['gpu'],
          reason: expect.stringContaining('dropped unknown_key for node gpu') as string,
        }),
      );
      // The client's task is kept as it was sent.
      expect(full.resources).toEqual(hints);
      const remote = await simCall<TesTask>(
        `${sims.get('gpu')?.url}${TES_PATH}/tasks/${metadataOf(full).protes_remote_id}?view=FULL`,
      );
      expect(remote.status).toBe(200);
      expect(remote.body.resources?.backend_parameters ?? {}).not.toHaveProperty('unknown_key');
    });

    it('sends the keys unchanged to a node that declares none', async () => {
      const node: NodeName = 'plain';
      const id = await api.create(task('hint-plain', hints, { 'protes.node': node }));
      const full = await api.placed(id);
      expect(metadataOf(full).protes_node).toBe(node);
      expect(decisionsOf(full).map((d) => d.middleware)).toEqual(['client-preference', 'random']);
    });
  });

  it('logged no error', () => {
    expect(loggedErrors(gateway)).toBe('');
  });
});
