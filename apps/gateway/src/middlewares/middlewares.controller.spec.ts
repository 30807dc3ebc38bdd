import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig } from '@protes/config';
import type { ChainView } from '@protes/distribution';
import type { TesTask } from '@protes/tes';
import { mkdtempSync, rmSync } from 'node:fs';
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
      PROTES_MIDDLEWARE__CHAIN: '["least-loaded"]',
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
    expect((await call('PATCH', `${API}/0`, { settings: { unknown: 1 } })).status).toBe(200);

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

  it('PATCH of an entry that does not exist → 404', async () => {
    const { status, body } = await call<{ msg: string }>('PATCH', `${API}/5`, { enabled: false });
    expect(status).toBe(404);
    expect(body.msg).toBe('the chain has no entry 5');
  });
});
