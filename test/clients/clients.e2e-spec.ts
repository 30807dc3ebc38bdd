import {
  DEFAULT_RUN_MS,
  type Environment,
  MAX_CONTENT_BYTES,
  newEnvironment,
  NODE_NAMES,
  startEnvironment,
  stopEnvironment,
  SUPPORTED_BACKEND_PARAMETER,
} from './harness';
import { type HeaderList, isJsonContentType, jsonOf, type RawResponse, sendRaw } from './raw-http';
import {
  ClientError,
  CwlTes,
  FunnelCli,
  isTerminal,
  NextflowTes,
  PyTes,
  sleep,
  SnakemakeTes,
  TES_BASE,
} from './replay';
import { cwlTesTask, funnelTask, nextflowTask, snakemakeTask } from './shapes';
import {
  type ErrorBody,
  readCancelTaskResponse,
  readCreateTaskResponse,
  readErrorBody,
  readListTasksResponse,
  readServiceInfo,
  readTask,
  type TesState,
} from './strict-models';

/**
 * Client replay: the requests real TES clients send (py-tes, Snakemake's and cwl-tes's backends on
 * it, Nextflow's generated Java client, Funnel's CLI; see replay.ts for where each shape comes
 * from), sent over HTTP to the compiled gateway in front of three simulated nodes, and every answer
 * read as those clients read it: strictly, against the TES 1.1 and service-info 1.0 models.
 *
 * Each test is something a user of one of these clients would notice failing.
 */

const RUN = `cl${Date.now().toString(36)}`;
const env: Environment = newEnvironment();
let url = '';

beforeAll(async () => {
  url = (await startEnvironment(env)).url;
}, 40_000);

afterAll(() => stopEnvironment(env), 30_000);

// ---- helpers -----------------------------------------------------------------------------------

/** A plain request to the gateway, headers exactly as given. */
const call = (method: string, target: string, headers: HeaderList = [], body?: string) =>
  sendRaw(url, { method, target, headers, body });

/** What curl sends by default. */
const CURL: HeaderList = [
  ['User-Agent', 'curl/8.5.0'],
  ['Accept', '*/*'],
];
const JSON_CT: HeaderList = [['Content-Type', 'application/json']];

const firstLine = (response: RawResponse) => response.sent.split('\r\n')[0];

/** The answer must be `status` with the gateway's JSON error body (`{status_code, msg, …}`). */
function expectJsonError(response: RawResponse, status: number): ErrorBody {
  const where = `${firstLine(response)} → HTTP ${response.status}`;
  if (response.status !== status) {
    throw new Error(`${where}, expected ${status}: ${response.body.slice(0, 500)}`);
  }
  if (!isJsonContentType(response)) {
    throw new Error(
      `${where}: content-type is ${JSON.stringify(response.headers['content-type'])}, not application/json: ${response.body.slice(0, 200)}`,
    );
  }
  return readErrorBody(jsonOf(response), status);
}

/** The answer must be 200 with a JSON body; returns the body. */
function expectOk(response: RawResponse): unknown {
  if (response.status !== 200) {
    throw new Error(
      `${firstLine(response)} → HTTP ${response.status}, expected 200: ${response.body.slice(0, 800)}`,
    );
  }
  if (!isJsonContentType(response)) {
    throw new Error(`${firstLine(response)}: content-type ${response.headers['content-type']}`);
  }
  return jsonOf(response);
}

/** A small valid task, created with a plain JSON POST; returns its id. */
async function createPlain(
  name: string,
  tags: Record<string, string> = {},
  extra: Record<string, unknown> = {},
): Promise<string> {
  const body = JSON.stringify({
    name,
    executors: [{ image: 'alpine', command: ['echo', name] }],
    tags,
    ...extra,
  });
  return readCreateTaskResponse(expectOk(await call('POST', `${TES_BASE}/tasks`, JSON_CT, body)))
    .id;
}

/** Reads `state` until it is terminal (or `timeoutMs` passes); returns every state seen. */
async function statesUntilTerminal(
  read: () => Promise<TesState | undefined>,
  timeoutMs = 15_000,
): Promise<TesState[]> {
  const seen: TesState[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await read();
    if (state && seen.at(-1) !== state) seen.push(state);
    if (isTerminal(state)) return seen;
    if (Date.now() > deadline) {
      throw new Error(`no terminal state within ${timeoutMs} ms; seen: ${seen.join(' → ')}`);
    }
    await sleep(80);
  }
}

/** The ports the simulators listen on: none may appear in an answer to a client. */
const simAddresses = () =>
  [...env.sims.values()].map((sim) => new URL(sim.url).host).filter((host) => host !== '');

const longRun = { 'sim.run_ms': '30000' };
const shortRun = { 'sim.run_ms': '150' };

// ---- service-info ------------------------------------------------------------------------------

describe('service-info', () => {
  it('py-tes finds it at its first base path and reads it strictly (service-info 1.0 + TES 1.1 fields only)', async () => {
    const pytes = new PyTes(url, { token: 'py-tes-token' });
    const info = await pytes.getServiceInfo();
    expect(pytes.lastProbes).toEqual([{ target: `${TES_BASE}/service-info`, status: 200 }]);
    expect(info.type.group).toBe('org.ga4gh');
    expect(info.type.artifact).toBe('tes');
    expect(info.type.version).toMatch(/^1\.1(\.\d+)?$/);
  });

  it("answers py-tes's fallback path tasks/service-info with a clean 404 (or the same strict service-info)", async () => {
    // py-tes asks `<base>/service-info`, then `<base>/tasks/service-info`, and moves on only after a
    // 404: anything else there (400, 500, an HTML page) ends its probing with an error.
    const response = await call('GET', `${TES_BASE}/tasks/service-info`, [
      ['Content-type', 'application/json'],
    ]);
    if (response.status === 200) readServiceInfo(jsonOf(response));
    else expectJsonError(response, 404);
  });

  it('names no node URL', async () => {
    const response = await call('GET', `${TES_BASE}/service-info`);
    readServiceInfo(expectOk(response));
    for (const address of simAddresses()) expect(response.body).not.toContain(address);
  });
});

// ---- proTES's own API ----------------------------------------------------------------------------

describe('GET /protes/v1/nodes', () => {
  it('lists every node with name, health, breaker, load and tesVersion, and no node URL', async () => {
    type NodeEntry = Record<string, unknown>;
    let nodes: NodeEntry[] = [];
    let response: RawResponse | undefined;
    // The TES version is learnt from each node's service-info: give the first health round a moment.
    const deadline = Date.now() + 8000;
    do {
      response = await call('GET', '/protes/v1/nodes', [['Accept', 'application/json']]);
      const body = expectOk(response);
      nodes = (Array.isArray(body) ? body : (body as { nodes?: NodeEntry[] }).nodes) ?? [];
      if (nodes.every((n) => typeof n.tesVersion === 'string')) break;
      await sleep(200);
    } while (Date.now() < deadline);

    expect(nodes.map((n) => n.name).sort()).toEqual([...NODE_NAMES]);
    for (const node of nodes) {
      // Some statement of health: `health`, or `healthy` (a boolean, as the gateway names it).
      expect('health' in node || typeof node.healthy === 'boolean').toBe(true);
      expect(node).toHaveProperty('breaker');
      expect(typeof node.load).toBe('number');
      expect(node.tesVersion).toMatch(/^1\.1/);
    }
    for (const address of simAddresses()) expect(response.body).not.toContain(address);
  });
});

// ---- Snakemake / py-tes ------------------------------------------------------------------------

describe('Snakemake (TES executor plugin on py-tes)', () => {
  it('runs a job with a 128 KiB Snakefile inline to COMPLETE, polling MINIMAL, and every view reads strictly', async () => {
    const snakemake = new SnakemakeTes(new PyTes(url, { user: 'alice', password: 's3cret' }));
    const task = snakemakeTask({ rule: `${RUN}_align`, jobid: 3 });
    const inputs = task.inputs as { content?: string }[];
    expect(Buffer.byteLength(inputs[0].content ?? '')).toBe(MAX_CONTENT_BYTES);

    const id = await snakemake.runJob(task);
    expect(await snakemake.waitForJob(id)).toBe('success');

    const tes = snakemake.tes;
    expect(await tes.wait(id)).toEqual({ id, state: 'COMPLETE' });
    const minimal = await tes.getTask(id, 'MINIMAL');
    expect(minimal).toEqual({ id, state: 'COMPLETE' });

    const full = await tes.getTask(id, 'FULL');
    // The content comes back byte for byte, non-ASCII included (py-tes sent it as \u escapes).
    expect(full.inputs).toEqual(task.inputs);
    expect(full.outputs).toEqual(task.outputs);
    expect(full.executors).toEqual(task.executors);
    expect(full.name).toBe(task.name);
    expect(full.description ?? '').toBe('');
    expect(full.resources ?? {}).toEqual({});
    expect(full.tags ?? {}).toEqual({});
    expect(full.logs?.[0]?.logs[0]?.exit_code).toBe(0);

    const basic = await tes.getTask(id, 'BASIC');
    expect(basic.inputs?.map((i) => i.path)).toEqual([
      '/tmp/Snakefile',
      '/tmp/data/A.fastq',
      '/tmp/run_snakemake.sh',
    ]);
    expect(basic.executors).toEqual(task.executors);
  }, 25_000);

  it('py-tes lists with view, page_size, page_token and name_prefix, every page read strictly', async () => {
    const tes = new PyTes(url, { token: 'py-tes-token' });
    const prefix = `snakejob.${RUN}_list`;
    const ids = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        await tes.createTask(
          snakemakeTask({ rule: `${RUN}_list`, jobid: i, snakefileBytes: 4096 }),
        ),
      );
    }
    for (const view of ['MINIMAL', 'BASIC', 'FULL'] as const) {
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await tes.listTasks({
          view,
          page_size: 2,
          page_token: token,
          name_prefix: prefix,
        });
        expect(page.tasks.length).toBeLessThanOrEqual(2);
        seen.push(...page.tasks.map((t) => t.id ?? ''));
        token = page.next_page_token || undefined;
        pages++;
      } while (token && pages < 5);
      expect(seen.sort()).toEqual([...ids].sort());
      expect(pages).toBe(2);
    }
  });
});

// ---- Nextflow ----------------------------------------------------------------------------------

describe('Nextflow (nf-ga4gh, generated Java client)', () => {
  it('creates, polls with no view (the MINIMAL default), reads FULL once ended; exit 0, globs and path_prefix kept', async () => {
    const nextflow = new NextflowTes(`${url}/ga4gh/tes`, {
      basic: { username: 'alice', password: 's3cret' },
      apiKey: { name: 'api_key', key: 'nf-key-123' },
    });
    const task = nextflowTask({ name: `${RUN}-nf-align (1)`, tags: shortRun });
    const id = await nextflow.createTask(task);

    const polled = await nextflow.getTask(id, null);
    expect(Object.keys(polled).sort()).toEqual(['id', 'state']);

    expect(await nextflow.waitForCompletion(id)).toBe('COMPLETE');
    const full = await nextflow.getTask(id, 'FULL');
    expect(full.logs?.[0]?.logs[0]?.exit_code).toBe(0);
    expect(await nextflow.readExitStatus(id)).toBe(0);
    expect(full.name).toBe(task.name);
    expect(full.outputs).toEqual(task.outputs);
    expect(full.inputs).toEqual(task.inputs);
    // Sent Gson-escaped (2\u003e\u00261): read back as written.
    expect(full.executors).toEqual(task.executors);
    expect(full.resources).toEqual(task.resources);
  });

  it('reads the exit code of a failed task from logs[0].logs[0].exit_code', async () => {
    const nextflow = new NextflowTes(`${url}/ga4gh/tes`, { oauthToken: 'nf-oauth-token' });
    const id = await nextflow.createTask(
      nextflowTask({
        name: `${RUN}-nf-fail`,
        tags: { 'sim.outcome': 'EXECUTOR_ERROR', 'sim.exit_code': '3', ...shortRun },
      }),
    );
    expect(await nextflow.waitForCompletion(id)).toBe('EXECUTOR_ERROR');
    const full = await nextflow.getTask(id, 'FULL');
    expect(full.logs?.[0]?.logs[0]?.exit_code).toBe(3);
    expect(await nextflow.readExitStatus(id)).toBe(3);
  });
});

// ---- cwl-tes -----------------------------------------------------------------------------------

describe('cwl-tes (on py-tes)', () => {
  it('keeps its tags, the DIRECTORY workdir output and FTP/S3 URLs; COMPLETE with MINIMAL polls', async () => {
    const cwl = new CwlTes(new PyTes(url, { token: 'cwl-token' }));
    const task = cwlTesTask({
      toolName: `${RUN}-md5`,
      workflowId: `${RUN}-wf`,
      extraTags: shortRun,
    });
    const id = await cwl.submit(task);
    expect(await cwl.run(id)).toEqual({ state: 'COMPLETE' });

    const basic = await cwl.tes.getTask(id, 'BASIC');
    expect(basic.tags).toEqual(task.tags);
    expect(basic.outputs).toEqual(task.outputs);
    expect(basic.inputs).toEqual(task.inputs);
    expect(basic.executors).toEqual(task.executors);
    expect(basic.resources).toEqual(task.resources);
  });

  it('on a failed end reads FULL and takes the exit code from the last log', async () => {
    const cwl = new CwlTes(new PyTes(url, { token: 'cwl-token' }));
    const id = await cwl.submit(
      cwlTesTask({
        toolName: `${RUN}-md5-fail`,
        workflowId: `${RUN}-wf`,
        extraTags: { 'sim.outcome': 'EXECUTOR_ERROR', 'sim.exit_code': '7', ...shortRun },
      }),
    );
    expect(await cwl.run(id)).toEqual({ state: 'EXECUTOR_ERROR', exitCode: 7 });
  });
});

// ---- Funnel's CLI ------------------------------------------------------------------------------

describe("Funnel's CLI (funnel task …)", () => {
  /** create, get (FULL), list (BASIC, filters), cancel and service-info through one client. */
  async function funnelSession(funnel: FunnelCli, label: string): Promise<void> {
    const tagKey = `${RUN}.${label}`;
    const quick = await funnel.create(
      funnelTask({ name: `${RUN}-${label}-quick`, tags: { [tagKey]: 'q', ...shortRun } }),
    );
    const slow = await funnel.create(
      funnelTask({ name: `${RUN}-${label}-slow`, tags: { [tagKey]: 's', ...longRun } }),
    );

    // `funnel task wait` polls MINIMAL; `funnel task get` reads FULL.
    await statesUntilTerminal(async () => (await funnel.get(quick, 'MINIMAL')).state);
    const full = await funnel.get(quick);
    expect(full.state).toBe('COMPLETE');
    expect(full.volumes).toEqual(['/vol/shared']);

    const listed = await funnel.list({
      namePrefix: `${RUN}-${label}`,
      state: 'COMPLETE',
      tags: [[tagKey, 'q']],
      pageSize: 10,
    });
    expect(listed.tasks.map((t) => t.id)).toEqual([quick]);

    readCancelTaskResponse(jsonOf(await funnel.cancel(slow)));
    const states = await statesUntilTerminal(async () => (await funnel.get(slow, 'MINIMAL')).state);
    expect(states.at(-1)).toBe('CANCELED');

    await funnel.serviceInfo();
  }

  it('works at /v1, where Funnel sends every call (it drops the path of --server)', async () => {
    await funnelSession(new FunnelCli(`${url}${TES_BASE}`), 'fv1');
  }, 25_000);

  it('at the TES base path: Basic Og==, view=FULL, a sorted list query with state and tag filters, cancel answered {}', async () => {
    await funnelSession(new FunnelCli(url, TES_BASE), 'fga');
  }, 25_000);
});

// ---- cancel ------------------------------------------------------------------------------------

describe('cancel', () => {
  interface CancelShape {
    name: string;
    send: (id: string) => Promise<RawResponse>;
    /** The state as the same client reads it while it waits. */
    read: (id: string) => Promise<TesState | undefined>;
  }
  const pytes = () => new PyTes(url, { token: 'py-tes-token' });
  const nextflow = () => new NextflowTes(`${url}/ga4gh/tes`);
  const rawCancel = (headers: HeaderList, body?: string) => (id: string) =>
    call('POST', `${TES_BASE}/tasks/${id}:cancel`, headers, body);
  const minimalState = async (id: string) =>
    readTask(
      expectOk(await call('GET', `${TES_BASE}/tasks/${id}?view=MINIMAL`)),
      'tesTask',
      'MINIMAL',
    ).state;

  const shapes: CancelShape[] = [
    {
      name: 'py-tes/Snakemake: no body, Content-type: application/json, Content-Length: 0',
      send: (id) => new SnakemakeTes(pytes()).cancelJob(id),
      read: async (id) => (await pytes().getTask(id, 'MINIMAL')).state,
    },
    {
      name: 'a generated OpenAPI client sending {} as application/json',
      send: rawCancel([...JSON_CT, ['Accept', 'application/json']], '{}'),
      read: minimalState,
    },
    {
      name: 'curl -X POST: no content type, no Content-Length, no body',
      send: rawCancel(CURL),
      read: minimalState,
    },
    {
      name: 'Nextflow: empty body as application/json; charset=utf-8',
      send: (id) => nextflow().cancelTask(id),
      read: async (id) => (await nextflow().getTask(id, null)).state,
    },
  ];

  it.each(shapes.map((shape) => [shape.name, shape] as const))(
    '%s → 200 {} and the task ends CANCELED',
    async (_name, shape) => {
      // Snakemake's jobs carry no tags: its job runs the nodes' default time, long enough.
      const id = shape.name.startsWith('py-tes')
        ? await pytes().createTask(
            snakemakeTask({ rule: `${RUN}_cancel`, jobid: 9, snakefileBytes: 2048 }),
          )
        : await createPlain(`${RUN}-cancel`, longRun);
      await sleep(100);
      const response = await shape.send(id);
      readCancelTaskResponse(expectOk(response));
      const states = await statesUntilTerminal(() => shape.read(id), DEFAULT_RUN_MS + 8000);
      expect(states.at(-1)).toBe('CANCELED');
    },
    20_000,
  );

  it('an unknown id is a clean JSON 404 for GET and cancel alike, at every base path py-tes tries', async () => {
    const unknown = '01jzzzzzzzzzzzzzzzzzzzzzzz';
    const tes = new PyTes(url, { token: 'py-tes-token' });
    await expect(tes.getTask(unknown, 'MINIMAL')).rejects.toThrow(ClientError);
    expect(tes.lastProbes.map((p) => p.status)).toEqual([404, 404, 404]);
    await expect(tes.cancelTask(unknown)).rejects.toThrow(ClientError);
    expect(tes.lastProbes.map((p) => p.status)).toEqual([404, 404, 404]);

    const pyHeaders: HeaderList = [['Content-type', 'application/json']];
    for (const base of PyTes.BASES) {
      expectJsonError(await call('GET', `${base}/tasks/${unknown}?view=MINIMAL`, pyHeaders), 404);
      expectJsonError(
        await call('POST', `${base}/tasks/${unknown}:cancel`, [
          ...pyHeaders,
          ['Content-Length', '0'],
        ]),
        404,
      );
    }
    // Nextflow's and curl's shapes too.
    expectJsonError(
      await call('GET', `${TES_BASE}/tasks/${unknown}`, [['Accept', 'application/json']]),
      404,
    );
    expectJsonError(await call('POST', `${TES_BASE}/tasks/${unknown}:cancel`, CURL), 404);
  });
});

// ---- HTTP at the edges -------------------------------------------------------------------------

describe('HTTP as clients speak it', () => {
  it('accepts a trailing slash after the base path', async () => {
    const id = await createPlain(`${RUN}-slash`, shortRun);
    readListTasksResponse(expectOk(await call('GET', `${TES_BASE}/tasks/`)));
    readServiceInfo(expectOk(await call('GET', `${TES_BASE}/service-info/`)));
    readTask(
      expectOk(await call('GET', `${TES_BASE}/tasks/${id}/?view=BASIC`)),
      'tesTask',
      'BASIC',
    );
    const body = JSON.stringify({
      name: `${RUN}-slash-post`,
      executors: [{ image: 'alpine', command: ['true'] }],
    });
    readCreateTaskResponse(expectOk(await call('POST', `${TES_BASE}/tasks/`, JSON_CT, body)));
  });

  it('zips repeated tag_key/tag_value as TES 1.1 says, and ignores unknown query parameters', async () => {
    const k1 = `${RUN}.k1`;
    const k2 = `${RUN}.k2`;
    const ab = await createPlain(`${RUN}-tags-ab`, { [k1]: 'a', [k2]: 'b', ...shortRun });
    const ac = await createPlain(`${RUN}-tags-ac`, { [k1]: 'a', [k2]: 'c', ...shortRun });
    const z = await createPlain(`${RUN}-tags-z`, { [k1]: 'z', ...shortRun });
    // No view: the spec's default, MINIMAL.
    const list = async (query: string) =>
      readListTasksResponse(
        expectOk(await call('GET', `${TES_BASE}/tasks?${query}`)),
        'tesListTasksResponse',
        'MINIMAL',
      )
        .tasks.map((t) => t.id)
        .sort();
    const e = encodeURIComponent;

    expect(await list(`tag_key=${e(k1)}&tag_value=a&tag_key=${e(k2)}&tag_value=b`)).toEqual([ab]);
    // Nextflow's generated client writes all keys, then all values.
    expect(await list(`tag_key=${e(k1)}&tag_key=${e(k2)}&tag_value=a&tag_value=c`)).toEqual([ac]);
    expect(await list(`tag_key=${e(k1)}&tag_value=a`)).toEqual([ab, ac].sort());
    // A key without a value matches any value.
    expect(await list(`tag_key=${e(k1)}`)).toEqual([ab, ac, z].sort());

    // Unknown parameters (an API key in the query, py-tes's legacy `project`) are ignored everywhere.
    const extra = 'api_key=k3y&project=lab&foo=bar';
    expect(await list(`tag_key=${e(k1)}&tag_value=z&${extra}`)).toEqual([z]);
    readTask(
      expectOk(await call('GET', `${TES_BASE}/tasks/${z}?view=MINIMAL&${extra}`)),
      'tesTask',
      'MINIMAL',
    );
    const body = JSON.stringify({
      name: `${RUN}-extra-query`,
      executors: [{ image: 'alpine', command: ['true'] }],
      tags: longRun,
    });
    const created = readCreateTaskResponse(
      expectOk(await call('POST', `${TES_BASE}/tasks?${extra}`, JSON_CT, body)),
    );
    readCancelTaskResponse(
      expectOk(
        await call('POST', `${TES_BASE}/tasks/${created.id}:cancel?${extra}`, [
          ...JSON_CT,
          ['Content-Length', '0'],
        ]),
      ),
    );
  });

  it('answers a method the path does not allow with 405, an Allow header and the JSON error body', async () => {
    const id = await createPlain(`${RUN}-405`, shortRun);
    const cases: [method: string, target: string, allowed: string[]][] = [
      ['DELETE', `${TES_BASE}/tasks/${id}`, ['GET']],
      ['PUT', `${TES_BASE}/tasks`, ['GET', 'POST']],
      ['PATCH', `${TES_BASE}/service-info`, ['GET']],
    ];
    for (const [method, target, allowed] of cases) {
      const response = await call(method, target, CURL);
      expectJsonError(response, 405);
      const allow = (response.headers.allow ?? '').split(',').map((m) => m.trim().toUpperCase());
      expect({ method, target, allow }).toEqual({
        method,
        target,
        allow: expect.arrayContaining(allowed),
      });
      expect(allow).not.toContain(method);
    }
  });

  it('answers a URL longer than its limit with 414 and the JSON error body', async () => {
    // 12 KiB: above the 8 KiB common servers allow, below Node's 16 KiB header limit.
    const response = await call(
      'GET',
      `${TES_BASE}/tasks?name_prefix=${'x'.repeat(12 * 1024)}`,
      CURL,
    );
    expectJsonError(response, 414);
  });

  it('answers headers larger than its limit with 431 and the JSON error body', async () => {
    const response = await call('GET', `${TES_BASE}/tasks`, [
      ...CURL,
      ['X-Padding', 'p'.repeat(64 * 1024)],
    ]);
    expectJsonError(response, 431);
  });

  it('answers a malformed URL with 400 and the JSON error body', async () => {
    expectJsonError(await call('GET', `${TES_BASE}/tasks/%E0%A4%A`, CURL), 400);
  });

  it('answers a body nested thousands deep with 400 and the JSON error body, storing nothing', async () => {
    const before = await call('GET', `${TES_BASE}/tasks?view=MINIMAL&page_size=2048`, CURL);
    const tags = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    const body = `{"executors":[{"image":"alpine","command":["true"]}],"tags":${tags}}`;
    expectJsonError(await call('POST', `${TES_BASE}/tasks`, [...CURL, ...JSON_CT], body), 400);
    const after = await call('GET', `${TES_BASE}/tasks?view=MINIMAL&page_size=2048`, CURL);
    expect(after.body).toBe(before.body);
  });

  it('accepts and ignores Basic and Bearer sent together', async () => {
    const both: HeaderList = [
      ['Authorization', 'Basic YWxpY2U6czNjcmV0'],
      ['Authorization', 'Bearer some.jwt.token'],
    ];
    readListTasksResponse(
      expectOk(await call('GET', `${TES_BASE}/tasks?view=MINIMAL`, both)),
      'tesListTasksResponse',
      'MINIMAL',
    );
    const body = JSON.stringify({
      name: `${RUN}-auth`,
      executors: [{ image: 'alpine', command: ['true'] }],
    });
    readCreateTaskResponse(
      expectOk(await call('POST', `${TES_BASE}/tasks`, [...both, ...JSON_CT], body)),
    );
  });
});

// ---- request bodies ----------------------------------------------------------------------------

describe('request bodies', () => {
  // The team's decision: the gateway reads any POST body as JSON, whatever its content type (curl
  // sends form-urlencoded by default, some scripts text/plain, some nothing): a TES body can only be
  // JSON, and what matters is whether it is JSON. A body that is not JSON is a 400.
  it.each([
    ['text/plain', [['Content-Type', 'text/plain']] as HeaderList],
    ['text/plain; charset=utf-8', [['Content-Type', 'text/plain; charset=utf-8']] as HeaderList],
    ['no content type', [] as HeaderList],
    [
      "curl -d's application/x-www-form-urlencoded",
      [['Content-Type', 'application/x-www-form-urlencoded']] as HeaderList,
    ],
  ])('reads a JSON task sent as %s', async (label, headers) => {
    const name = `${RUN}-ct-${label.replace(/\W+/g, '_')}`;
    const body = JSON.stringify({
      name,
      executors: [{ image: 'alpine', command: ['true'] }],
      tags: shortRun,
    });
    const { id } = readCreateTaskResponse(
      expectOk(await call('POST', `${TES_BASE}/tasks`, [...CURL, ...headers], body)),
    );
    const stored = readTask(
      expectOk(await call('GET', `${TES_BASE}/tasks/${id}?view=BASIC`)),
      'tesTask',
      'BASIC',
    );
    expect(stored.name).toBe(name);
  });

  it.each([
    ['form data', 'application/x-www-form-urlencoded', 'name=x&executors=y'],
    ['truncated JSON', 'application/json', '{"name": "x", "executors": ['],
    ['plain text', 'text/plain', 'run my task please'],
  ])('refuses %s with 400 and the JSON error body', async (_label, contentType, body) => {
    expectJsonError(
      await call('POST', `${TES_BASE}/tasks`, [...CURL, ['Content-Type', contentType]], body),
      400,
    );
  });

  it('creates with 200 (not 201) and exactly {"id": …}', async () => {
    const body = JSON.stringify({
      name: `${RUN}-compliance`,
      executors: [{ image: 'alpine', command: ['true'] }],
    });
    const created = expectOk(await call('POST', `${TES_BASE}/tasks`, JSON_CT, body));
    expect(Object.keys(created as object)).toEqual(['id']);
  });
});

// ---- backend parameters ------------------------------------------------------------------------

describe('resources.backend_parameters', () => {
  const post = (name: string, resources: Record<string, unknown>) =>
    call(
      'POST',
      `${TES_BASE}/tasks`,
      JSON_CT,
      JSON.stringify({
        name,
        executors: [{ image: 'alpine', command: ['true'] }],
        resources,
        tags: shortRun,
      }),
    );

  it('refuses backend_parameters_strict with a key no node supports: 400 naming the key, nothing stored', async () => {
    const name = `${RUN}-strict-unsupported`;
    const error = expectJsonError(
      await post(name, {
        backend_parameters: { GpuModel: 'h100' },
        backend_parameters_strict: true,
      }),
      400,
    );
    expect(JSON.stringify(error)).toContain('GpuModel');
    const listed = readListTasksResponse(
      expectOk(await call('GET', `${TES_BASE}/tasks?name_prefix=${encodeURIComponent(name)}`)),
    );
    expect(listed.tasks).toEqual([]);
  });

  it('accepts a strict key some node supports, and an unsupported key when not strict', async () => {
    readCreateTaskResponse(
      expectOk(
        await post(`${RUN}-strict-supported`, {
          backend_parameters: { [SUPPORTED_BACKEND_PARAMETER]: 'Standard_D4_v3' },
          backend_parameters_strict: true,
        }),
      ),
    );
    readCreateTaskResponse(
      expectOk(await post(`${RUN}-lenient`, { backend_parameters: { GpuModel: 'h100' } })),
    );
  });
});
