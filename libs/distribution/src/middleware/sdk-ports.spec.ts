import { Inject, Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { loadConfig, ProtesConfigModule } from '@protes/config';
import { newTaskRecord, TaskStore } from '@protes/core';
import {
  HTTP_CLIENT,
  type HttpClient,
  NODE_DIRECTORY,
  NODE_LOAD,
  type NodeDirectory,
  type NodeLoad,
  PROTES_CONFIG,
  type ProtesConfigView,
  type TaskContext,
  type TesTask as SdkTask,
  type TesTaskRequest as SdkTaskRequest,
} from '@protes/middleware-sdk';
import { PersistenceModule } from '@protes/persistence';
import type { TesTask, TesTaskRequest } from '@protes/tes';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DistributionModule } from '../distribution.module';
import { NodeRegistry } from '../node-registry';
import { MiddlewarePluginsModule } from './custom-modules';
import { axiosHttpClient, pluginConfig } from './sdk-ports';

/** A plugin's middleware that asks for every port the SDK names. */
@Injectable()
class PortsMiddleware {
  readonly name = 'ports';
  constructor(
    @Inject(PROTES_CONFIG) readonly config: ProtesConfigView,
    @Inject(NODE_DIRECTORY) readonly nodes: NodeDirectory,
    @Inject(NODE_LOAD) readonly load: NodeLoad,
    @Inject(HTTP_CLIENT) readonly http: HttpClient,
  ) {}
  handle(context: TaskContext): Promise<TaskContext> {
    return Promise.resolve(context);
  }
}

@Module({ providers: [PortsMiddleware] })
class PortsPlugin {}

jest.mock('ports-plugin', () => ({ default: PortsPlugin }), { virtual: true });

/** True when A and B are the same type: no field more or less, optional or not, on either side. */
type Same<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

describe('the SDK contract', () => {
  it("restates the gateway's TES task request exactly (a type check: it does not compile otherwise)", () => {
    const same: Same<SdkTaskRequest, TesTaskRequest> = true;
    expect(same).toBe(true);
  });

  it("restates the gateway's TES task (what the hooks read and return) exactly", () => {
    const same: Same<SdkTask, TesTask> = true;
    expect(same).toBe(true);
  });
});

describe('pluginConfig', () => {
  it('is the configuration deep-frozen, without secrets', () => {
    const config = loadConfig({
      PROTES_NODES: JSON.stringify([
        {
          name: 'n1',
          url: 'https://n1.example.org/ga4gh/tes/v1',
          credentials: { username: 'u', password: 'p' },
          tags: { gpu: 'a100' },
        },
      ]),
      PROTES_STORE__MONGO_URL: 'mongodb://admin:hunter2@db.example.org:27017/protes',
      PROTES_AUTH__BASIC__USERS: JSON.stringify([
        { username: 'alice', passwordHash: '$scrypt$n=16384,r=8,p=1$c2FsdA$aGFzaA' },
      ]),
    });
    const view = pluginConfig(config) as {
      nodes: Record<string, unknown>[];
      store: { mongoUrl: string };
      auth: { basic: { users: Record<string, unknown>[] } };
      forwarding: { timeoutMs: number };
    };
    expect(view.nodes[0]).toMatchObject({ name: 'n1', tags: { gpu: 'a100' } });
    expect(view.nodes[0]).not.toHaveProperty('credentials');
    expect(view.store.mongoUrl).toBe('mongodb://db.example.org:27017/protes');
    expect(view.auth.basic.users).toEqual([{ username: 'alice' }]);
    expect(view.forwarding.timeoutMs).toBe(config.forwarding.timeoutMs);
    expect(JSON.stringify(view)).not.toMatch(/hunter2|scrypt|"p"/);
    expect(Object.isFrozen(view.nodes[0].tags)).toBe(true);
    expect(config.nodes[0].credentials).toEqual({ username: 'u', password: 'p' });
  });
});

describe('the ports, as a plugin gets them', () => {
  let app: TestingModule;
  let ports: PortsMiddleware;

  beforeAll(async () => {
    const config = loadConfig({
      PROTES_NODES: JSON.stringify([
        { name: 'up', url: 'http://127.0.0.1:9/ga4gh/tes/v1', region: 'eu' },
        {
          name: 'down',
          url: 'http://127.0.0.1:9/ga4gh/tes/v1',
          credentials: { bearer: 'secret-token' },
        },
      ]),
      PROTES_MIDDLEWARE__MODULES: '["ports-plugin"]',
      PROTES_MIDDLEWARE__CHAIN: '["random"]',
    });
    app = await Test.createTestingModule({
      imports: [
        ProtesConfigModule.forRoot(config),
        PersistenceModule.forRoot({ driver: 'sqlite', path: ':memory:' }),
        MiddlewarePluginsModule.forRoot(config.middleware.modules),
        DistributionModule,
      ],
    }).compile();
    // Not initialised: no probe runs, so the registry shows the nodes as configured.
    ports = app.get(PortsMiddleware);
    const registry = app.get(NodeRegistry);
    for (let i = 0; i < 5; i++) registry.report('down', 'refused');
    const task = { executors: [{ image: 'alpine', command: ['true'] }] };
    await app.get(TaskStore).create({ ...newTaskRecord('t1', 'anonymous', task), node: 'up' });
  });
  afterAll(() => app.close());

  it('injects every token into a plugin module, from the global module the plugins get', () => {
    expect(ports.config).toMatchObject({ nodes: [{ name: 'up' }, { name: 'down' }] });
    expect(JSON.stringify(ports.config)).not.toContain('secret-token');
  });

  it('shows every configured node with its health, metadata, load and availability', async () => {
    const nodes = await ports.nodes.list();
    expect(nodes).toEqual([
      expect.objectContaining({
        name: 'up',
        available: true,
        load: 1,
        health: expect.objectContaining({ healthy: true }),
        metadata: expect.objectContaining({ region: 'eu', weight: 1 }),
      }),
      expect.objectContaining({
        name: 'down',
        available: false,
        load: 0,
        health: expect.objectContaining({ healthy: false, reason: 'refused' }),
      }),
    ]);
    // Snapshots: what a plugin does to them reaches nothing of the registry.
    nodes[0].metadata.region = 'us';
    expect((await ports.nodes.get('up'))?.metadata.region).toBe('eu');
    expect(await ports.nodes.get('nowhere')).toBeUndefined();
  });

  it('gives the nodes loads', async () => {
    expect(await ports.load.of('up')).toBe(1);
    expect(await ports.load.of('down')).toBe(0);
    expect([...(await ports.load.all())]).toEqual([['up', 1]]);
  });
});

describe('axiosHttpClient', () => {
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer((request, response) => {
      if (request.url === '/json') {
        let body = '';
        request.on('data', (chunk: Buffer) => (body += chunk.toString()));
        request.on('end', () => {
          response.writeHead(201, { 'content-type': 'application/json; charset=utf-8' });
          response.end(
            JSON.stringify({ method: request.method, got: body ? JSON.parse(body) : null }),
          );
        });
      } else if (request.url === '/slow') {
        setTimeout(() => response.end('late'), 1000);
      } else {
        response.writeHead(503, { 'content-type': 'text/plain', 'X-Reason': 'busy' });
        response.end('busy');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  const http = axiosHttpClient(2000);

  it('sends JSON and parses a JSON answer', async () => {
    const response = await http.request<{ method: string; got: unknown }>({
      url: `${base}/json`,
      method: 'POST',
      body: { a: 1 },
    });
    expect(response.status).toBe(201);
    expect(response.body).toEqual({ method: 'POST', got: { a: 1 } });
    expect(response.headers['content-type']).toMatch(/^application\/json/);
  });

  it('resolves with any status, the body as text when it is not JSON', async () => {
    const response = await http.request({ url: `${base}/other` });
    expect(response).toMatchObject({ status: 503, body: 'busy', headers: { 'x-reason': 'busy' } });
  });

  it('rejects when there is no answer in time, or none at all', async () => {
    await expect(http.request({ url: `${base}/slow`, timeoutMs: 100 })).rejects.toThrow(
      new RegExp(`^GET ${base}/slow: timeout of 100ms exceeded`),
    );
    await expect(http.request({ url: 'http://127.0.0.1:9/' })).rejects.toThrow(
      /^GET http:\/\/127.0.0.1:9\/: .*ECONNREFUSED/,
    );
  });
});
