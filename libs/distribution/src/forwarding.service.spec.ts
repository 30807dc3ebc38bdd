import { Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { loadConfig, type NodeConfig, ProtesConfigModule } from '@protes/config';
import { PersistenceModule, type TaskRecord, TaskStore } from '@protes/persistence';
import { newRecord } from '@protes/persistence/task-store.contract';
import type { TesTaskRequest } from '@protes/tes';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DistributionModule } from './distribution.module';
import { ForwardingService, plannedRoute } from './forwarding.service';
import { TaskRejectedException } from './middleware/chain.service';
import { MiddlewarePluginsModule } from './middleware/custom-modules';
import { MiddlewareRejection, type TaskContext } from './middleware/middleware';
import type { HookNode } from '@protes/middleware-sdk';
import { NodeRegistry } from './node-registry';

/**
 * A TES node that answers service-info (with `info`) and create, or 503 while `down`; with
 * `refuseTasks`, it answers `refuseStatus` (500) to create only (and keeps what it was sent in
 * `refused`).
 */
class FakeNode {
  down = false;
  refuseTasks = false;
  refuseStatus = 500;
  info: Record<string, unknown> = { type: { version: '1.1.0' } };
  readonly created: TesTaskRequest[] = [];
  readonly refused: TesTaskRequest[] = [];
  private server!: Server;
  url = '';

  static async start(): Promise<FakeNode> {
    const node = new FakeNode();
    node.server = createServer((req, res) => void node.answer(req, res));
    await new Promise<void>((resolve) => node.server.listen(0, '127.0.0.1', resolve));
    node.url = `http://127.0.0.1:${(node.server.address() as AddressInfo).port}/ga4gh/tes/v1`;
    return node;
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const reply = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    };
    if (this.down) reply(503, { msg: 'down' });
    else if (req.url?.endsWith('/service-info')) reply(200, this.info);
    else if (this.refuseTasks) {
      this.refused.push(JSON.parse(body) as TesTaskRequest);
      reply(this.refuseStatus, { msg: 'no capacity' });
    } else {
      this.created.push(JSON.parse(body) as TesTaskRequest);
      reply(200, { id: `remote-${this.created.length}` });
    }
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

@Injectable()
class AsConfigured {
  readonly name = 'as-configured';
  handle(context: TaskContext): Promise<TaskContext> {
    return Promise.resolve(context);
  }
}

@Injectable()
class NoNode {
  readonly name = 'no-node';
  handle(context: TaskContext): Promise<TaskContext> {
    return Promise.resolve({ ...context, candidates: [] });
  }
}

@Injectable()
class NoBigTasks {
  readonly name = 'no-big-tasks';
  handle(context: TaskContext): Promise<TaskContext> {
    if (context.task.resources?.cpu_cores) throw new MiddlewareRejection('too big', 413);
    return Promise.resolve(context);
  }
}

/** Sends nothing to n0 (its forNode hook fails there) and tells every other node its name. */
@Injectable()
class NotForN0 {
  readonly name = 'not-for-n0';
  handle(context: TaskContext): Promise<TaskContext> {
    return Promise.resolve(context);
  }
  forNode(task: TesTaskRequest, node: HookNode): TesTaskRequest {
    if (node.name === 'n0') throw new Error('n0 is not for us');
    return { ...task, tags: { ...task.tags, for: node.name } };
  }
}

@Module({ providers: [AsConfigured, NoNode, NoBigTasks, NotForN0] })
class TestMiddlewares {}
jest.mock('test-middlewares', () => ({ default: TestMiddlewares }), { virtual: true });

const FAST = { probeIntervalMs: 20, failureThreshold: 2, coolDownMs: 150 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, probe: () => boolean | Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 3000; !(await probe()); await sleep(10)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

describe('node registry and forwarding', () => {
  const fakes: FakeNode[] = [];
  let app: TestingModule;
  let registry: NodeRegistry;
  let forwarding: ForwardingService;
  let store: TaskStore;

  /** Starts a fake node per entry (n0, n1, ...; `info`: its service-info) and the registry. */
  async function start(
    nodes: (Partial<NodeConfig> & { info?: Record<string, unknown> })[],
    chain: string[] = ['as-configured'],
  ) {
    const configured: NodeConfig[] = [];
    for (const [i, { info, ...node }] of nodes.entries()) {
      const fake = await FakeNode.start();
      if (info) fake.info = info;
      fakes.push(fake);
      configured.push({ name: `n${i}`, url: fake.url, health: FAST, ...node });
    }
    const config = {
      ...loadConfig({ PROTES_MIDDLEWARE__CHAIN: JSON.stringify(chain) }),
      nodes: configured,
    };
    app = await Test.createTestingModule({
      imports: [
        ProtesConfigModule.forRoot(config),
        PersistenceModule.forRoot({ driver: 'sqlite', path: ':memory:' }),
        MiddlewarePluginsModule.forRoot(['test-middlewares']),
        DistributionModule,
      ],
    }).compile();
    await app.init();
    registry = app.get(NodeRegistry);
    forwarding = app.get(ForwardingService);
    store = app.get(TaskStore);
  }

  afterEach(async () => {
    await app?.close();
    await Promise.all(fakes.splice(0).map((f) => f.close()));
  });

  const stored = async (fields: Partial<TaskRecord> = {}) => {
    const record = newRecord(fields);
    await store.create(record);
    return record;
  };
  const caller = { subject: 'alice', headers: {} };
  /** A new task as the gateway stores it: with the route the chain chose (the outbox entry). */
  const routed = async () => {
    const record = newRecord();
    const { decisions, ...route } = plannedRoute(
      await forwarding.route(record.id, record.received, caller),
    );
    return stored({ id: record.id, route, decisions });
  };
  const names = async () => (await registry.candidates()).map((c) => c.name);

  describe('NodeRegistry', () => {
    it('gives each node its configured metadata (weight 1 unless set), never its credentials', async () => {
      await start([
        {
          credentials: { bearer: 'secret' },
          location: { latitude: 46.2, longitude: 6.1 },
          region: 'eu',
          storage: { read: ['s3://eu-bucket/'] },
          resources: { cpuCores: 64, backendParameters: ['queue'] },
          tags: { gpu: 'a100' },
        },
        { weight: 3 },
      ]);
      const [first, second] = await registry.candidates();
      expect(first).toMatchObject({
        name: 'n0',
        health: { healthy: true },
        load: 0,
        metadata: {
          location: { latitude: 46.2, longitude: 6.1 },
          region: 'eu',
          storage: { read: ['s3://eu-bucket/'] },
          resources: { cpuCores: 64, backendParameters: ['queue'] },
          tags: { gpu: 'a100' },
          weight: 1,
        },
      });
      expect(JSON.stringify(first)).not.toContain('secret');
      expect(second.metadata.weight).toBe(3);
    });

    it('reads the TES version from service-info probes', async () => {
      await start([{}]);
      await waitFor('the version', async () => (await registry.status())[0].tesVersion === '1.1.0');
      expect((await registry.candidates())[0].metadata.tesVersion).toBe('1.1.0');
    });

    it('reads what each node advertises, and lets its configuration win', async () => {
      const info = {
        type: { version: '1.1.0' },
        storage: ['s3://advertised/', 'file:///data'],
        tesResources_backend_parameters: ['VmSize', 'queue'],
      };
      await start([
        { info, location: { latitude: 46.2, longitude: 6.1 }, region: 'eu' },
        {
          info,
          storage: { read: ['s3://in/', 'https://'], write: ['s3://out/', 's3://in/'] },
          resources: { cpuCores: 8, backendParameters: ['gpu'] },
        },
        {},
      ]);
      await waitFor('the probes', async () =>
        (await registry.status()).every((n) => n.tesVersion === '1.1.0'),
      );
      expect(await registry.status()).toEqual([
        expect.objectContaining({
          name: 'n0',
          healthy: true,
          location: { latitude: 46.2, longitude: 6.1 },
          region: 'eu',
          storage: ['file:///data', 's3://advertised/'],
          backendParameters: ['VmSize', 'queue'],
          breaker: 'closed',
        }),
        expect.objectContaining({
          name: 'n1',
          storage: ['https://', 's3://in/', 's3://out/'],
          backendParameters: ['gpu'],
        }),
        expect.objectContaining({ name: 'n2', storage: undefined, backendParameters: undefined }),
      ]);
      expect(registry.advertised()).toEqual({
        storage: ['file:///data', 'https://', 's3://advertised/', 's3://in/', 's3://out/'],
        backendParameters: ['VmSize', 'gpu', 'queue'],
      });
      // The middlewares see the same: supported keys in resources, advertised storage beside the
      // configured lists (TES: "some, but not necessarily all" locations, so no restriction).
      const [n0, n1, n2] = await registry.candidates();
      expect(n0.metadata.resources).toEqual({ backendParameters: ['VmSize', 'queue'] });
      expect(n0.metadata.storage).toEqual({ advertised: ['s3://advertised/', 'file:///data'] });
      expect(n1.metadata.resources).toEqual({ cpuCores: 8, backendParameters: ['gpu'] });
      expect(n1.metadata.storage).toEqual({
        read: ['s3://in/', 'https://'],
        write: ['s3://out/', 's3://in/'],
        advertised: ['s3://advertised/', 'file:///data'],
      });
      expect(n2.metadata).toMatchObject({ storage: undefined, resources: undefined });
    });

    it('merges backend parameter keys that differ only in case', async () => {
      await start([
        { resources: { backendParameters: ['vmsize', 'Queue'] } },
        { resources: { backendParameters: ['VmSize'] } },
      ]);
      expect(registry.advertised().backendParameters).toEqual(['Queue', 'VmSize']);
    });

    it('keeps what a node advertised while its probes fail, and follows a change', async () => {
      await start([
        { info: { type: { version: '1.1.0' }, tesResources_backend_parameters: ['a'] } },
      ]);
      const keys = async () => (await registry.status())[0].backendParameters;
      await waitFor('the keys', async () => (await keys())?.[0] === 'a');
      fakes[0].down = true;
      await waitFor('n0 open', async () => (await registry.status())[0].breaker === 'open');
      expect(await keys()).toEqual(['a']);
      fakes[0].info = { type: { version: '1.1.0' }, tesResources_backend_parameters: ['b'] };
      fakes[0].down = false;
      await waitFor('the new keys', async () => (await keys())?.[0] === 'b');
    });

    it('opens the breaker after failed probes (no candidate then), and closes it once the node answers', async () => {
      await start([{}, {}]);
      fakes[0].down = true;
      await waitFor('n0 open', async () => (await registry.status())[0].breaker === 'open');
      expect(await registry.status()).toEqual([
        expect.objectContaining({ name: 'n0', healthy: false, breaker: 'open', failures: 2 }),
        expect.objectContaining({ name: 'n1', healthy: true, breaker: 'closed', failures: 0 }),
      ]);
      expect(await names()).toEqual(['n1']);
      expect(registry.unavailable()).toEqual(['n0']);
      fakes[0].down = false;
      await waitFor('n0 closed', async () => (await registry.status())[0].breaker === 'closed');
      expect(await names()).toEqual(['n0', 'n1']);
    });

    it('counts failures reported by others (the tracker) and closes on their success', async () => {
      await start([{ health: { ...FAST, probeIntervalMs: 60_000 } }]);
      registry.report('n0', 'HTTP 502');
      registry.report('n0', 'HTTP 502');
      expect(await names()).toEqual([]);
      registry.report('n0');
      expect(await names()).toEqual(['n0']);
    });

    it('reads each node load from the unfinished tasks of the store, and adds what it forwards', async () => {
      await start([{}, {}]);
      await stored({ node: 'n1', state: 'RUNNING' });
      await stored({ node: 'n1', state: 'QUEUED' });
      await stored({ node: 'n1', state: 'COMPLETE' });
      await stored({ state: 'QUEUED' });
      expect((await registry.candidates()).map((c) => c.load)).toEqual([0, 2]);
      registry.forwarded('n0');
      expect((await registry.status()).map((n) => n.load)).toEqual([1, 2]);
    });
  });

  describe('ForwardingService', () => {
    it('tries the nodes in the order of the chain, records attempts and decisions, tags the task', async () => {
      await start([{}, {}]);
      fakes[0].down = true;
      const record = await routed();
      const done = await forwarding.forward(record);
      expect(done).toMatchObject({ node: 'n1', remoteId: 'remote-1', state: 'QUEUED' });
      expect(done?.attempts.map((a) => [a.node, a.error === undefined])).toEqual([
        ['n0', false],
        ['n1', true],
      ]);
      expect(done?.decisions).toEqual([
        expect.objectContaining({ entry: 0, middleware: 'as-configured', order: ['n0', 'n1'] }),
      ]);
      expect(fakes[1].created[0].tags).toEqual({ protes_id: record.id });
      expect(done?.forwarded?.tags).toEqual({ protes_id: record.id });
    });

    it('settles an attempt whose connection was refused (the node cannot hold the task), and fails over', async () => {
      await start([{}, {}]);
      await fakes[0].close(); // nothing listens on its port any more: ECONNREFUSED
      const done = await forwarding.forward(await routed());
      expect(done).toMatchObject({ node: 'n1', state: 'QUEUED' });
      expect(done?.attempts[0]).toEqual({
        node: 'n0',
        at: expect.any(String),
        error: expect.stringMatching(/ECONNREFUSED/),
      });
    });

    it('does not count a node’s 4xx against it: the breaker stays closed, the next task is placed', async () => {
      await start([{ health: { ...FAST, probeIntervalMs: 60_000 } }]);
      await waitFor('the first probe', async () => !!(await registry.status())[0].checkedAt);
      fakes[0].refuseTasks = true;
      fakes[0].refuseStatus = 413;
      for (let i = 0; i < 3; i++) {
        const done = await forwarding.forward(await routed());
        expect(done).toMatchObject({ state: 'SYSTEM_ERROR' });
        expect(done?.systemLogs[0]).toMatch(/^forwarding to n0: HTTP 413/);
      }
      expect((await registry.status())[0]).toMatchObject({ breaker: 'closed', failures: 0 });
      fakes[0].refuseTasks = false;
      expect(await forwarding.forward(await routed())).toMatchObject({ node: 'n0' });
    });

    it('counts a node’s 5xx against it, and records each attempt before it is settled', async () => {
      await start([{ health: { ...FAST, probeIntervalMs: 60_000 } }]);
      // The first probe's success must not come between the two failures.
      await waitFor('the first probe', async () => !!(await registry.status())[0].checkedAt);
      fakes[0].refuseTasks = true;
      for (let i = 0; i < 2; i++) await forwarding.forward(await routed());
      expect((await registry.status())[0]).toMatchObject({ breaker: 'open', failures: 2 });
      const [record] = (await store.list({ pageSize: 1 })).records;
      expect(record.attempts).toEqual([
        { node: 'n0', at: expect.any(String), error: expect.stringMatching(/HTTP 500/) },
      ]);
      expect(record.history?.map((h) => h.event)).toEqual([
        'attempting',
        'attemptFailed',
        'forwardFailed',
      ]);
    });

    it('skips a node whose breaker opened after the chain ran', async () => {
      await start([{}, {}]);
      const record = await routed();
      registry.report('n0', 'refused');
      registry.report('n0', 'refused');
      const done = await forwarding.forward(record);
      expect(done?.attempts.map((a) => a.node)).toEqual(['n1']);
      expect(fakes[0].created).toEqual([]);
    });

    it('ends the task in SYSTEM_ERROR saying which middleware left no node', async () => {
      await start([{}], ['no-node']);
      const record = await stored();
      const done = await forwarding.forward(record);
      expect(done).toMatchObject({ state: 'SYSTEM_ERROR', attempts: [] });
      expect(done?.systemLogs).toEqual(['no TES node is left after middleware no-node']);
    });

    it('says which nodes have an open circuit when none is available', async () => {
      await start([{ health: { ...FAST, probeIntervalMs: 60_000 } }]);
      registry.report('n0', 'refused');
      registry.report('n0', 'refused');
      const done = await forwarding.forward(await stored());
      expect(done?.systemLogs).toEqual([
        'no TES node is available to run this task (circuit open: n0)',
      ]);
    });

    it('runs the chain again for a stored task, over the nodes not tried yet', async () => {
      await start([{}, {}]);
      const record = await stored({
        attempts: [{ node: 'n0', at: new Date().toISOString(), remoteId: 'x', error: 'lost' }],
      });
      const done = await forwarding.forward(record);
      expect(done?.node).toBe('n1');
      expect(done?.decisions?.[0].order).toEqual(['n1']);
    });

    it('sends nothing once stopped: the task stays in the outbox as it was', async () => {
      await start([{}]);
      const record = await routed();
      forwarding.stop();
      expect(await forwarding.forward(record)).toBeUndefined();
      expect(fakes[0].created).toEqual([]);
      expect(await store.get(record.id)).toMatchObject({
        state: 'QUEUED',
        attempts: [],
        version: record.version,
      });
    });

    it('ends a stored task the chain now refuses, with the reason and the decisions', async () => {
      await start([{}], ['no-big-tasks']);
      const big = {
        executors: [{ image: 'alpine', command: ['true'] }],
        resources: { cpu_cores: 8 },
      };
      await expect(forwarding.route('t', big, caller)).rejects.toMatchObject({ status: 413 });
      const done = await forwarding.forward(await stored({ received: big }));
      expect(done).toMatchObject({
        state: 'SYSTEM_ERROR',
        systemLogs: ['rejected by no-big-tasks: too big'],
        decisions: [expect.objectContaining({ outcome: 'rejected', reason: 'too big' })],
      });
      expect(fakes[0].created).toEqual([]);
    });
  });

  describe('backend parameters', () => {
    const strict = (backend_parameters: Record<string, string>): TesTaskRequest => ({
      executors: [{ image: 'alpine', command: ['true'] }],
      resources: { backend_parameters, backend_parameters_strict: true },
    });

    it('refuses a strict key no configured node supports, with a 400 naming it, whatever the chain', async () => {
      await start([{ resources: { backendParameters: ['VmSize'] } }, {}]);
      const error = (await forwarding
        .route('t', strict({ vmsize: 'large', gpu: 'a100', disk: 'ssd' }), caller)
        .then(
          () => undefined,
          (e: unknown) => e,
        )) as TaskRejectedException;
      expect(error).toBeInstanceOf(TaskRejectedException);
      expect(error.getStatus()).toBe(400);
      expect(error.errors).toEqual([
        {
          field: 'resources.backend_parameters.gpu',
          reason: expect.stringContaining('no TES node'),
        },
        {
          field: 'resources.backend_parameters.disk',
          reason: expect.stringContaining('no TES node'),
        },
      ]);
      expect(error.message).toContain('resources.backend_parameters.gpu');
      expect(error.decisions).toEqual([
        expect.objectContaining({
          entry: -1,
          middleware: 'backend-parameters',
          outcome: 'rejected',
        }),
      ]);
      expect(fakes.flatMap((f) => f.created)).toEqual([]);
    });

    it('narrows the candidates to the nodes supporting every strict key, without `resources` in the chain', async () => {
      await start([
        {},
        { resources: { backendParameters: ['vmsize'] } },
        {
          info: { type: { version: '1.1.0' }, tesResources_backend_parameters: ['VMSIZE', 'gpu'] },
        },
      ]);
      await waitFor('n2 advertising', async () => !!(await registry.status())[2].backendParameters);
      const route = await forwarding.route('t', strict({ VmSize: 'large' }), caller);
      expect(route.candidates.map((c) => c.name)).toEqual(['n1', 'n2']);
      expect(route.decisions.map((d) => [d.entry, d.middleware, d.outcome, d.order])).toEqual([
        [-1, 'backend-parameters', 'applied', ['n1', 'n2']],
        [0, 'as-configured', 'applied', ['n1', 'n2']],
      ]);
      const both = await forwarding.route('t', strict({ VmSize: 'l', GPU: 'x' }), caller);
      expect(both.candidates.map((c) => c.name)).toEqual(['n2']);
      // Forwarded unchanged: strict keys are never dropped.
      const record = await stored({ received: strict({ VmSize: 'large' }) });
      const done = await forwarding.forward(record);
      expect(done?.node).toBe('n1');
      expect(fakes[1].created[0].resources).toEqual(strict({ VmSize: 'large' }).resources);
    });

    it('gives no node when the nodes supporting the strict keys are all unavailable', async () => {
      await start([
        {},
        { resources: { backendParameters: ['gpu'] }, health: { ...FAST, probeIntervalMs: 60_000 } },
      ]);
      registry.report('n1', 'refused');
      registry.report('n1', 'refused');
      const route = await forwarding.route('t', strict({ gpu: 'a100' }), caller);
      expect(route.candidates).toEqual([]);
      const done = await forwarding.forward(await stored({ received: strict({ gpu: 'a100' }) }));
      expect(done).toMatchObject({ state: 'SYSTEM_ERROR', attempts: [] });
      expect(done?.systemLogs).toEqual([
        'no TES node is available to run this task (circuit open: n1)',
      ]);
      expect(fakes[0].created).toEqual([]);
    });

    it('drops, per node, the non-strict keys it does not support, and notes each drop, across a failover', async () => {
      await start([
        { resources: { backendParameters: ['a'] } },
        { info: { type: { version: '1.1.0' }, tesResources_backend_parameters: ['B'] } },
        {},
      ]);
      await waitFor('n1 advertising', async () => !!(await registry.status())[1].backendParameters);
      fakes[0].refuseTasks = true;
      const received: TesTaskRequest = {
        executors: [{ image: 'alpine', command: ['true'] }],
        resources: { cpu_cores: 1, backend_parameters: { a: '1', b: '2', c: '3' } },
      };
      const record = await stored({ received });
      const done = await forwarding.forward(record);
      expect(fakes[0].refused[0].resources).toEqual({
        cpu_cores: 1,
        backend_parameters: { a: '1' },
      });
      expect(fakes[1].created[0].resources).toEqual({
        cpu_cores: 1,
        backend_parameters: { b: '2' },
      });
      expect(done).toMatchObject({ node: 'n1', received });
      expect(done?.forwarded?.resources?.backend_parameters).toEqual({ b: '2' });
      expect(done?.decisions).toEqual([
        expect.objectContaining({ entry: 0, middleware: 'as-configured' }),
        expect.objectContaining({
          entry: -1,
          middleware: 'backend-parameters',
          outcome: 'applied',
          order: ['n0'],
          reason: expect.stringContaining('dropped b, c for node n0') as string,
        }),
        expect.objectContaining({
          middleware: 'backend-parameters',
          order: ['n1'],
          reason: expect.stringContaining('dropped a, c for node n1') as string,
        }),
      ]);
    });

    it('sends the task unchanged to a node that declares no keys', async () => {
      await start([{}]);
      const received: TesTaskRequest = {
        executors: [{ image: 'alpine', command: ['true'] }],
        resources: { backend_parameters: { anything: 'x' } },
      };
      const done = await forwarding.forward(await stored({ received }));
      expect(fakes[0].created[0].resources).toEqual(received.resources);
      expect(done?.decisions?.map((d) => d.middleware)).toEqual(['as-configured']);
    });
  });

  describe('per-node hooks (forNode)', () => {
    /** A 1.1 task whose 1.1 fields a 1.0 node can do without. */
    const received: TesTaskRequest = {
      inputs: [{ path: '/in/a', url: 's3://b/a', streamable: true }],
      outputs: [{ path: '/out/x', url: 's3://b/x', path_prefix: '/out' }],
      executors: [{ image: 'alpine', command: ['true'], ignore_error: false }],
      resources: { cpu_cores: 1, backend_parameters: { queue: 'x' } },
    };

    it('gives a 1.0 node the task as 1.0 takes it, and a 1.1 node after a failover the task as sent', async () => {
      await start([{ info: { type: { version: '1.0.0' } } }, {}], ['tes-compat']);
      await waitFor('n0 as 1.0', async () => (await registry.status())[0].tesVersion === '1.0.0');
      fakes[0].refuseTasks = true;
      const record = await stored({ received });
      const done = await forwarding.forward(record);
      expect(fakes[0].refused).toEqual([
        {
          inputs: [{ path: '/in/a', url: 's3://b/a', type: 'FILE' }],
          outputs: [{ path: '/out/x', url: 's3://b/x', type: 'FILE' }],
          executors: [{ image: 'alpine', command: ['true'] }],
          resources: { cpu_cores: 1 },
          tags: { protes_id: record.id },
        },
      ]);
      expect(fakes[1].created).toEqual([{ ...received, tags: { protes_id: record.id } }]);
      expect(done).toMatchObject({ node: 'n1', received });
      expect(done?.forwarded).toEqual({ ...received, tags: { protes_id: record.id } });
      expect(done?.decisions).toEqual([
        expect.objectContaining({ entry: 0, middleware: 'tes-compat', order: ['n0', 'n1'] }),
        expect.objectContaining({
          entry: 0,
          middleware: 'tes-compat',
          outcome: 'applied',
          order: ['n0'],
          reason: 'forNode for node n0: changed inputs, outputs, executors, resources',
        }),
      ]);
    });

    it('sends a node nothing a hook could not prepare for it, without counting it against the node', async () => {
      await start([{}, {}], ['not-for-n0']);
      const done = await forwarding.forward(await stored());
      expect(fakes[0].created).toEqual([]);
      expect(fakes[1].created[0].tags).toMatchObject({ for: 'n1' });
      expect(done?.node).toBe('n1');
      expect(done?.attempts.map((a) => [a.node, a.error])).toEqual([
        [
          'n0',
          'n0: not sent, middleware not-for-n0 could not prepare the task for this node: not-for-n0: n0 is not for us',
        ],
        ['n1', undefined],
      ]);
      expect(done?.decisions?.slice(1)).toEqual([
        expect.objectContaining({
          middleware: 'not-for-n0',
          outcome: 'failed',
          order: ['n0'],
          reason: 'forNode for node n0: n0 is not for us',
        }),
        expect.objectContaining({
          middleware: 'not-for-n0',
          outcome: 'applied',
          order: ['n1'],
          reason: 'forNode for node n1: changed tags',
        }),
      ]);
      expect((await registry.status())[0]).toMatchObject({ healthy: true, failures: 0 });
    });

    it('ends the task in SYSTEM_ERROR when no node could be prepared for', async () => {
      await start([{}], ['not-for-n0']);
      const done = await forwarding.forward(await stored());
      expect(done?.state).toBe('SYSTEM_ERROR');
      expect(done?.systemLogs).toEqual([
        'forwarding to n0: not sent, middleware not-for-n0 could not prepare the task for this node: not-for-n0: n0 is not for us',
      ]);
    });
  });
});
