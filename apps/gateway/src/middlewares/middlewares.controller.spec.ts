import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig } from '@protes/config';
import type { ChainView } from '@protes/distribution';
import type { TesTask } from '@protes/tes';
import { buildMmdb, cityAt } from '@protes/distribution/middleware/builtin/testing/mmdb-writer';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway } from '../gateway-bootstrap';

/**
 * The management API in process (fastify inject), on a real SQLite file, with the built-in
 * middlewares and no TES node: a task ends at once, with the chain's decisions in its logs.
 */
describe('/protes/v1/middlewares', () => {
  const API = '/protes/v1/middlewares';
  let dir: string;
  let app: NestFastifyApplication;

  async function open(): Promise<void> {
    const config = loadConfig({
      PROTES_STORE__SQLITE_PATH: join(dir, 'protes.db'),
      PROTES_AUTH__ENABLED: 'false',
      PROTES_MIDDLEWARE__CHAIN: '["least-loaded"]',
      PROTES_MIDDLEWARE__FILE_DIRS: JSON.stringify([join(dir, 'geo')]),
      PROTES_LOG__LEVEL: 'fatal',
    });
    app = await createGateway(config);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  }

  async function call<T = ChainView>(
    method: 'GET' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    body?: unknown,
  ) {
    const response = await app.inject({
      method,
      url,
      ...(body !== undefined && { payload: body as object }),
    });
    return { status: response.statusCode, body: response.json<T>() };
  }

  /** The decisions shown for a new task: what the chain in effect did to it. */
  async function decisionsOfNextTask(): Promise<{ middleware: string; outcome: string }[]> {
    const created = await app.inject({
      method: 'POST',
      url: '/ga4gh/tes/v1/tasks',
      payload: { executors: [{ image: 'alpine', command: ['true'] }] },
    });
    const { id } = created.json<{ id: string }>();
    const task = (await app.inject({ url: `/ga4gh/tes/v1/tasks/${id}?view=FULL` })).json<TesTask>();
    return JSON.parse(task.logs?.at(-1)?.metadata?.protes_decisions ?? '[]') as never;
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'protes-middlewares-'));
    mkdirSync(join(dir, 'geo'));
    writeFileSync(
      join(dir, 'geo/city.mmdb'),
      buildMmdb([{ network: '10.0.0.0/8', data: cityAt(1, 2) }]),
    );
    writeFileSync(join(dir, 'geo/broken.mmdb'), 'no database here');
    writeFileSync(
      join(dir, 'city.mmdb'),
      buildMmdb([{ network: '10.0.0.0/8', data: cityAt(1, 2) }]),
    );
    await open();
  });
  afterEach(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('GET shows the configured chain, normalized, and every registered name', async () => {
    const { status, body } = await call('GET', API);
    expect(status).toBe(200);
    expect(body).toEqual({
      source: 'configuration',
      chain: [{ name: 'least-loaded', settings: {}, enabled: true }],
      registered: expect.arrayContaining(['random', 'least-loaded', 'distance', 'tes-compat']),
    });
    expect(await decisionsOfNextTask()).toMatchObject([
      { middleware: 'least-loaded', outcome: 'applied' },
    ]);
  });

  it('PUT replaces the chain, in effect for the next task and after a restart', async () => {
    const chain = [
      { fallback: ['random'], onFailure: 'skip' },
      { name: 'least-loaded', enabled: false },
    ];
    const put = await call('PUT', API, { chain });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      source: 'store',
      updatedAt: expect.any(String),
      chain: [
        {
          fallback: [{ name: 'random', settings: {}, enabled: true }],
          onFailure: 'skip',
          enabled: true,
        },
        { name: 'least-loaded', settings: {}, enabled: false },
      ],
    });
    expect(await decisionsOfNextTask()).toMatchObject([
      { middleware: 'random', outcome: 'applied' },
      { middleware: 'least-loaded', outcome: 'skipped' },
    ]);

    await app.close();
    await open();
    expect((await call('GET', API)).body).toEqual(put.body);
  });

  it('PATCH changes one entry, DELETE goes back to the configured chain', async () => {
    await call('PUT', API, { chain: ['random', { fallback: ['least-loaded', 'random'] }] });
    const patched = await call('PATCH', `${API}/1.0`, { enabled: false });
    expect(patched.status).toBe(200);
    expect(patched.body.chain[1]).toMatchObject({
      fallback: [{ enabled: false }, { enabled: true }],
    });
    expect((await call('PATCH', `${API}/1.1`, { settings: {} })).status).toBe(200);

    const reset = await call('DELETE', API);
    expect(reset.status).toBe(200);
    expect(reset.body).toMatchObject({
      source: 'configuration',
      chain: [{ name: 'least-loaded' }],
    });
  });

  it.each([
    [
      'PUT',
      API,
      { chain: ['random', 'nearest'] },
      'chain[1]',
      /"nearest" is not a registered middleware \(registered: .*random/,
    ],
    [
      'PUT',
      API,
      { chain: [{ name: 'random', settings: 'x' }] },
      'chain[0].settings',
      /must be object/,
    ],
    ['PUT', API, ['random'], 'chain', /is required/],
    ['PATCH', `${API}/0`, { enabled: 'no' }, 'enabled', /must be boolean/],
    [
      'PATCH',
      `${API}/0`,
      { settings: { unknown: 1 } },
      'chain[0].settings.unknown',
      /^is not a known setting$/,
    ],
    [
      'PUT',
      API,
      {
        chain: [
          'random',
          {
            name: 'distance',
            settings: {
              rules: [{ host: '*.example.org', location: { latitude: 95, longitude: 0 } }],
            },
          },
        ],
      },
      'chain[1].settings.rules[0].location.latitude',
      /^must be <= 90$/,
    ],
    [
      'PUT',
      API,
      {
        chain: [
          { fallback: ['random', { name: 'client-preference', settings: { allow: 'yes' } }] },
        ],
      },
      'chain[0].fallback[1].settings.allow',
      /^must be boolean$/,
    ],
    ['PATCH', `${API}/first`, { enabled: false }, 'index', /entry index/],
  ] as const)('%s %s %j → 400 naming %s', async (method, url, body, field, reason) => {
    const { status, body: error } = await call<{
      status_code: number;
      msg: string;
      errors: { field: string; reason: string }[];
    }>(method, url, body);
    expect(status).toBe(400);
    expect(error.status_code).toBe(400);
    expect(error.errors).toContainEqual({ field, reason: expect.stringMatching(reason) });
    expect(error.msg).toContain(field);
    expect((await call('GET', API)).body.source).toBe('configuration');
  });

  describe('settings that name files', () => {
    const distance = (geoipDatabase: string) => ({
      chain: [{ name: 'distance', settings: { geoipDatabase } }],
    });
    type ErrorBody = {
      status_code: number;
      msg: string;
      errors: { field: string; reason: string }[];
    };

    it('PUT takes a database under middleware.fileDirs, read when the chain is set', async () => {
      const put = await call('PUT', API, distance(join(dir, 'geo/city.mmdb')));
      expect(put.status).toBe(200);
      expect(put.body.chain).toEqual([
        {
          name: 'distance',
          settings: { geoipDatabase: join(dir, 'geo/city.mmdb') },
          enabled: true,
        },
      ]);
    });

    it.each([
      [
        'outside the allowed directories',
        'city.mmdb',
        /^must name a file under a directory of middleware\.fileDirs$/,
      ],
      ['missing', 'geo/none.mmdb', /^cannot be read \(ENOENT\)$/],
      ['not a database', 'geo/broken.mmdb', /^is not a MaxMind database \(\.mmdb\)$/],
    ])('PUT → 400 naming the field for a database %s', async (_case, path, reason) => {
      const { status, body } = await call<ErrorBody>('PUT', API, distance(join(dir, path)));
      expect(status).toBe(400);
      expect(body.errors).toEqual([
        { field: 'chain[0].settings.geoipDatabase', reason: expect.stringMatching(reason) },
      ]);
      expect(body.msg).not.toContain('no database here');
      expect((await call('GET', API)).body.source).toBe('configuration');
    });

    it('PATCH → 400 for a database that cannot be read, and the chain stays as it was', async () => {
      await call('PUT', API, distance(join(dir, 'geo/city.mmdb')));
      const { status, body } = await call<ErrorBody>('PATCH', `${API}/0`, {
        settings: { geoipDatabase: join(dir, 'geo/none.mmdb') },
      });
      expect(status).toBe(400);
      expect(body.errors).toEqual([
        { field: 'chain[0].settings.geoipDatabase', reason: 'cannot be read (ENOENT)' },
      ]);
      expect((await call('GET', API)).body.chain).toMatchObject([
        { settings: { geoipDatabase: join(dir, 'geo/city.mmdb') } },
      ]);
    });
  });

  it('PATCH of an entry that does not exist → 404', async () => {
    const { status, body } = await call<{ msg: string }>('PATCH', `${API}/5`, { enabled: false });
    expect(status).toBe(404);
    expect(body.msg).toBe('the chain has no entry 5');
  });
});

/**
 * A node the client names that is down right now: client-preference refuses the task with 503 and
 * Retry-After (how long until the node's breaker lets a call through), not the 400 of a name no
 * node has. The node's URL refuses connections, so its first probe opens its breaker.
 */
describe('client-preference and a node that is down', () => {
  let dir: string;
  let app: NestFastifyApplication;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'protes-down-'));
    app = await createGateway(
      loadConfig({
        PROTES_STORE__SQLITE_PATH: join(dir, 'protes.db'),
        PROTES_AUTH__ENABLED: 'false',
        PROTES_MIDDLEWARE__CHAIN: '["client-preference", "random"]',
        PROTES_NODES: JSON.stringify([
          {
            name: 'dead',
            url: 'http://127.0.0.1:9/ga4gh/tes/v1',
            health: { failureThreshold: 1, coolDownMs: 60_000 },
          },
        ]),
        PROTES_LOG__LEVEL: 'fatal',
      }),
    );
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    for (let i = 0; i < 100; i++) {
      const nodes = (await app.inject({ url: '/protes/v1/nodes' })).json<{ breaker: string }[]>();
      if (nodes[0]?.breaker === 'open') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const submit = (tags: Record<string, string>) =>
    app.inject({
      method: 'POST',
      url: '/ga4gh/tes/v1/tasks',
      payload: { executors: [{ image: 'alpine', command: ['true'] }], tags },
    });

  it('answers 503 with Retry-After for a known node whose breaker is open', async () => {
    const response = await submit({ 'protes.node': 'dead' });
    expect(response.statusCode).toBe(503);
    const seconds = Number(response.headers['retry-after']);
    expect(seconds).toBeGreaterThan(50);
    expect(seconds).toBeLessThanOrEqual(60);
    expect(response.json()).toEqual({
      status_code: 503,
      msg: `rejected by client-preference: tag protes.node names no available node: a node it accepts is down right now (retry in ${seconds} s)`,
      errors: [
        {
          field: 'tags.protes.node',
          reason: `tag protes.node names no available node: a node it accepts is down right now (retry in ${seconds} s)`,
        },
      ],
    });
    expect((await app.inject({ url: '/ga4gh/tes/v1/tasks' })).json()).toEqual({ tasks: [] });
  });

  it('answers 400 without Retry-After for a name no node has', async () => {
    const response = await submit({ 'protes.node': 'ghost' });
    expect(response.statusCode).toBe(400);
    expect(response.headers['retry-after']).toBeUndefined();
  });
});
