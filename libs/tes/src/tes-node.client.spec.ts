import axios from 'axios';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TesNodeClient, TesNodeError, type TesNodeTarget } from './tes-node.client';

/** What the node saw of one request. */
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A tiny TES node on 127.0.0.1: records every request and answers with the current handler. */
class FakeNode {
  readonly seen: Seen[] = [];
  handler: Handler = (_req, res) => json(res, 200, {});
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      this.handler(req, res, body);
    });
  });

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** The client is typed for @nestjs/axios's instance; a plain axios instance is the same thing. */
const http = axios.create() as unknown as ConstructorParameters<typeof TesNodeClient>[0];

async function failure(promise: Promise<unknown>): Promise<TesNodeError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TesNodeError);
    return error as TesNodeError;
  }
  throw new Error('expected the call to fail');
}

describe('TesNodeClient', () => {
  const node = new FakeNode();
  let base: string;
  const client = (target: Partial<TesNodeTarget> = {}, timeoutMs = 2000) =>
    new TesNodeClient(http, { name: 'node-a', url: base, ...target }, timeoutMs);

  beforeAll(async () => {
    base = `http://127.0.0.1:${await node.start()}/ga4gh/tes/v1`;
  });
  afterAll(() => node.stop());
  beforeEach(() => {
    node.seen.length = 0;
    node.handler = (_req, res) => json(res, 200, {});
  });

  describe('requests', () => {
    it('creates a task with a JSON POST to /tasks and returns the node id', async () => {
      node.handler = (_req, res) => json(res, 200, { id: 'remote-1' });
      const task = { name: 't', executors: [{ image: 'alpine', command: ['true'] }] };
      await expect(client().createTask(task)).resolves.toEqual({ id: 'remote-1' });
      expect(node.seen).toHaveLength(1);
      const [req] = node.seen;
      expect(req.method).toBe('POST');
      expect(req.url).toBe('/ga4gh/tes/v1/tasks');
      expect(req.headers['content-type']).toMatch(/application\/json/);
      expect(JSON.parse(req.body)).toEqual(task);
    });

    it('gets a task in FULL view by default, with its id encoded', async () => {
      node.handler = (_req, res) => json(res, 200, { id: 'a/b', state: 'RUNNING' });
      await expect(client().getTask('a/b')).resolves.toEqual({ id: 'a/b', state: 'RUNNING' });
      expect(node.seen[0].method).toBe('GET');
      expect(node.seen[0].url).toBe('/ga4gh/tes/v1/tasks/a%2Fb?view=FULL');
      await client().getTask('x', 'MINIMAL');
      expect(node.seen[1].url).toBe('/ga4gh/tes/v1/tasks/x?view=MINIMAL');
    });

    it('cancels with a POST to /tasks/<id>:cancel', async () => {
      await expect(client().cancelTask('remote-7')).resolves.toBeUndefined();
      expect(node.seen.map((s) => [s.method, s.url])).toEqual([
        ['POST', '/ga4gh/tes/v1/tasks/remote-7:cancel'],
      ]);
    });

    it('lists tasks with only the parameters given', async () => {
      node.handler = (_req, res) => json(res, 200, { tasks: [] });
      await client().listTasks({ view: 'BASIC', pageSize: 5, namePrefix: 'md5' });
      const url = new URL(node.seen[0].url, 'http://x');
      expect(url.pathname).toBe('/ga4gh/tes/v1/tasks');
      expect(Object.fromEntries(url.searchParams)).toEqual({
        view: 'BASIC',
        page_size: '5',
        name_prefix: 'md5',
      });
    });

    it('reads service-info', async () => {
      node.handler = (_req, res) => json(res, 200, { id: 'org.example.node', name: 'n' });
      await expect(client().serviceInfo()).resolves.toMatchObject({ id: 'org.example.node' });
      expect(node.seen[0].url).toBe('/ga4gh/tes/v1/service-info');
    });

    it('reads what the node advertises: storage and backend parameter keys, as string lists', async () => {
      node.handler = (_req, res) =>
        json(res, 200, {
          id: 'org.example.node',
          storage: ['s3://bucket/', 7, '', 'file:///data'],
          tesResources_backend_parameters: ['VmSize', null],
        });
      await expect(client().serviceInfo()).resolves.toEqual({
        id: 'org.example.node',
        storage: ['s3://bucket/', 'file:///data'],
        tesResources_backend_parameters: ['VmSize'],
      });
      node.handler = (_req, res) =>
        json(res, 200, { id: 'x', storage: 's3://', tesResources_backend_parameters: {} });
      await expect(client().serviceInfo()).resolves.toEqual({ id: 'x' });
    });

    it.each(['/', '//'])('handles a base url ending in %s', async (slash) => {
      await client({ url: base + slash }).cancelTask('t1');
      await client({ url: base + slash }).serviceInfo();
      expect(node.seen.map((s) => s.url)).toEqual([
        '/ga4gh/tes/v1/tasks/t1:cancel',
        '/ga4gh/tes/v1/service-info',
      ]);
    });

    it('sends no Authorization header without credentials', async () => {
      await client().serviceInfo();
      expect(node.seen[0].headers.authorization).toBeUndefined();
      expect(node.seen[0].headers.accept).toMatch(/application\/json/);
    });

    it('sends a bearer token', async () => {
      await client({ credentials: { bearer: 's3cr3t' } }).getTask('t');
      expect(node.seen[0].headers.authorization).toBe('Bearer s3cr3t');
    });

    it('sends basic credentials', async () => {
      node.handler = (_req, res) => json(res, 200, { id: 'r' });
      await client({ credentials: { username: 'alice', password: 'p:ss wörd' } }).createTask({
        executors: [{ image: 'a', command: ['b'] }],
      });
      const header = node.seen[0].headers.authorization ?? '';
      expect(header).toMatch(/^Basic /);
      expect(Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8')).toBe(
        'alice:p:ss wörd',
      );
    });
  });

  describe('failures', () => {
    it('classifies a refused connection as unreachable and retryable', async () => {
      const closed = new FakeNode();
      const port = await closed.start();
      await closed.stop();
      const error = await failure(
        client({ url: `http://127.0.0.1:${port}/ga4gh/tes/v1` }).getTask('t'),
      );
      expect(error.kind).toBe('unreachable');
      expect(error.retryable).toBe(true);
      expect(error.node).toBe('node-a');
      expect(error.message).toMatch(/^node-a: .*ECONNREFUSED/);
      expect(error.status).toBeUndefined();
    });

    it('classifies no answer within the timeout as timeout and retryable', async () => {
      node.handler = () => undefined; // never answers
      const started = Date.now();
      const error = await failure(client({}, 200).getTask('t'));
      expect(error.kind).toBe('timeout');
      expect(error.retryable).toBe(true);
      expect(error.message).toContain('200 ms');
      expect(Date.now() - started).toBeLessThan(1500);
    });

    it.each([
      [500, 'server', true],
      [502, 'server', true],
      [503, 'server', true],
      [404, 'not-found', false],
      [400, 'rejected', false],
      [401, 'rejected', false],
      [403, 'rejected', false],
    ] as const)('classifies HTTP %i as %s', async (status, kind, retryable) => {
      node.handler = (_req, res) => json(res, status, { msg: `answer ${status}` });
      const error = await failure(client().getTask('t'));
      expect(error.kind).toBe(kind);
      expect(error.retryable).toBe(retryable);
      expect(error.status).toBe(status);
      expect(error.message).toContain(`HTTP ${status}`);
      expect(error.message).toContain(`answer ${status}`);
    });

    it('keeps only an excerpt of a long error body', async () => {
      node.handler = (_req, res) => {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('x'.repeat(10_000));
      };
      const error = await failure(client().createTask({ executors: [] }));
      expect(error.kind).toBe('server');
      expect(error.message.length).toBeLessThan(400);
    });

    it.each([
      ['an HTML page', 'text/html', '<html><body>Welcome to nginx!</body></html>'],
      ['a body without id', 'application/json', '{"status":"ok"}'],
      ['an empty id', 'application/json', '{"id":""}'],
      ['null', 'application/json', 'null'],
      ['an empty body', 'application/json', ''],
    ])('refuses a 2xx create answer that is %s, as a server failure', async (_case, type, body) => {
      node.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': type });
        res.end(body);
      };
      const error = await failure(client().createTask({ executors: [] }));
      expect(error.kind).toBe('server');
      expect(error.retryable).toBe(true);
      expect(error.message).toMatch(/^node-a: answer without an id/);
    });

    it.each([
      ['an HTML page', 'text/html', '<html>login</html>'],
      ['an unknown state', 'application/json', '{"id":"t","state":"DONE"}'],
      ['a list', 'application/json', '[]'],
    ])('refuses a 2xx task answer that is %s, as a server failure', async (_case, type, body) => {
      node.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': type });
        res.end(body);
      };
      const error = await failure(client().getTask('t', 'MINIMAL'));
      expect(error.kind).toBe('server');
      expect(error.message).toContain('answer without a TES state');
    });

    it.each([
      ['an HTML page', 'text/html', '<html>login</html>'],
      ['a list', 'application/json', '[]'],
    ])('refuses a 2xx service-info that is %s, as a server failure', async (_case, type, body) => {
      node.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': type });
        res.end(body);
      };
      const error = await failure(client().serviceInfo());
      expect(error.kind).toBe('server');
      expect(error.message).toContain('answer without a service-info object');
    });

    it('reads a task without state as UNKNOWN, the default TES gives it', async () => {
      node.handler = (_req, res) => json(res, 200, { id: 't' });
      await expect(client().getTask('t', 'MINIMAL')).resolves.toEqual({
        id: 't',
        state: 'UNKNOWN',
      });
    });

    it('does not follow a 2xx answer into an error', async () => {
      node.handler = (_req, res) => json(res, 201, { id: 'r' });
      await expect(client().createTask({ executors: [] })).resolves.toEqual({ id: 'r' });
    });
  });
});
