import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MiddlewareDecision } from '@protes/persistence';
import type { ErrorResponse, TesTask, TesTaskRequest } from '@protes/tes';
import { startGateway, startSimulator, type Started } from '../../scripts/processes';
import {
  accepting,
  CheckedApi,
  e2eGatewayEnv,
  metadataOf,
  simCall,
  tail,
  TES_PATH,
  waitFor,
} from './helpers';

/**
 * The middleware chain end to end: the compiled gateway (`npm run build`) in front of three
 * simulated TES nodes at different places, with the example plugin package loaded by configuration
 * alone. Tests run in order and share one store.
 */

const RUN = `mw${Date.now().toString(36)}`;
/** Name → where the node is, and its configured tags. */
const NODES = {
  west: { location: { latitude: 40.7, longitude: -74 }, tags: { zone: 'west' } },
  centre: { location: { latitude: 46.2, longitude: 6.1 }, tags: { zone: 'centre' } },
  east: { location: { latitude: 35.7, longitude: 139.7 }, tags: { zone: 'east', gpu: 'a100' } },
};
type NodeName = keyof typeof NODES;
const NODE_NAMES = Object.keys(NODES) as NodeName[];
const SIM_ARGS = ['--queued-ms', '20', '--initializing-ms', '20', '--running-ms', '100'];
const MANAGEMENT = '/protes/v1/middlewares';

let dir: string;
const sims = new Map<NodeName, Started>();
const gateways: Started[] = [];
let gateway: Started;
let api: CheckedApi;

function gatewayEnv(): NodeJS.ProcessEnv {
  const nodes = NODE_NAMES.map((name) => ({
    name,
    url: `${sims.get(name)?.url}${TES_PATH}`,
    ...NODES[name],
    health: { probeIntervalMs: 200, failureThreshold: 2, coolDownMs: 1000 },
  }));
  return e2eGatewayEnv(dir, nodes, {
    // The plugin, by configuration alone: a path from the working directory (the repository).
    PROTES_MIDDLEWARE__MODULES: '["./examples/protes-middleware-example"]',
    PROTES_MIDDLEWARE__CHAIN: JSON.stringify([
      { name: 'reject-large-tasks', settings: { maxCpuCores: 8 } },
      { name: 'prefer-tagged-node', settings: { tag: 'gpu' } },
    ]),
  });
}

async function launch(): Promise<void> {
  gateway = await startGateway(gatewayEnv());
  gateways.push(gateway);
  if (api) api.baseUrl = gateway.url;
  else api = new CheckedApi(gateway.url);
}

/** A call to the management API (not TES: not schema-checked). */
async function manage<T = ChainView>(
  method: 'GET' | 'PUT' | 'PATCH' | 'DELETE',
  path = '',
  json?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${gateway.url}${MANAGEMENT}${path}`, {
    method,
    headers: json === undefined ? {} : { 'content-type': 'application/json' },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  return { status: response.status, body: (await response.json()) as T };
}

interface ChainView {
  source: string;
  chain: unknown[];
  registered: string[];
}

const task = (name: string, extra: Partial<TesTaskRequest> = {}): TesTaskRequest => ({
  name: `${RUN}-${name}`,
  executors: [{ image: 'alpine', command: ['true'] }],
  tags: { 'e2e.run': RUN },
  ...extra,
});

const decisionsOf = (t: TesTask): MiddlewareDecision[] =>
  JSON.parse(metadataOf(t).protes_decisions ?? '[]') as MiddlewareDecision[];

/** Submits a task and waits until it is forwarded: its FULL view. */
async function placed(name: string, extra: Partial<TesTaskRequest> = {}): Promise<TesTask> {
  return api.waitForState(await api.create(task(name, extra)), ['RUNNING', 'COMPLETE']);
}

async function createCallsOnNodes(): Promise<number> {
  let total = 0;
  for (const sim of sims.values()) {
    const stats = await simCall<{ requests: Record<string, number> }>(`${sim.url}/sim/stats`);
    total += stats.body.requests['POST /tasks'];
  }
  return total;
}

async function breakerOf(node: NodeName): Promise<string | undefined> {
  const nodes = await api.nodes();
  return nodes.find((n) => n.name === node)?.breaker;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'protes-middleware-e2e-'));
  for (const name of NODE_NAMES) sims.set(name, await startSimulator({ name, args: SIM_ARGS }));
  await launch();
}, 30_000);

afterAll(async () => {
  await Promise.all([...gateways, ...sims.values()].map((p) => p.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('middleware end to end', () => {
  it('loads the example plugin named in the configuration', async () => {
    const { status, body } = await manage('GET');
    expect(status).toBe(200);
    expect(body.source).toBe('configuration');
    expect(body.registered).toEqual(
      expect.arrayContaining(['prefer-tagged-node', 'reject-large-tasks', 'random', 'distance']),
    );
  });

  it('sends tasks where the plugin ranks first, and records each decision on the task', async () => {
    for (const i of [1, 2, 3]) {
      const full = await placed(`tagged-${i}`);
      expect(metadataOf(full).protes_node).toBe('east');
      expect(decisionsOf(full)).toEqual([
        expect.objectContaining({
          entry: 0,
          middleware: 'reject-large-tasks',
          outcome: 'applied',
          order: ['west', 'centre', 'east'],
          ms: expect.any(Number),
        }),
        expect.objectContaining({
          entry: 1,
          middleware: 'prefer-tagged-node',
          outcome: 'applied',
          order: ['east', 'west', 'centre'],
        }),
      ]);
    }
  });

  it('refuses a task the plugin rejects with its 400 and reason; it is stored and sent nowhere', async () => {
    const before = await createCallsOnNodes();
    const name = `${RUN}-too-big`;
    const answer = await api.call<ErrorResponse>('POST', `${TES_PATH}/tasks`, {
      json: task('too-big', { resources: { cpu_cores: 64 } }),
    });
    expect(answer.status).toBe(400);
    expect(answer.body.msg).toBe(
      'rejected by reject-large-tasks: resources.cpu_cores is 64, more than the 8 allowed',
    );
    expect((await api.list({ name_prefix: name })).tasks).toEqual([]);
    expect(await createCallsOnNodes()).toBe(before);
  });

  it('follows a chain changed through the management API from the next task, and after a restart', async () => {
    const chain = [{ name: 'prefer-tagged-node', settings: { tag: 'zone', value: 'west' } }];
    const put = await manage('PUT', '', { chain });
    expect(put.status).toBe(200);
    expect(put.body.source).toBe('store');
    expect(metadataOf(await placed('changed')).protes_node).toBe('west');

    const unknown = await manage<ErrorResponse>('PUT', '', { chain: ['prefer-west'] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([
      { field: 'chain[0]', reason: expect.stringMatching(/^"prefer-west" is not a registered/) },
    ]);

    await gateway.stop();
    await launch();
    expect((await manage('GET')).body).toMatchObject({
      source: 'store',
      chain: [{ name: 'prefer-tagged-node', settings: { tag: 'zone', value: 'west' } }],
    });
    expect(metadataOf(await placed('after-restart')).protes_node).toBe('west');
  }, 30_000);

  describe('distance and circuit breakers', () => {
    // Inputs in a bucket near centre: centre is nearest, then west, then east.
    const nearCentre = {
      inputs: [{ path: '/data/in.txt', url: 's3://centre-data/in.txt' }],
    };

    beforeAll(async () => {
      const settings = {
        rules: [{ prefix: 's3://centre-data/', location: { latitude: 47.4, longitude: 8.5 } }],
      };
      const put = await manage('PUT', '', { chain: [{ name: 'distance', settings }] });
      expect(put.status).toBe(200);
    });

    it('sends a task to the node nearest its inputs', async () => {
      const full = await placed('near-centre', nearCentre);
      expect(metadataOf(full).protes_node).toBe('centre');
      expect(decisionsOf(full)[0]).toMatchObject({
        middleware: 'distance',
        order: ['centre', 'west', 'east'],
      });
    });

    it('opens the breaker of a node that is down and sends its tasks to the next nearest, then closes it', async () => {
      const centre = sims.get('centre') as Started;
      const outage = await simCall(`${centre.url}/sim/outage`, 'POST', {
        mode: 'refuse',
        ms: 3000,
      });
      expect(outage.status).toBe(200);
      await waitFor('centre to refuse', async () => !(await accepting(centre.url)), {
        timeoutMs: 2000,
      });
      await waitFor(
        'the breaker of centre to open',
        async () => (await breakerOf('centre')) === 'open',
        {
          timeoutMs: 3000,
        },
      );
      const info = await api.nodes();
      expect(info.find((n) => n.name === 'centre')).toMatchObject({ healthy: false });
      expect(
        info
          .filter((n) => n.breaker === 'closed')
          .map((n) => n.name)
          .sort(),
      ).toEqual(['east', 'west']);

      const full = await placed('centre-down', nearCentre);
      expect(metadataOf(full).protes_node).toBe('west');
      // An open node is no candidate: never offered the task.
      expect(decisionsOf(full)[0].order).toEqual(['west', 'east']);
      expect(metadataOf(full).protes_attempts).toMatch(/^west: accepted as /);

      await waitFor(
        'the breaker of centre to close',
        async () => (await breakerOf('centre')) === 'closed',
        {
          timeoutMs: 8000,
        },
      );
      expect(metadataOf(await placed('centre-back', nearCentre)).protes_node).toBe('centre');
    }, 20_000);
  });

  it('logged no error', () => {
    for (const g of gateways) {
      const lines = g.stderr().split('\n');
      const errors = lines.filter(
        (l) => l.trim() && !/^\(node:\d+\) \w*Warning|^\(Use `node/.test(l),
      );
      expect(tail(errors.join('\n'))).toBe('');
    }
  });
});
