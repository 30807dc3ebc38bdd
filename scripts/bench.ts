import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { connect as connectAmqp } from 'amqplib';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { monotonicFactory } from 'ulid';
import { newTaskRecord, type TaskRecord } from '@protes/core';
import { SqliteTaskStore } from '@protes/persistence';
import { DIST, nodesEnv, startGateway, startNode, startSimulator, type Started } from './processes';
import { SEED_TASK, seedStore } from './seed-store';

/*
 * `npm run bench` (not part of `npm test`): the targets of issue 10 measured from outside, each
 * figure beside a baseline measured in the same run and the ratio. Load comes from autocannon in a
 * process of its own, so that the client does not share an event loop with what it measures.
 * Baselines: a bare Fastify server answering the very same bytes (this stack's ceiling), a bare
 * NestJS application on Fastify doing the same (the framework's own ceiling: scripts/nest-baseline),
 * and a simulator node answered directly (what a client gets without proTES). Stores are seeded through
 * the SQLite store's own insert path, in transactions of many records, never through HTTP.
 *
 *   npm run bench -- [--sizes 10000,100000,1000000] [--tracked 100000] [--nodes 10]
 *                    [--duration 5] [--idle 30] [--out var/bench/<time>.json] [--amqp URL]
 *
 * With a RabbitMQ (`--amqp`, else TEST_AMQP_URL), POST is also measured in distributed mode, where
 * the gateway only stores the task and publishes its event (on a queue of its own, deleted after).
 *
 * The figures are noisy on a shared machine; the ratios are what compare across runs.
 */

interface Options {
  sizes: number[];
  tracked: number;
  nodes: number;
  durationS: number;
  idleS: number;
  out: string;
  /** Where the gateways write V8 CPU profiles (`--cpu-prof DIR`), if anywhere. */
  cpuProfDir?: string;
  /** A RabbitMQ for the distributed-mode POST row, if any. */
  amqpUrl?: string;
}

function parseOptions(argv: string[]): Options {
  const flag = (name: string): string | undefined => {
    const at = argv.indexOf(`--${name}`);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const count = (name: string, fallback: number): number => {
    const value = Number(flag(name) ?? fallback);
    if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--${name} must be a count`);
    return value;
  };
  const sizes = (flag('sizes') ?? '10000,100000,1000000').split(',').map(Number);
  if (!sizes.every((n) => Number.isSafeInteger(n) && n > 0)) {
    throw new Error('--sizes must be counts separated by commas');
  }
  return {
    sizes: sizes.sort((a, b) => a - b),
    tracked: count('tracked', 100_000),
    nodes: count('nodes', 10),
    durationS: count('duration', 5),
    idleS: count('idle', 30),
    out:
      flag('out') ?? join('var', 'bench', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
    cpuProfDir: flag('cpu-prof'),
    amqpUrl: flag('amqp') ?? process.env.TEST_AMQP_URL,
  };
}

/** One autocannon run, as its child process reports it. */
interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/** The load generator: autocannon's API in a child process, printing its result as JSON. */
const LOAD_CHILD = `
  const options = JSON.parse(process.argv[1]);
  require('autocannon')(options, (error, result) => {
    if (error) { console.error(error); process.exit(1); }
    console.log(JSON.stringify({
      rps: result.requests.average,
      p50: result.latency.p50,
      p99: result.latency.p99,
      errors: result.errors + result.timeouts + result.non2xx,
    }));
  });`;

/** The offered rate at which POST latency is compared with and without a slow node (target 2). */
const PACED_RATE = 100;

function load(
  url: string,
  durationS: number,
  connections: number,
  request: {
    method?: string;
    body?: string;
    headers?: Record<string, string>;
    /** Requests per second in all (autocannon's overallRate); as fast as answered if absent. */
    overallRate?: number;
  } = {},
): Promise<Load> {
  const options = { url, duration: durationS, connections, ...request };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', LOAD_CHILD, JSON.stringify(options)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as Load) : reject(new Error(`autocannon: ${code}`)),
    );
  });
}

/**
 * A bare Fastify server in its own process answering, for each path, the bytes read from `file`
 * (a JSON object of path → body), to GET and POST alike: the same stack without proTES.
 */
function startBare(file: string): Promise<Started> {
  const script = `
    const bodies = JSON.parse(require('node:fs').readFileSync(process.argv[1], 'utf8'));
    const app = require('fastify')();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    const answer = (req, reply) =>
      reply.type('application/json; charset=utf-8').send(bodies[req.url.split('?')[0]] ?? '{}');
    app.get('/*', answer);
    app.post('/*', answer);
    app.listen({ port: 0, host: '127.0.0.1' }).then((address) =>
      console.log('bare listening on ' + address));`;
  return startNode('-e', [script, file], { ready: /bare listening on (http:\/\/\S+)/ });
}

/** Node options that make a gateway write a V8 CPU profile (open it in Chrome's DevTools). */
const profilingArgs = (options: Options): string[] =>
  options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [];

/** The bare NestJS application (scripts/nest-baseline.ts) answering the bytes in `file`. */
function startNestBaseline(file: string): Promise<Started> {
  return startNode(join(DIST, 'scripts/nest-baseline.js'), [file], {
    ready: /nest baseline listening on (http:\/\/\S+)/,
  });
}

/** Both same-bytes baselines, started together and stopped together. */
async function startBaselines(file: string): Promise<{ bare: Started; nest: Started }> {
  const [bare, nest] = await Promise.all([startBare(file), startNestBaseline(file)]);
  return { bare, nest };
}

/** CPU seconds (user + system) a process has used, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of stat, in clock ticks of 1/100 s.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident memory now and at its peak, in MB, from /proc (Linux). */
function memoryMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Adds tasks to the store until it holds `total`, in transactions of 10,000 records: finished
 * ones in three states, each tagged with one of ten `bench` values, ids in creation order.
 */
interface Row {
  figure: string;
  value: number;
  unit: string;
  baseline?: number;
  baselineName?: string;
  /** The bare NestJS application's rate for the same bytes: the framework's ceiling. */
  nest?: number;
  target?: string;
  met?: boolean;
}

function printTable(rows: Row[]): void {
  const cells = rows.map((r) => [
    r.figure,
    `${r.value.toFixed(r.value < 10 ? 2 : 0)} ${r.unit}`,
    r.baseline === undefined ? '' : `${r.baseline.toFixed(0)} (${r.baselineName ?? ''})`,
    r.baseline === undefined ? '' : `${(r.value / r.baseline).toFixed(2)}×`,
    r.nest === undefined
      ? ''
      : `${r.nest.toFixed(0)} (${r.baseline ? (r.nest / r.baseline).toFixed(2) : '?'}× bare)`,
    r.target ?? '',
    r.met === undefined ? '' : r.met ? 'met' : 'MISSED',
  ]);
  const header = ['figure', 'value', 'baseline', 'ratio', 'bare Nest', 'target', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  for (const line of [header, ...cells]) {
    console.log(line.map((c, i) => c.padEnd(widths[i])).join('  '));
  }
}

/** A local OIDC issuer with one key: the gateway fetches its JWKS once, the bench signs a token. */
async function startIssuer(): Promise<{ url: string; token: string; server: Server }> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' };
  const server = createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // An administrator, who may read every task (the seeded ones belong to the anonymous user).
  const token = await new SignJWT({ sub: 'bench', groups: ['protes-admin'] })
    .setProtectedHeader({ alg: 'ES256', kid: 'bench' })
    .setIssuer(url)
    .setAudience('protes')
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(privateKey);
  return { url, token, server };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'protes-bench-'));
  const running: Started[] = [];
  const rows: Row[] = [];
  const start = async (p: Promise<Started>) => {
    const started = await p;
    running.push(started);
    return started;
  };
  const stop = async (p: Started) => {
    running.splice(running.indexOf(p), 1);
    await p.stop();
  };
  const issuer = await startIssuer();
  const gatewayProcess = (env: NodeJS.ProcessEnv) =>
    startGateway(env, false, profilingArgs(options));
  try {
    const sim = await start(startSimulator({ name: 'sim-0', args: ['--running-ms', '100'] }));
    const slowSim = await start(
      startSimulator({ name: 'sim-slow', args: ['--running-ms', '100', '--latency-ms', '500'] }),
    );
    const dbPath = join(dir, 'bench.db');
    const gatewayEnv = (nodes: Started[], extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
      PROTES_CONFIG: '',
      PROTES_SERVER__PORT: '0',
      PROTES_STORE__SQLITE_PATH: dbPath,
      PROTES_NODES: nodesEnv(nodes.map((n, i) => ({ name: i ? `sim-${i}` : 'sim-0', url: n.url }))),
      PROTES_LOG__LEVEL: 'error',
      ...extra,
    });
    const authEnv = {
      PROTES_AUTH__ENABLED: 'true',
      PROTES_AUTH__ADMIN__CLAIM: 'groups',
      PROTES_AUTH__ADMIN__VALUE: 'protes-admin',
      PROTES_AUTH__ISSUERS: JSON.stringify([
        { issuer: issuer.url, jwksUri: issuer.url, audience: 'protes' },
      ]),
    };
    const bearer = { authorization: `Bearer ${issuer.token}` };

    // Targets 3, then 1 and 5 at the largest size: lists at each size, gets from the largest.
    const store = new SqliteTaskStore({ path: dbPath });
    const bodies: Record<string, string> = {};
    const bodyFile = join(dir, 'bodies.json');
    let seeded = 0;
    const lists: Record<string, Load>[] = [];
    let gateway: Started | undefined;
    for (const size of options.sizes) {
      const began = Date.now();
      await seedStore(store, seeded, size);
      seeded = size;
      console.log(`seeded ${size} tasks in ${((Date.now() - began) / 1000).toFixed(1)} s`);
      gateway = await start(gatewayProcess(gatewayEnv([sim])));
      const api = `${gateway.url}/ga4gh/tes/v1`;
      const queries = {
        unfiltered: '',
        'by state': '&state=COMPLETE',
        'by tag': '&tag_key=bench&tag_value=3',
      };
      const measured: Record<string, Load> = {};
      for (const [name, filter] of Object.entries(queries)) {
        const url = `${api}/tasks?view=MINIMAL&page_size=256${filter}`;
        bodies[`/list-${size}-${name}`] = await (await fetch(url)).text();
        measured[name] = await load(url, options.durationS, 16);
      }
      lists.push(measured);
      writeFileSync(bodyFile, JSON.stringify(bodies));
      const { bare, nest } = await startBaselines(bodyFile);
      running.push(bare, nest);
      for (const name of Object.keys(queries)) {
        const base = await load(`${bare.url}/list-${size}-${name}`, options.durationS, 16);
        const framework = await load(`${nest.url}/list-${size}-${name}`, options.durationS, 16);
        const m = measured[name];
        rows.push({
          figure: `3. GET /tasks ${name}, ${size} tasks (c=16)`,
          value: m.rps,
          unit: 'req/s',
          baseline: base.rps,
          baselineName: 'bare',
          nest: framework.rps,
          target: '≥ 0.25×',
          met: m.rps >= 0.25 * base.rps,
        });
        rows.push({
          figure: `3. GET /tasks ${name}, ${size} tasks p99`,
          value: m.p99,
          unit: 'ms',
          target: '< 25 ms',
          met: m.p99 < 25,
        });
      }
      await stop(bare);
      await stop(nest);
      if (size !== options.sizes[options.sizes.length - 1]) await stop(gateway);
    }
    const [first, last] = [lists[0], lists[lists.length - 1]];
    for (const name of Object.keys(first)) {
      rows.push({
        figure: `3. GET /tasks ${name}: p99 at ${options.sizes.at(-1)} vs ${options.sizes[0]}`,
        value: last[name].p99,
        unit: 'ms',
        baseline: first[name].p99,
        baselineName: `p99 at ${options.sizes[0]}`,
        target: '≤ 1.5×',
        met: last[name].p99 <= 1.5 * Math.max(first[name].p99, 1),
      });
    }

    // Target 1: one task by id from the largest store, without and with bearer auth.
    if (!gateway) throw new Error('no sizes');
    const api = `${gateway.url}/ga4gh/tes/v1`;
    const created = (await (
      await fetch(`${api}/tasks`, { method: 'POST', body: JSON.stringify(SEED_TASK) })
    ).json()) as { id: string };
    await sleep(2000);
    const authGateway = await start(gatewayProcess(gatewayEnv([sim], authEnv)));
    const authApi = `${authGateway.url}/ga4gh/tes/v1`;
    const views = ['MINIMAL', 'BASIC', 'FULL'];
    for (const view of views) {
      bodies[`/get-${view}`] = await (
        await fetch(`${api}/tasks/${created.id}?view=${view}`)
      ).text();
    }
    bodies['/create'] = JSON.stringify({ id: created.id });
    writeFileSync(bodyFile, JSON.stringify(bodies));
    const { bare, nest } = await startBaselines(bodyFile);
    running.push(bare, nest);
    for (const view of views) {
      const base = await load(`${bare.url}/get-${view}`, options.durationS, 64);
      const framework = await load(`${nest.url}/get-${view}`, options.durationS, 64);
      const plain = await load(`${api}/tasks/${created.id}?view=${view}`, options.durationS, 64);
      const authed = await load(
        `${authApi}/tasks/${created.id}?view=${view}`,
        options.durationS,
        64,
        {
          headers: bearer,
        },
      );
      if (authed.errors) console.error(`auth ${view}: ${authed.errors} failed requests`);
      rows.push(
        {
          figure: `1. GET /tasks/{id} ${view}, ${seeded} tasks (c=64)`,
          value: plain.rps,
          unit: 'req/s',
          baseline: base.rps,
          baselineName: 'bare',
          nest: framework.rps,
          target: '≥ 0.60×',
          met: plain.rps >= 0.6 * base.rps,
        },
        {
          figure: `1. GET /tasks/{id} ${view}, bearer auth`,
          value: authed.rps,
          unit: 'req/s',
          baseline: base.rps,
          baselineName: 'bare',
          nest: framework.rps,
          target: '≥ 0.45×',
          met: authed.rps >= 0.45 * base.rps && authed.errors === 0,
        },
      );
    }
    await stop(authGateway);

    // Target 5: the gateway's memory after serving all of the above from the largest store.
    const memory = memoryMb(gateway.child.pid ?? 0);
    rows.push({
      figure: `5. gateway RSS, ${seeded} tasks (peak under load)`,
      value: memory.peak,
      unit: 'MB',
      target: '≤ 250 MB',
      met: memory.peak <= 250,
    });

    // Target 2: creation, against bare Fastify and the simulator itself; then with a slow node.
    const post = {
      method: 'POST',
      body: JSON.stringify(SEED_TASK),
      headers: { 'content-type': 'application/json' },
    };
    // Latency with and without a slow node is compared at one offered rate, well below what the
    // gateway can take (at full speed, p50 is mostly queueing, and follows the throughput), each
    // on a gateway with no backlog of tasks to forward: this one before its full-speed run.
    const paced = { ...post, overallRate: PACED_RATE };
    const pacedCreates = await load(`${api}/tasks`, options.durationS, 16, paced);
    const creates = await load(`${api}/tasks`, options.durationS, 16, post);
    const bareCreate = await load(`${bare.url}/create`, options.durationS, 16, post);
    const nestCreate = await load(`${nest.url}/create`, options.durationS, 16, post);
    const simCreate = await load(`${sim.url}/ga4gh/tes/v1/tasks`, options.durationS, 16, post);
    rows.push(
      {
        figure: '2. POST /tasks (c=16)',
        value: creates.rps,
        unit: 'req/s',
        baseline: bareCreate.rps,
        baselineName: 'bare',
        nest: nestCreate.rps,
        target: '≥ 0.30×',
        met: creates.rps >= 0.3 * bareCreate.rps,
      },
      {
        figure: '2. POST /tasks vs the node answered directly',
        value: creates.rps,
        unit: 'req/s',
        baseline: simCreate.rps,
        baselineName: 'simulator',
      },
    );
    await stop(gateway);
    await stop(bare);
    await stop(nest);
    const slow = await start(gatewayProcess(gatewayEnv([slowSim])));
    const slowCreates = await load(`${slow.url}/ga4gh/tes/v1/tasks`, options.durationS, 16, paced);
    rows.push({
      figure: `2. POST /tasks p50 at ${PACED_RATE}/s, node +500 ms`,
      value: slowCreates.p50,
      unit: 'ms',
      baseline: pacedCreates.p50,
      baselineName: 'p50, node +0 ms',
      target: '±20% (≥ 1 ms)',
      // autocannon reports latency in whole milliseconds: 1 ms is the smallest difference it sees.
      met: Math.abs(slowCreates.p50 - pacedCreates.p50) <= Math.max(0.2 * pacedCreates.p50, 1),
    });
    await stop(slow);
    await stop(slowSim);
    if (options.amqpUrl) {
      // The gateway only stores and publishes; no tracker runs, so the tasks stay in the store.
      const queue = `protes.bench-${process.pid}`;
      const bus = {
        PROTES_BUS__DRIVER: 'rabbitmq',
        PROTES_BUS__URL: options.amqpUrl,
        PROTES_BUS__QUEUE: queue,
      };
      const distributed = await start(gatewayProcess(gatewayEnv([sim], bus)));
      const published = await load(
        `${distributed.url}/ga4gh/tes/v1/tasks`,
        options.durationS,
        16,
        post,
      );
      await stop(distributed);
      await deleteQueue(options.amqpUrl, queue);
      rows.push({
        figure: '2. POST /tasks, distributed mode (c=16)',
        value: published.rps,
        unit: 'req/s',
        baseline: bareCreate.rps,
        baselineName: 'bare',
        nest: nestCreate.rps,
        target: '≥ 0.30×',
        met: published.rps >= 0.3 * bareCreate.rps,
      });
    }

    // Target 4: active tasks spread over simulator nodes, each task created on its node for real.
    rows.push(...(await trackingRows(options, dir, start, stop)));
    await store.close();
  } catch (error) {
    // What was measured so far is still printed and written.
    console.error(error);
    process.exitCode = 1;
  } finally {
    await Promise.all(running.map((p) => p.stop()));
    issuer.server.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const machine = {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: process.platform,
  };
  console.log(
    `\nmachine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGb} GB, Node ${machine.node}\n`,
  );
  printTable(rows);
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(
    options.out,
    JSON.stringify({ at: new Date().toISOString(), machine, options, rows }, null, 2),
  );
  console.log(`\nwritten to ${options.out}`);
}

/**
 * Target 4: `tracked` RUNNING tasks spread over `nodes` simulators (created on each node through its
 * API, with a running time far beyond the bench), stored bound to them, followed by a standalone
 * gateway's tracker. Once it holds them all and nothing changes, it measures the gateway's CPU and
 * the calls each node receives.
 */
/** Deletes the bench's own queue: it is durable, and its events would wait for a tracker. */
async function deleteQueue(url: string, queue: string): Promise<void> {
  const connection = await connectAmqp(url);
  await (await connection.createChannel()).deleteQueue(queue);
  await connection.close();
}

async function trackingRows(
  options: Options,
  dir: string,
  start: (p: Promise<Started>) => Promise<Started>,
  stop: (p: Started) => Promise<void>,
): Promise<Row[]> {
  const sims: Started[] = [];
  for (let i = 0; i < options.nodes; i++) {
    sims.push(
      await start(startSimulator({ name: `sim-${i}`, args: ['--running-ms', '86400000'] })),
    );
  }
  const path = join(dir, 'tracked.db');
  const store = new SqliteTaskStore({ path });
  const id = monotonicFactory(Math.random);
  const perNode = Math.ceil(options.tracked / options.nodes);
  const began = Date.now();
  await Promise.all(
    sims.map(async (sim, n) => {
      const records: TaskRecord[] = [];
      for (let i = 0; i < perNode; i++) {
        const gatewayId = id().toLowerCase();
        const response = await fetch(`${sim.url}/ga4gh/tes/v1/tasks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...SEED_TASK, tags: { protes_id: gatewayId } }),
        });
        const { id: remoteId } = (await response.json()) as { id: string };
        const record = newTaskRecord(gatewayId, 'anonymous', SEED_TASK);
        records.push({ ...record, state: 'RUNNING', node: `sim-${n}`, remoteId });
      }
      await store.createMany(records);
    }),
  );
  console.log(
    `created ${perNode * options.nodes} tasks on ${options.nodes} nodes in ${((Date.now() - began) / 1000).toFixed(0)} s`,
  );
  await store.close();

  const gateway = await start(
    startGateway(
      {
        PROTES_CONFIG: '',
        PROTES_SERVER__PORT: '0',
        PROTES_STORE__SQLITE_PATH: path,
        PROTES_NODES: nodesEnv(sims.map((s, i) => ({ name: `sim-${i}`, url: s.url }))),
        PROTES_LOG__LEVEL: 'error',
        // All at once, so that the bench need not wait for batches: the steady state is the point.
        PROTES_TRACKER__CLAIM_BATCH: String(options.tracked),
      },
      false,
      profilingArgs(options),
    ),
  );
  // Settle: the first rounds claim everything and list each node; then every poll backs off.
  await sleep(25_000);
  const statsOf = async (sim: Started) =>
    ((await (await fetch(`${sim.url}/sim/stats`)).json()) as { requests: Record<string, number> })
      .requests;
  await Promise.all(sims.map((s) => fetch(`${s.url}/sim/reset-stats`, { method: 'POST' })));
  const pid = gateway.child.pid ?? 0;
  const cpuBefore = cpuSeconds(pid);
  await sleep(options.idleS * 1000);
  const cpu = (cpuSeconds(pid) - cpuBefore) / options.idleS;
  const stats = await Promise.all(sims.map(statsOf));
  const lists = stats.reduce((sum, s) => sum + s['GET /tasks'], 0) / options.nodes;
  const gets = stats.reduce((sum, s) => sum + s['GET /tasks/:id'], 0) / options.nodes;
  // Each round reads the node's whole list in pages of 2048 (the simulator's maximum).
  const pagesPerRound = Math.ceil(perNode / 2048);
  const rounds = lists / pagesPerRound;
  await stop(gateway);
  for (const sim of sims) await stop(sim);
  return [
    {
      figure: `4. idle CPU, gateway + tracker, ${perNode * options.nodes} active tasks`,
      value: cpu * 100,
      unit: '% of a core',
      target: '< 10%',
      met: cpu < 0.1,
    },
    {
      figure: `4. calls per node per round (${options.idleS} s idle, ${rounds.toFixed(1)} rounds)`,
      value: rounds ? (lists + gets) / rounds : 0,
      unit: 'calls',
      baseline: pagesPerRound,
      baselineName: 'list pages',
      target: '≤ pages + changed',
      met: rounds > 0 && (lists + gets) / rounds <= pagesPerRound,
    },
  ];
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
