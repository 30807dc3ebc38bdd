import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ErrorResponse, TesTask, TesTaskRequest } from '@protes/tes';
import { nodesEnv, startGateway, startSimulator, type Started } from '../../scripts/processes';
import {
  accepting,
  CheckedApi,
  expectFieldError,
  isTerminalState,
  loggedErrors,
  metadataOf,
  runTask,
  simCall,
  sleep,
  startSimulators,
  systemLogsOf,
  TES_PATH,
  waitFor,
} from './helpers';

/**
 * The gateway end to end: three simulated TES nodes and the compiled gateway (`npm run build`),
 * each a real process on an ephemeral port, driven over HTTP. Every answer of the gateway is checked
 * against the gateway's own schemas (see CheckedApi).
 *
 * The tests share one store and run in order; each filters on tags or names unique to this run.
 */

/** Unique to this run: names and tag keys start with it, so other tasks never match a filter. */
const RUN = `e2e${Date.now().toString(36)}`;
const NODE_NAMES = ['alpha', 'beta', 'gamma'] as const;
const SIM_ARGS = ['--queued-ms', '20', '--initializing-ms', '20', '--running-ms', '150'];
const MAX_CONTENT_BYTES = 131_072;

let dir: string;
let dbPath: string;
const sims = new Map<string, Started>();
/** Every gateway process started (stopped in afterAll; their stderr is checked at the end). */
const gateways: Started[] = [];
/** The gateway most tests talk to, and the client for it (which follows it across restarts). */
let mainGateway: Started;
let api: CheckedApi;
/** Other processes started by single tests, stopped in afterAll in case the test failed. */
const extraProcesses: Started[] = [];
/** Every client made, so that the last test sees every schema violation. */
const clients: CheckedApi[] = [];

const tesUrlOf = (node: string) => `${sims.get(node)?.url}${TES_PATH}`;

function gatewayEnv(): NodeJS.ProcessEnv {
  return {
    // Whatever the shell that runs the tests has set: no configuration file, the SQLite store.
    PROTES_CONFIG: '',
    PROTES_STORE__DRIVER: 'sqlite',
    PROTES_SERVER__PORT: '0',
    PROTES_STORE__SQLITE_PATH: dbPath,
    PROTES_NODES: nodesEnv(NODE_NAMES.map((name) => ({ name, url: sims.get(name)?.url ?? '' }))),
    PROTES_TRACKER__MIN_POLL_MS: '50',
    PROTES_TRACKER__MAX_POLL_MS: '300',
    // After a SIGKILL the dead process's leases must expire before its tasks are taken over.
    PROTES_TRACKER__LEASE_MS: '3000',
    PROTES_FORWARDING__TIMEOUT_MS: '2000',
    PROTES_TASKS__MAX_CONTENT_BYTES: String(MAX_CONTENT_BYTES),
    PROTES_LOG__LEVEL: 'warn',
  };
}

async function launchGateway(env: NodeJS.ProcessEnv = {}): Promise<Started> {
  const gateway = await startGateway({ ...gatewayEnv(), ...env });
  gateways.push(gateway);
  return gateway;
}

function client(url: string): CheckedApi {
  const made = new CheckedApi(url);
  clients.push(made);
  return made;
}

const task = (name: string, tags: Record<string, string> = {}): TesTaskRequest =>
  runTask(RUN, name, tags);

/** How many tasks the nodes were asked to create, over all three. */
async function nodeCreateCalls(): Promise<number> {
  let total = 0;
  for (const sim of sims.values()) {
    const stats = await simCall<{ requests: Record<string, number> }>(`${sim.url}/sim/stats`);
    total += stats.body.requests['POST /tasks'];
  }
  return total;
}

/** The node's own copies of a gateway task, found by the tag the gateway puts on it. */
async function remoteCopies(gatewayId: string): Promise<{ node: string; task: TesTask }[]> {
  const copies: { node: string; task: TesTask }[] = [];
  for (const node of NODE_NAMES) {
    const { status, body } = await simCall<{ tasks: TesTask[] }>(
      `${tesUrlOf(node)}/tasks?view=BASIC&tag_key=protes_id&tag_value=${gatewayId}`,
    );
    expect(status).toBe(200);
    for (const t of body.tasks) copies.push({ node, task: t });
  }
  return copies;
}

/** Waits until no task in the store is active, so the tracker talks to no node. */
async function quiesce(timeoutMs = 15_000): Promise<void> {
  let active: string[] = [];
  await waitFor(
    'every task in the store to end',
    async () => {
      active = (await api.listAll()).filter((t) => !isTerminalState(t.state)).map((t) => t.id);
      return active.length === 0;
    },
    { timeoutMs, intervalMs: 50, describe: () => `still active: ${active.join(', ')}` },
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'protes-e2e-'));
  dbPath = join(dir, 'protes.db');
  await startSimulators(NODE_NAMES, SIM_ARGS, sims);
  mainGateway = await launchGateway();
  api = client(mainGateway.url);
}, 30_000);

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.stop()));
  await Promise.all([...sims.values(), ...extraProcesses].map((s) => s.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('proTES gateway end to end', () => {
  it('serves its OpenAPI 3.1 document and a health check', async () => {
    const doc = await api.call<{
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    }>('GET', `${TES_PATH}/openapi.json`);
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\.1\.\d+$/);
    expect(Object.keys(doc.body.components.schemas)).toEqual(
      expect.arrayContaining(['tesTask', 'tesTaskRequest']),
    );
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(
        ['/tasks', '/tasks/{id}', '/tasks/{id}:cancel', '/service-info'].map((p) => TES_PATH + p),
      ),
    );

    const health = await api.call<{ status: string; info: Record<string, { status: string }> }>(
      'GET',
      '/health',
    );
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('ok');
    expect(health.body.info.store.status).toBe('up');
    const live = await api.call('GET', '/health/live');
    expect(live).toEqual({ status: 200, body: { status: 'ok' } });

    const info = await api.serviceInfo();
    expect(info.type).toEqual({ group: 'org.ga4gh', artifact: 'tes', version: '1.1.0' });
    expect((await api.nodes()).map((n) => n.name).sort()).toEqual([...NODE_NAMES]);
  });

  it('runs 50 tasks submitted at once to COMPLETE, spread over the nodes', async () => {
    const batch = `${RUN}.batch`;
    const ids = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        api.create(task(`${RUN}-batch-${i}`, { [batch]: `${i}` })),
      ),
    );
    expect(new Set(ids).size).toBe(50);
    // The gateway's own ids: lower-case ULIDs.
    for (const id of ids) expect(id).toMatch(/^[0-9a-hjkmnp-tv-z]{26}$/);

    let states = '';
    await waitFor(
      'the 50 tasks to end',
      async () => {
        const listed = await api.listAll({ tag_key: batch });
        states = listed.map((t) => t.state).join(',');
        return listed.length === 50 && listed.every((t) => isTerminalState(t.state));
      },
      { timeoutMs: 20_000, intervalMs: 100, describe: () => states },
    );

    const nodes = new Set<string>();
    for (const [i, id] of ids.entries()) {
      const full = await api.get(id, 'FULL');
      expect(full).toMatchObject({ id, state: 'COMPLETE', name: `${RUN}-batch-${i}` });
      expect(full.tags).toEqual({ 'e2e.run': RUN, [batch]: `${i}` });
      expect(full.logs?.[0]?.logs[0]?.exit_code).toBe(0);
      const meta = metadataOf(full);
      expect(NODE_NAMES).toContain(meta.protes_node);
      expect(meta.protes_remote_id).toEqual(expect.any(String));
      expect(meta.protes_remote_id).not.toBe(id);
      nodes.add(meta.protes_node);

      // The node named holds the task under its own id, tagged with the gateway's.
      const remote = await simCall<TesTask>(
        `${tesUrlOf(meta.protes_node)}/tasks/${meta.protes_remote_id}?view=BASIC`,
      );
      expect(remote.status).toBe(200);
      expect(remote.body).toMatchObject({ state: 'COMPLETE', tags: { protes_id: id } });
    }
    expect(nodes.size).toBeGreaterThan(1);
  }, 40_000);

  it('reports forced outcomes: executor error with its exit code, system error, preemption', async () => {
    // Exactly {id}: nothing else in the answer.
    const created = await api.call('POST', `${TES_PATH}/tasks`, { json: task(`${RUN}-created`) });
    expect(created.status).toBe(200);
    expect(Object.keys(created.body as object)).toEqual(['id']);
    const executorError = await api.create(
      task(`${RUN}-executor-error`, { 'sim.outcome': 'EXECUTOR_ERROR', 'sim.exit_code': '3' }),
    );
    const systemError = await api.create(
      task(`${RUN}-system-error`, { 'sim.outcome': 'SYSTEM_ERROR' }),
    );
    const preempted = await api.create(task(`${RUN}-preempted`, { 'sim.outcome': 'PREEMPTED' }));
    const ended = await api.waitForAllEnded([executorError, systemError, preempted]);

    const e = ended.get(executorError);
    expect(e?.state).toBe('EXECUTOR_ERROR');
    expect(e?.logs?.[0]?.logs[0]?.exit_code).toBe(3);

    expect(ended.get(systemError)?.state).toBe('SYSTEM_ERROR');

    // No TES client knows PREEMPTED: the gateway shows SYSTEM_ERROR and says why.
    const p = ended.get(preempted);
    expect(p?.state).toBe('SYSTEM_ERROR');
    expect(systemLogsOf(p as TesTask).some((line) => /preempt/i.test(line))).toBe(true);
    const meta = metadataOf(p as TesTask);
    const remote = await simCall<TesTask>(
      `${tesUrlOf(meta.protes_node)}/tasks/${meta.protes_remote_id}`,
    );
    expect(remote.body.state).toBe('PREEMPTED');
  }, 20_000);

  describe('views', () => {
    const tag = `${RUN}.views`;
    const request: TesTaskRequest & { unknown_field: string } = {
      name: `${RUN}-views`,
      description: 'every field a client may send',
      inputs: [
        { name: 'inline', path: '/data/in.txt', content: 'hello views' },
        { path: '/data/both.txt', content: 'content wins', url: 'file:///ignored.txt' },
        { path: '/ref/genome.fa', url: 'file:///ref/genome.fa', type: 'FILE', streamable: true },
      ],
      outputs: [
        { path: '/data/out.txt', url: 'file:///tmp/out.txt' },
        { path: '/data/out/*.txt', path_prefix: '/data/out/', url: 'file:///tmp/out/' },
        { path: '/data/workdir', url: 'file:///tmp/workdir', type: 'DIRECTORY' },
      ],
      resources: {
        cpu_cores: 2,
        ram_gb: 1.5,
        disk_gb: 10,
        preemptible: false,
        zones: ['eu-1'],
        backend_parameters: { queue: 'short' },
        backend_parameters_strict: false,
      },
      executors: [
        {
          image: 'alpine',
          command: ['cat', '/data/in.txt'],
          workdir: '/data',
          stdout: '/data/out.txt',
          stderr: '/data/err.txt',
          env: { GREETING: 'hello' },
          ignore_error: false,
        },
      ],
      volumes: ['/scratch'],
      unknown_field: 'dropped, never echoed',
    };
    /** What the gateway must echo: unknown fields dropped, `url` dropped beside `content`. */
    const echoed = (() => {
      const known: TesTaskRequest & { unknown_field?: string } = structuredClone(request);
      delete known.unknown_field;
      for (const input of known.inputs ?? []) if (input.content) delete input.url;
      return known;
    })();
    /** The request with unknown fields at every level too, all of which the gateway must drop. */
    const sent = (() => {
      const copy = structuredClone(request);
      Object.assign(copy.executors[0], { unknown_executor_field: 'never echoed' });
      Object.assign(copy.inputs?.[0] ?? {}, { unknown_input_field: 'never echoed' });
      Object.assign(copy.outputs?.[0] ?? {}, { unknown_output_field: 'never echoed' });
      Object.assign(copy.resources ?? {}, { unknown_resources_field: 'never echoed' });
      return copy;
    })();
    const ids: string[] = [];

    /** BASIC as TES defines it: FULL without executor stdout/stderr, input content, system logs. */
    function basicOf(full: TesTask): TesTask {
      const copy = structuredClone(full);
      for (const input of copy.inputs ?? []) delete input.content;
      for (const log of copy.logs ?? []) {
        delete log.system_logs;
        for (const executorLog of log.logs) {
          delete executorLog.stdout;
          delete executorLog.stderr;
        }
      }
      return copy;
    }

    beforeAll(async () => {
      ids.push(await api.create({ ...sent, tags: { [tag]: 'complete' } }));
      ids.push(
        await api.create({
          ...sent,
          tags: { [tag]: 'failed', 'sim.outcome': 'EXECUTOR_ERROR', 'sim.exit_code': '3' },
        }),
      );
      await api.waitForAllEnded(ids);
    }, 20_000);

    it('GetTask: MINIMAL by default is exactly id and state', async () => {
      for (const id of ids) {
        const byDefault = await api.get(id);
        expect(Object.keys(byDefault).sort()).toEqual(['id', 'state']);
        expect(await api.get(id, 'MINIMAL')).toEqual(byDefault);
      }
    });

    it('GetTask: FULL echoes the request and carries logs, stdout, stderr, content, system logs', async () => {
      const [complete, failed] = await Promise.all(ids.map((id) => api.get(id, 'FULL')));
      for (const full of [complete, failed]) {
        expect(full).toMatchObject(echoed);
        expect(JSON.stringify(full)).not.toContain('never echoed');
        expect(full.inputs?.[1]).not.toHaveProperty('url');
        expect(full.creation_time).toEqual(expect.any(String));
        expect(full.logs?.[0]?.logs[0]).toHaveProperty('stdout');
        expect(full.logs?.[0]?.logs[0]).toHaveProperty('stderr');
        expect(full.logs?.at(-1)).toHaveProperty('system_logs');
      }
      expect(complete.state).toBe('COMPLETE');
      expect(complete.logs?.[0]?.logs[0]?.stdout).toBe('cat /data/in.txt\n');
      expect(complete.logs?.[0]?.outputs.length).toBe(3);
      expect(failed.state).toBe('EXECUTOR_ERROR');
      expect(failed.logs?.[0]?.logs[0]?.stderr).toMatch(/exit code 3/);
      expect(systemLogsOf(failed).length).toBeGreaterThan(0);
    });

    it('GetTask: BASIC is FULL without stdout, stderr, input content and system logs', async () => {
      for (const id of ids) {
        const full = await api.get(id, 'FULL');
        const basic = await api.get(id, 'BASIC');
        expect(basic).toEqual(basicOf(full));
        for (const input of basic.inputs ?? []) expect(input).not.toHaveProperty('content');
        for (const log of basic.logs ?? []) {
          expect(log).not.toHaveProperty('system_logs');
          for (const l of log.logs) {
            expect(l).not.toHaveProperty('stdout');
            expect(l).not.toHaveProperty('stderr');
            expect(l.exit_code).toEqual(expect.any(Number));
          }
        }
        for (const key of [
          'name',
          'description',
          'inputs',
          'outputs',
          'resources',
          'executors',
          'volumes',
          'tags',
          'logs',
          'creation_time',
        ]) {
          expect(basic).toHaveProperty(key);
        }
        expect(metadataOf(basic).protes_node).toEqual(expect.any(String));
      }
    });

    it('ListTasks gives the same three views (MINIMAL by default)', async () => {
      const newestFirst = [...ids].reverse();
      const byDefault = await api.list({ tag_key: tag });
      expect(byDefault.tasks.map((t) => t.id)).toEqual(newestFirst);
      for (const t of byDefault.tasks) expect(Object.keys(t).sort()).toEqual(['id', 'state']);
      const minimal = await api.list({ tag_key: tag, view: 'MINIMAL' });
      expect(minimal.tasks).toEqual(byDefault.tasks);
      for (const view of ['BASIC', 'FULL'] as const) {
        const listed = await api.list({ tag_key: tag, view });
        const one = await Promise.all(newestFirst.map((id) => api.get(id, view)));
        expect(listed.tasks).toEqual(one);
      }
    });
  });

  describe('ListTasks filters and paging', () => {
    it('name_prefix is a literal prefix, never a pattern', async () => {
      const base = `${RUN}-names/`;
      const names = ['a.b*c', 'a.b*', 'axbc', 'axb', 'p%q', 'pzq', 'u_v', 'uxv', 'A.b*c'];
      const byName = new Map<string, string>();
      for (const name of names) byName.set(name, await api.create(task(base + name)));
      const expectPrefix = async (prefix: string, matching: string[]) => {
        const listed = await api.listAll({ name_prefix: base + prefix, view: 'BASIC' });
        expect(listed.map((t) => t.name).sort()).toEqual(matching.map((n) => base + n).sort());
      };
      await expectPrefix('a.b*', ['a.b*c', 'a.b*']);
      await expectPrefix('a.b', ['a.b*c', 'a.b*']);
      await expectPrefix('a.', ['a.b*c', 'a.b*']);
      await expectPrefix('ax', ['axbc', 'axb']);
      await expectPrefix('p%', ['p%q']);
      await expectPrefix('u_', ['u_v']);
      await expectPrefix('A', ['A.b*c']);
      await expectPrefix('', names);
      await expectPrefix('zzz', []);
    });

    it('state filters on the gateway state', async () => {
      const tag = `${RUN}.state`;
      const complete = [
        await api.create(task(`${RUN}-state-ok-1`, { [tag]: '' })),
        await api.create(task(`${RUN}-state-ok-2`, { [tag]: '' })),
      ];
      const failed = await api.create(
        task(`${RUN}-state-failed`, { [tag]: '', 'sim.outcome': 'EXECUTOR_ERROR' }),
      );
      await api.waitForAllEnded([...complete, failed]);
      const ids = async (state: string) =>
        (await api.listAll({ tag_key: tag, state })).map((t) => t.id).sort();
      expect(await ids('COMPLETE')).toEqual([...complete].sort());
      expect(await ids('EXECUTOR_ERROR')).toEqual([failed]);
      expect(await ids('RUNNING')).toEqual([]);
      const allComplete = await api.listAll({ state: 'COMPLETE' });
      expect(allComplete.every((t) => t.state === 'COMPLETE')).toBe(true);
      expect(allComplete.map((t) => t.id)).toEqual(expect.arrayContaining(complete));
    }, 20_000);

    it('tag_key/tag_value follow the match table of the specification', async () => {
      const foo = `${RUN}.foo`;
      const baz = `${RUN}.baz`;
      const t = {
        fooBar: await api.create(task(`${RUN}-tags-1`, { [foo]: 'bar' })),
        fooBat: await api.create(task(`${RUN}-tags-2`, { [foo]: 'bat' })),
        fooEmpty: await api.create(task(`${RUN}-tags-3`, { [foo]: '' })),
        fooBarBazBat: await api.create(task(`${RUN}-tags-4`, { [foo]: 'bar', [baz]: 'bat' })),
        none: await api.create(task(`${RUN}-tags-5`)),
      };
      const matching = async (keys: string[], values?: string[]) =>
        (await api.listAll({ tag_key: keys, tag_value: values, name_prefix: `${RUN}-tags-` }))
          .map((task) => task.id)
          .sort();
      const ids = (...list: string[]) => list.sort();

      // {"foo":"bar"} matches {"foo":"bar"} and {"foo":"bar","baz":"bat"}, not {"foo":"bat"}.
      expect(await matching([foo], ['bar'])).toEqual(ids(t.fooBar, t.fooBarBazBat));
      // {"foo":""} matches any value of foo, "" included, but not a task without foo.
      expect(await matching([foo])).toEqual(ids(t.fooBar, t.fooBat, t.fooEmpty, t.fooBarBazBat));
      expect(await matching([foo], [''])).toEqual(
        ids(t.fooBar, t.fooBat, t.fooEmpty, t.fooBarBazBat),
      );
      // {"foo":"bar","baz":"bat"} matches only a task with both.
      expect(await matching([foo, baz], ['bar', 'bat'])).toEqual([t.fooBarBazBat]);
      expect(await matching([foo, baz], ['bat', 'bat'])).toEqual([]);
      // Keys zip with values: a second key without a value matches any value of it.
      expect(await matching([foo, baz], ['bar'])).toEqual([t.fooBarBazBat]);
      expect(await matching([baz])).toEqual([t.fooBarBazBat]);
      // No tag filter: all five.
      expect(await matching([])).toEqual(ids(...Object.values(t)));
    });

    it('page_size and page_token give every task once, newest first, also while tasks are created', async () => {
      const tag = `${RUN}.paging`;
      const created: string[] = [];
      for (let i = 0; i < 7; i++)
        created.push(await api.create(task(`${RUN}-page-${i}`, { [tag]: '' })));
      const newestFirst = [...created].reverse();

      // Pages of 2: 2, 2, 2, 1, and the last one has no token.
      const pages: string[][] = [];
      let token: string | undefined;
      do {
        const page = await api.list({ tag_key: tag, page_size: 2, page_token: token });
        pages.push(page.tasks.map((t) => t.id));
        token = page.next_page_token;
        if (token !== undefined) expect(token).not.toBe('');
      } while (token);
      expect(pages.map((p) => p.length)).toEqual([2, 2, 2, 1]);
      expect(pages.flat()).toEqual(newestFirst);

      // An exact fit: the page that holds the last task has no token.
      const exact = await api.list({ tag_key: tag, page_size: 7 });
      expect(exact.tasks.length).toBe(7);
      expect(exact).not.toHaveProperty('next_page_token');

      // A task created mid-walk is newer than every page to come: nothing doubles, nothing drops.
      const first = await api.list({ tag_key: tag, page_size: 3 });
      const added = await api.create(task(`${RUN}-page-added`, { [tag]: '' }));
      const walked = first.tasks.map((t) => t.id);
      token = first.next_page_token;
      while (token) {
        const page = await api.list({ tag_key: tag, page_size: 3, page_token: token });
        walked.push(...page.tasks.map((t) => t.id));
        token = page.next_page_token;
      }
      expect(walked).toEqual(newestFirst);
      expect((await api.list({ tag_key: tag, page_size: 1 })).tasks[0].id).toBe(added);

      // The whole store, in small pages and in one: the same tasks, each once, ids descending.
      const small = (await api.listAll({}, 5)).map((t) => t.id);
      const whole = (await api.listAll({}, 2048)).map((t) => t.id);
      expect(small).toEqual(whole);
      expect(new Set(whole).size).toBe(whole.length);
      expect(whole).toEqual([...whole].sort().reverse());
      expect(whole).toEqual(expect.arrayContaining([...created, added]));
    });

    it('refuses a bad page_size, page_token, state or view with a 400 naming it', async () => {
      const list = (query: string) => api.call('GET', `${TES_PATH}/tasks?${query}`);
      expectFieldError(await list('page_size=2049'), 'page_size');
      expectFieldError(await list('page_size=0'), 'page_size');
      expectFieldError(await list('page_size=-1'), 'page_size');
      expectFieldError(await list('page_size=ten'), 'page_size');
      expect((await list('page_size=2048')).status).toBe(200);
      expectFieldError(await list('page_token=not-a-token'), 'page_token');
      const foreign = Buffer.from('x9:01abcdefghjkmnpqrstvwxyz0', 'utf8').toString('base64url');
      expectFieldError(await list(`page_token=${foreign}`), 'page_token');
      expectFieldError(await list('state=DONE'), 'state');
      expectFieldError(await list('state=complete'), 'state');
      expectFieldError(await list('view=EVERYTHING'), 'view');
      expectFieldError(await api.call('GET', `${TES_PATH}/tasks/${RUN}?view=EVERYTHING`), 'view');
    });
  });

  describe('cancel', () => {
    it('cancels a running task: CANCELING, then CANCELED once the node confirms', async () => {
      const id = await api.create(task(`${RUN}-cancel-running`, { 'sim.run_ms': '60000' }));
      await api.waitForState(id, 'RUNNING');
      const answer = await api.cancel(id);
      expect(answer).toEqual({ status: 200, body: {} });
      expect((await api.get(id)).state).toBe('CANCELING');
      const canceled = await api.waitForState(id, 'CANCELED', 5000);
      const meta = metadataOf(canceled);
      const remote = await simCall<TesTask>(
        `${tesUrlOf(meta.protes_node)}/tasks/${meta.protes_remote_id}`,
      );
      expect(remote.body.state).toBe('CANCELED');
      // Canceling again changes nothing.
      expect(await api.cancel(id)).toEqual({ status: 200, body: {} });
      expect((await api.get(id)).state).toBe('CANCELED');
    }, 20_000);

    it('cancels a task right after it was submitted', async () => {
      const id = await api.create(task(`${RUN}-cancel-early`, { 'sim.run_ms': '60000' }));
      expect(await api.cancel(id)).toEqual({ status: 200, body: {} });
      expect(['CANCELING', 'CANCELED']).toContain((await api.get(id)).state);
      await api.waitForState(id, 'CANCELED', 5000);
    }, 20_000);

    it('leaves a finished task as it is', async () => {
      const id = await api.create(task(`${RUN}-cancel-complete`));
      const before = await api.waitForState(id, 'COMPLETE');
      expect(await api.cancel(id)).toEqual({ status: 200, body: {} });
      await sleep(300);
      expect(await api.get(id, 'FULL')).toEqual(before);
    }, 20_000);

    it('answers an unknown id with a JSON 404, on get and on cancel', async () => {
      for (const unknown of ['01kzzzzzzzzzzzzzzzzzzzzzzz', 'no-such-task']) {
        for (const answer of [
          await api.call<ErrorResponse>('GET', `${TES_PATH}/tasks/${unknown}`),
          await api.call<ErrorResponse>('GET', `${TES_PATH}/tasks/${unknown}?view=FULL`),
          await api.call<ErrorResponse>('POST', `${TES_PATH}/tasks/${unknown}:cancel`),
        ]) {
          expect(answer.status).toBe(404);
          expect(answer.body.status_code).toBe(404);
          expect(answer.body.msg).toEqual(expect.any(String));
          expect(answer.body.msg.length).toBeGreaterThan(0);
        }
      }
    });
  });

  it('refuses invalid tasks with a 400 naming the field, and stores nothing', async () => {
    const countBefore = (await api.listAll()).length;
    const callsBefore = await nodeCreateCalls();
    const post = (options: Parameters<CheckedApi['call']>[2]) =>
      api.call('POST', `${TES_PATH}/tasks`, options);
    const valid = task(`${RUN}-invalid`);
    const executor = valid.executors[0];
    const cases: [string, unknown][] = [
      ['executors', { name: 'no executors' }],
      ['executors', { executors: [] }],
      ['executors[0].image', { executors: [{ command: ['true'] }] }],
      ['executors[0].command', { executors: [{ image: 'alpine', command: 'echo hello' }] }],
      ['executors[0].command', { executors: [{ image: 'alpine', command: [] }] }],
      ['executors[0].stdout', { executors: [{ ...executor, stdout: 'out.txt' }] }],
      [
        'inputs[0].type',
        { ...valid, inputs: [{ path: '/in', url: 'file:///in', type: 'FOLDER' }] },
      ],
      ['inputs[0].url', { ...valid, inputs: [{ path: '/in' }] }],
      ['inputs[0].url', { ...valid, inputs: [{ path: '/in', content: '' }] }],
      ['inputs[0].path', { ...valid, inputs: [{ path: 'data/in', url: 'file:///in' }] }],
      ['outputs[0].path', { ...valid, outputs: [{ path: 'out.txt', url: 'file:///out' }] }],
      [
        'outputs[0].path_prefix',
        { ...valid, outputs: [{ path: '/out/*.txt', url: 'file:///o/' }] },
      ],
      ['outputs[0].url', { ...valid, outputs: [{ path: '/out.txt' }] }],
      ['tags.k', { ...valid, tags: { k: 1 } }],
      ['resources.cpu_cores', { ...valid, resources: { cpu_cores: 1.5 } }],
      ['name', { ...valid, name: 42 }],
      [
        'inputs[0].content',
        { ...valid, inputs: [{ path: '/in', content: 'x'.repeat(MAX_CONTENT_BYTES + 1) }] },
      ],
      // The limit is in bytes: 65,537 two-byte characters are 131,074 bytes.
      [
        'inputs[0].content',
        { ...valid, inputs: [{ path: '/in', content: 'é'.repeat(MAX_CONTENT_BYTES / 2 + 1) }] },
      ],
      ['(body)', []],
      ['(body)', 'a task'],
      ['(body)', 42],
      ['(body)', null],
    ];
    for (const [field, body] of cases) {
      expectFieldError(await post({ raw: JSON.stringify(body) }), field);
    }
    // Not JSON at all: a 400, in the same error body.
    for (const raw of ['{"executors": [', '', 'executors=1']) {
      const answer = await api.call<ErrorResponse>('POST', `${TES_PATH}/tasks`, { raw });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ status_code: 400, msg: expect.any(String) });
    }

    expect((await api.listAll()).length).toBe(countBefore);
    expect(await nodeCreateCalls()).toBe(callsBefore);

    // The limit itself is accepted (and the node takes it too: TES asks for 128 KiB).
    const atLimit = await api.create({
      ...valid,
      inputs: [{ path: '/in', content: 'x'.repeat(MAX_CONTENT_BYTES) }],
    });
    expect((await api.listAll()).length).toBe(countBefore + 1);
    const full = await api.waitForState(atLimit, 'COMPLETE');
    expect(full.inputs?.[0]?.content?.length).toBe(MAX_CONTENT_BYTES);
  }, 20_000);

  describe('failover', () => {
    it('forwards to the other nodes while one refuses connections, and marks it unhealthy', async () => {
      await quiesce();
      const victim = 'gamma';
      const victimUrl = tesUrlOf(victim);
      const outage = await simCall(`${sims.get(victim)?.url}/sim/outage`, 'POST', {
        mode: 'refuse',
        ms: 2500,
      });
      expect(outage.status).toBe(200);
      await waitFor('gamma to refuse connections', async () => !(await accepting(victimUrl)), {
        timeoutMs: 2000,
      });

      const tag = `${RUN}.failover`;
      // The gateway thinks gamma healthy until a call to it fails (no task of gamma is active, so
      // the tracker does not call it): one task at a time, until one was offered to gamma.
      const ids: string[] = [];
      let offered: TesTask | undefined;
      for (let i = 0; i < 40 && !offered; i++) {
        const id = await api.create(task(`${RUN}-failover-${i}`, { [tag]: '' }));
        ids.push(id);
        const full = await api.placed(id);
        if (metadataOf(full).protes_attempts?.includes(`${victim}: failed`)) offered = full;
      }
      expect(offered).toBeDefined();
      // Then a batch at once: all taken by the others.
      ids.push(
        ...(await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            api.create(task(`${RUN}-failover-batch-${i}`, { [tag]: '' })),
          ),
        )),
      );

      const ended = await api.waitForAllEnded(ids);
      for (const t of ended.values()) {
        expect(t.state).toBe('COMPLETE');
        expect(['alpha', 'beta']).toContain(metadataOf(t).protes_node);
      }
      const attempts = metadataOf(offered as TesTask).protes_attempts;
      const node = metadataOf(offered as TesTask).protes_node;
      expect(attempts).toMatch(new RegExp(`^${victim}: failed \\(.+\\); ${node}: accepted as `));

      const nodes = await api.nodes();
      const health = nodes.find((n) => n.name === victim);
      expect(health).toMatchObject({ healthy: false, reason: expect.any(String) });
      for (const other of ['alpha', 'beta']) {
        expect(nodes.find((n) => n.name === other)?.healthy).toBe(true);
      }
      // Still ready: nodes being down does not make the gateway unready.
      const ready = await api.call<{ details: { nodes: Record<string, string> } }>(
        'GET',
        '/health',
      );
      expect(ready.status).toBe(200);
      expect(ready.body.details.nodes[victim]).toBe('down');
      // The same, for Prometheus.
      const metrics = await (await fetch(`${api.baseUrl}/metrics`)).text();
      expect(metrics).toContain(`protes_node_healthy{node="${victim}"} 0`);
      expect(metrics).toContain('protes_node_healthy{node="alpha"} 1');
      expect(metrics).toMatch(new RegExp(`protes_node_load\\{node="${victim}"\\} \\d+`));
      expect(metrics).toContain('protes_process_cpu_user_seconds_total');

      await waitFor('gamma to accept connections again', () => accepting(victimUrl), {
        timeoutMs: 5000,
      });
    }, 30_000);

    it('with every node refusing, still answers 200 and ends the task in SYSTEM_ERROR with each reason', async () => {
      for (const sim of sims.values()) {
        const outage = await simCall(`${sim.url}/sim/outage`, 'POST', { mode: 'refuse', ms: 1500 });
        expect(outage.status).toBe(200);
      }
      await waitFor('every node to refuse connections', async () => {
        for (const node of NODE_NAMES) if (await accepting(tesUrlOf(node))) return false;
        return true;
      });

      const id = await api.create(task(`${RUN}-nowhere`));
      // Answered while queued; the forwarder then finds no node that takes it.
      await api.waitForState(id, 'SYSTEM_ERROR');
      const full = await api.get(id, 'FULL');
      const logs = systemLogsOf(full);
      for (const node of NODE_NAMES) {
        expect(logs.some((line) => line.includes(node))).toBe(true);
        expect(metadataOf(full).protes_attempts).toContain(`${node}: failed`);
      }
      expect(metadataOf(full)).not.toHaveProperty('protes_node');
      const basic = await api.get(id, 'BASIC');
      expect(systemLogsOf(basic)).toEqual([]);
      expect((await api.call('GET', '/health')).status).toBe(200);

      // Once the nodes are back, tasks run again although every node was marked unhealthy.
      await waitFor('every node to accept connections again', async () => {
        for (const node of NODE_NAMES) if (!(await accepting(tesUrlOf(node)))) return false;
        return true;
      });
      const after = await api.create(task(`${RUN}-after-outage`));
      await api.waitForState(after, 'COMPLETE');
    }, 20_000);
  });

  describe('restart', () => {
    /**
     * Submits tasks that run for 2 s, stops the gateway with `signal` while they run, starts a new
     * gateway on the same SQLite file, and checks that nothing was lost nor forwarded twice.
     */
    async function restartWhileRunning(signal: NodeJS.Signals): Promise<void> {
      const tag = `${RUN}.restart-${signal}`;
      const ids = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          api.create(task(`${RUN}-restart-${signal}-${i}`, { [tag]: '', 'sim.run_ms': '2000' })),
        ),
      );
      await waitFor(
        'the tasks to run',
        async () => (await api.list({ tag_key: tag })).tasks.every((t) => t.state === 'RUNNING'),
        { timeoutMs: 10_000 },
      );
      const before = await api.listAll();
      const remoteIds = new Map<string, string | undefined>();
      for (const id of ids)
        remoteIds.set(id, metadataOf(await api.get(id, 'BASIC')).protes_remote_id);

      const old = mainGateway;
      const stopping = Date.now();
      await old.stop(signal);
      if (signal === 'SIGTERM') {
        // It shut down by itself, not by the SIGKILL that stop() sends after 5 s.
        expect(old.child.signalCode === 'SIGKILL').toBe(false);
        expect(Date.now() - stopping).toBeLessThan(5000);
      }
      mainGateway = await launchGateway();
      api.baseUrl = mainGateway.url;

      const after = await api.listAll();
      expect(after.map((t) => t.id)).toEqual(before.map((t) => t.id));
      const ended = await api.waitForAllEnded(ids, 15_000);
      for (const [id, t] of ended) {
        expect(t.state).toBe('COMPLETE');
        expect(t.logs?.[0]?.logs[0]?.exit_code).toBe(0);
        expect(metadataOf(t).protes_remote_id).toBe(remoteIds.get(id));
        expect(await remoteCopies(id)).toHaveLength(1);
      }
    }

    it('resumes every task after a SIGTERM', () => restartWhileRunning('SIGTERM'), 30_000);

    it('resumes every task after a SIGKILL', () => restartWhileRunning('SIGKILL'), 30_000);

    it('forwards after a restart a task that was stored but not yet forwarded when killed', async () => {
      // A node that accepts connections and never answers holds the gateway inside forwarding.
      const sockets = new Set<Socket>();
      const blackhole = createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
      const { port } = blackhole.address() as AddressInfo;
      const store = join(dir, 'unforwarded.db');
      try {
        const stuck = await launchGateway({
          PROTES_STORE__SQLITE_PATH: store,
          PROTES_NODES: nodesEnv([{ name: 'blackhole', url: `http://127.0.0.1:${port}` }]),
          // Long enough that the create is still in flight when the gateway is killed.
          PROTES_FORWARDING__TIMEOUT_MS: '60000',
        });
        const stuckApi = client(stuck.url);
        // Answered at once, though the only node never answers: forwarding comes after.
        const id = await stuckApi.create(task(`${RUN}-unforwarded`));
        const listed = await stuckApi.get(id, 'FULL');
        expect(listed.state).toBe('QUEUED');
        expect(metadataOf(listed)).not.toHaveProperty('protes_node');
        // Killed while the create is in flight (recorded as such before it was sent).
        await waitFor('the create to be sent', async () =>
          /^blackhole: sending$/.test(
            metadataOf(await stuckApi.get(id, 'FULL')).protes_attempts ?? '',
          ),
        );
        await stuck.stop('SIGKILL');

        const resumed = await launchGateway({
          PROTES_STORE__SQLITE_PATH: store,
          PROTES_NODES: nodesEnv([{ name: 'alpha', url: sims.get('alpha')?.url ?? '' }]),
        });
        const resumedApi = client(resumed.url);
        // The tracker takes the task over once the dead gateway's lease has expired; the node it
        // was being sent to is gone from the configuration, so the chain runs again.
        const done = await resumedApi.waitForState(listed.id, 'COMPLETE', 15_000);
        expect(metadataOf(done)).toMatchObject({ protes_node: 'alpha' });
        expect(metadataOf(done).protes_attempts).toMatch(
          /^blackhole: failed .*; alpha: accepted as /,
        );
        expect(await remoteCopies(listed.id)).toHaveLength(1);
        await resumed.stop();
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => blackhole.close(resolve));
      }
    }, 30_000);
  });

  describe('cancel while the tracker is reading the task from a slow node', () => {
    let slowSim: Started;
    let slowGateway: Started;
    let slowApi: CheckedApi;
    /** The states the gateway showed after the cancel, each change once. */
    const seen: string[] = [];

    beforeAll(async () => {
      slowSim = await startSimulator({ name: 'slow', args: [...SIM_ARGS, '--latency-ms', '400'] });
      extraProcesses.push(slowSim);
      slowGateway = await launchGateway({
        PROTES_STORE__SQLITE_PATH: join(dir, 'slow.db'),
        PROTES_NODES: nodesEnv([{ name: 'slow', url: slowSim.url }]),
      });
      slowApi = client(slowGateway.url);
    }, 30_000);

    afterAll(async () => {
      await slowGateway?.stop();
      await slowSim?.stop();
    });

    it('ends CANCELED', async () => {
      const id = await slowApi.create(task(`${RUN}-cancel-race`, { 'sim.run_ms': '60000' }));
      // The tracker's first poll is on its way (the node counts a request as it arrives, then
      // takes 400 ms to answer): it read the task before the cancel, and the node will say
      // RUNNING, which differs from the QUEUED it read.
      await waitFor('the tracker to poll the node', async () => {
        const stats = await simCall<{ requests: Record<string, number> }>(
          `${slowSim.url}/sim/stats`,
        );
        return stats.body.requests['GET /tasks/:id'] >= 1;
      });
      expect(await slowApi.cancel(id)).toEqual({ status: 200, body: {} });
      await waitFor(
        'the task to be CANCELED',
        async () => {
          const { state } = await slowApi.get(id);
          if (seen.at(-1) !== state) seen.push(state);
          return state === 'CANCELED';
        },
        { timeoutMs: 10_000, intervalMs: 20, describe: () => seen.join(' → ') },
      );
      expect(seen[0]).toBe('CANCELING');
      expect(seen.at(-1)).toBe('CANCELED');
    }, 20_000);

    it('cancels a task whose forwarding is still under way', async () => {
      const creating = slowApi.create(task(`${RUN}-cancel-forwarding`, { 'sim.run_ms': '60000' }));
      // Stored first, then forwarded (the node takes 400 ms to answer): cancel it in between.
      const [stored] = await waitFor('the task to be stored', async () => {
        const { tasks } = await slowApi.list({ name_prefix: `${RUN}-cancel-forwarding` });
        return tasks.length === 1 && tasks;
      });
      expect(stored.state).toBe('QUEUED');
      expect(await slowApi.cancel(stored.id)).toEqual({ status: 200, body: {} });
      expect(await creating).toBe(stored.id);
      const canceled = await slowApi.waitForState(stored.id, 'CANCELED', 10_000);
      const remote = await simCall<TesTask>(
        `${slowSim.url}${TES_PATH}/tasks/${metadataOf(canceled).protes_remote_id}`,
      );
      expect(remote.body.state).toBe('CANCELED');
    }, 20_000);

    // While the node has not confirmed the cancel, polls must not write its RUNNING back.
    it('never shows it RUNNING again once CANCELING', () => {
      expect(seen).toEqual(['CANCELING', 'CANCELED']);
    });
  });

  it('answered everything with bodies that match its schemas, and logged no error', () => {
    expect(clients.flatMap((c) => c.violations)).toEqual([]);
    const checked: Record<string, number> = {};
    for (const c of clients) {
      for (const [key, count] of c.checked) checked[key] = (checked[key] ?? 0) + count;
    }
    for (const key of [
      'CreateTask 200',
      'CreateTask 400',
      'GetTask 200',
      'GetTask 400',
      'GetTask 404',
      'ListTasks 200',
      'ListTasks 400',
      'CancelTask 200',
      'CancelTask 404',
      'GetServiceInfo 200',
    ]) {
      expect(checked[key]).toBeGreaterThan(0);
    }
    // The gateway writes only error and fatal logs to stderr (warnings go to stdout).
    for (const gateway of gateways) {
      expect(loggedErrors(gateway)).toBe('');
    }
  });
});
