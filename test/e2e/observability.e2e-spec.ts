import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket, connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteTaskStore } from '@protes/persistence';
import {
  nodesEnv,
  startGateway,
  startTracker,
  type Started,
  TRACKER_READY,
} from '../../scripts/processes';
import {
  AMQP_URL,
  CheckedApi,
  deleteQueue,
  e2eGatewayEnv,
  isTerminalState,
  runTask,
  scrape,
  simCall,
  startSimulators,
  TES_PATH,
  total,
  waitFor,
} from './helpers';

/**
 * What an operator sees, with real processes: the metrics a run of tasks moves, the log lines of
 * a request and of its tasks (request id included, secrets left out), and readiness that goes red
 * while the store cannot write or RabbitMQ cannot be reached, and green again after.
 */
const RUN = `obs${Date.now().toString(36)}`;
const SIM_ARGS = ['--queued-ms', '20', '--initializing-ms', '20', '--running-ms', '100'];

/** The JSON log lines a process wrote to stdout and stderr. */
function logLines(process: Started): Record<string, unknown>[] {
  return `${process.stdout()}\n${process.stderr()}`
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function health(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await fetch(`${url}/health`);
  return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
}

/** Waits until /health answers `status`, and gives that answer. */
const healthBecomes = (url: string, status: number, timeoutMs = 20_000) =>
  waitFor(
    `${url}/health to answer ${status}`,
    async () => {
      const answer = await health(url);
      return answer.status === status && answer;
    },
    { timeoutMs, intervalMs: 200 },
  );

describe('metrics and logs of a standalone gateway', () => {
  const sims = new Map<string, Started>();
  let gateway: Started;
  let api: CheckedApi;
  let dir = '';
  const NODE_SECRET = `node-secret-${RUN}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'protes-obs-'));
    await startSimulators(['alpha', 'beta'], SIM_ARGS, sims);
    const nodes = [...sims].map(([name, sim]) => ({
      name,
      url: `${sim.url}${TES_PATH}`,
      // The simulator ignores credentials; they are here to be kept out of the logs.
      credentials: { username: 'protes', password: NODE_SECRET },
    }));
    gateway = await startGateway(e2eGatewayEnv(dir, nodes, { PROTES_LOG__LEVEL: 'log' }));
    api = new CheckedApi(gateway.url);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([gateway?.stop(), ...[...sims.values()].map((s) => s.stop())]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows no NaN and no absurd value on the first scrape', async () => {
    const first = await scrape(gateway.url);
    const lag = [...first].filter(([key]) => key.includes('eventloop_lag'));
    expect(lag.length).toBeGreaterThan(0);
    for (const [key, value] of lag) {
      expect({ key, value }).toEqual({ key, value: expect.any(Number) });
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(60);
    }
    expect([...first].filter(([, value]) => Number.isNaN(value))).toEqual([]);
  });

  it('counts the tasks of a run, by outcome, and the requests that made them', async () => {
    const before = await scrape(gateway.url);
    const ok = 6;
    const failing = 2;
    const ids = await Promise.all([
      ...Array.from({ length: ok }, (_, i) => api.create(runTask(RUN, `ok-${i}`))),
      ...Array.from({ length: failing }, (_, i) =>
        api.create(runTask(RUN, `fail-${i}`, { 'sim.outcome': 'EXECUTOR_ERROR' })),
      ),
    ]);
    await waitFor(
      'every task to end',
      async () =>
        (await Promise.all(ids.map((id) => api.get(id)))).every((t) => isTerminalState(t.state)),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const after = await scrape(gateway.url);
    const moved = (name: string, labels?: Record<string, string>) =>
      total(after, name, labels) - total(before, name, labels);
    expect(moved('protes_tasks_created_total')).toBe(ok + failing);
    expect(moved('protes_tasks_forwarded_total')).toBe(ok + failing);
    expect(moved('protes_tasks_finished_total', { state: 'COMPLETE' })).toBe(ok);
    expect(moved('protes_tasks_finished_total', { state: 'EXECUTOR_ERROR' })).toBe(failing);
    expect(moved('protes_tasks_finished_total')).toBe(ok + failing);
    expect(moved('protes_tasks_resubmitted_total')).toBe(0);
    const created = { method: 'POST', route: `${TES_PATH}/tasks`, status: '200' };
    expect(moved('http_requests_total', created)).toBe(ok + failing);
    expect(moved('http_request_duration_seconds_count', created)).toBe(ok + failing);
    expect(moved('protes_middleware_decision_seconds_count')).toBeGreaterThanOrEqual(ok + failing);
    expect(total(after, 'protes_tracker_polls_total', { outcome: 'ok' })).toBeGreaterThan(0);
    expect(total(after, 'protes_tracker_lag_seconds')).toBeGreaterThanOrEqual(0);
  }, 60_000);

  it('logs each request with its id, echoes it, and names it in the lines about its task', async () => {
    const requestId = `req-${RUN}`;
    const answer = await fetch(`${api.tesUrl}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify(runTask(RUN, 'traced')),
    });
    expect(answer.headers.get('x-request-id')).toBe(requestId);
    const { id } = (await answer.json()) as { id: string };
    await waitFor('the task to end', async () => isTerminalState((await api.get(id)).state));
    await waitFor('its finished line', () =>
      logLines(gateway).some((l) => l.taskId === id && l.state === 'COMPLETE'),
    );
    const lines = logLines(gateway);
    const access = lines.find((l) => l.context === 'HTTP' && l.requestId === requestId);
    expect(access).toMatchObject({
      level: 'info',
      method: 'POST',
      route: `${TES_PATH}/tasks`,
      status: 200,
      durationMs: expect.any(Number),
    });
    expect(new Date(access?.time as string).toISOString()).toBe(access?.time);
    const aboutTask = lines.filter((l) => l.taskId === id);
    expect(aboutTask.map((l) => l.event)).toEqual(
      expect.arrayContaining(['accepted', 'forwarded', 'observed']),
    );
    // Also the tracker's lines, written outside the request.
    expect(aboutTask.every((l) => l.requestId === requestId)).toBe(true);

    const invalid = await fetch(`${gateway.url}/health/live`, {
      headers: { 'x-request-id': 'not "a" valid id' },
    });
    expect(invalid.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  }, 30_000);

  it('never writes credentials to its logs', async () => {
    const bearer = `bearer-${RUN}`;
    const basic = Buffer.from(`user:basic-${RUN}`).toString('base64');
    for (const authorization of [`Bearer ${bearer}`, `Basic ${basic}`]) {
      await fetch(`${api.tesUrl}/tasks?access_token=${bearer}`, {
        headers: { authorization, cookie: `session=${bearer}` },
      });
      await fetch(`${gateway.url}/nope`, { headers: { authorization } });
    }
    await waitFor(
      'the access lines',
      () => logLines(gateway).filter((l) => l.context === 'HTTP' && l.status === 404).length >= 2,
    );
    const text = `${gateway.stdout()}\n${gateway.stderr()}`;
    for (const secret of [bearer, basic, `basic-${RUN}`, NODE_SECRET]) {
      expect(text).not.toContain(secret);
    }
  });
});

describe('readiness while no node can take a task', () => {
  const sims = new Map<string, Started>();
  let gateway: Started;
  let dir = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'protes-obs-nodes-'));
    await startSimulators(['alpha'], SIM_ARGS, sims);
    // Probed often, its breaker opening at the first failure and trying again soon.
    const health = { probeIntervalMs: 200, failureThreshold: 1, coolDownMs: 500 };
    const nodes = [{ name: 'alpha', url: `${sims.get('alpha')?.url}${TES_PATH}`, health }];
    gateway = await startGateway(e2eGatewayEnv(dir, nodes));
  }, 60_000);

  afterAll(async () => {
    await Promise.all([gateway?.stop(), ...[...sims.values()].map((s) => s.stop())]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("is 503 naming the nodes while every node's circuit is open, and 200 once one closes", async () => {
    await healthBecomes(gateway.url, 200);
    const outage = await simCall(`${sims.get('alpha')?.url}/sim/outage`, 'POST', {
      mode: 'refuse',
      ms: 3000,
    });
    expect(outage.status).toBe(200);
    const red = await healthBecomes(gateway.url, 503);
    expect(red.body).toMatchObject({
      status_code: 503,
      msg: expect.stringContaining('nodes (no node can take a task'),
      error: { nodes: { status: 'down', alpha: expect.stringMatching(/^down \(circuit/) } },
    });
    await healthBecomes(gateway.url, 200);
  }, 30_000);
});

/** Mounts a tmpfs of `size` at `dir` (root only); throws where that is not allowed. */
const mountTmpfs = (dir: string, size: string): void => {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
};

/** Whether this process may mount a filesystem (root, outside most CI runners): tried once. */
function mayMount(): boolean {
  const probe = mkdtempSync(join(tmpdir(), 'protes-obs-probe-'));
  try {
    mountTmpfs(probe, '64k');
    execFileSync('umount', [probe]);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
const canMount = mayMount();

(canMount ? describe : describe.skip)('readiness while the store cannot write', () => {
  let gateway: Started;
  const sims = new Map<string, Started>();
  let fsDir = '';

  beforeAll(async () => {
    fsDir = mkdtempSync(join(tmpdir(), 'protes-obs-fs-'));
    mountTmpfs(fsDir, '4m');
    await startSimulators(['alpha'], SIM_ARGS, sims);
    const nodes = [{ name: 'alpha', url: `${sims.get('alpha')?.url}${TES_PATH}` }];
    mkdirSync(join(fsDir, 'db'));
    gateway = await startGateway(e2eGatewayEnv(join(fsDir, 'db'), nodes));
  }, 60_000);

  afterAll(async () => {
    await Promise.all([gateway?.stop(), ...[...sims.values()].map((s) => s.stop())]);
    execFileSync('umount', [fsDir]);
    rmSync(fsDir, { recursive: true, force: true });
  });

  it('is 503 naming the store while its disk is full, and 200 once there is room', async () => {
    await healthBecomes(gateway.url, 200);
    const filler = join(fsDir, 'filler');
    // Fills the filesystem the database is on, to the last byte.
    try {
      for (;;) writeFileSync(filler, Buffer.alloc(64 * 1024), { flag: 'a' });
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    const red = await healthBecomes(gateway.url, 503);
    expect(red.body).toMatchObject({
      status_code: 503,
      msg: expect.stringMatching(/^not ready: store \(.*full.*\) down$/),
      status: 'error',
      error: { store: { status: 'down' } },
    });
    // Liveness is about the process: restarting it would not free the disk.
    expect((await fetch(`${gateway.url}/health/live`)).status).toBe(200);
    rmSync(filler);
    const green = await healthBecomes(gateway.url, 200);
    expect(green.body).toMatchObject({ status: 'ok', details: { store: { status: 'up' } } });
  }, 60_000);
});

if (!canMount) {
  console.warn('cannot mount a tmpfs (not root?): the full-disk readiness test is skipped');
}

/**
 * A TCP proxy in front of RabbitMQ that can be cut and restored: the shared broker itself is never
 * stopped (other suites and people use it).
 */
class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  private server?: Server;
  port = 0;

  constructor(
    private readonly host: string,
    private readonly targetPort: number,
  ) {}

  async open(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connectTcp(this.targetPort, this.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => socket.destroy());
        socket.on('close', () => {
          this.sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server?.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Refuses new connections and drops the open ones, as a network cut does. */
  async cut(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server?.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}

(AMQP_URL ? describe : describe.skip)(
  'readiness of gateway and tracker while RabbitMQ is cut off',
  () => {
    const broker = new URL(AMQP_URL ?? 'amqp://localhost');
    const proxy = new CuttableProxy(broker.hostname, Number(broker.port || 5672));
    const sims = new Map<string, Started>();
    let gateway: Started;
    let tracker: Started;
    let dir = '';
    const queue = `protes.e2e.${RUN}`;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'protes-obs-bus-'));
      await proxy.open();
      await startSimulators(['alpha'], SIM_ARGS, sims);
      const viaProxy = new URL(AMQP_URL ?? '');
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      const env = {
        ...e2eGatewayEnv(dir, [], { PROTES_LOG__LEVEL: 'log' }),
        PROTES_NODES: nodesEnv([{ name: 'alpha', url: sims.get('alpha')?.url ?? '' }]),
        PROTES_BUS__DRIVER: 'rabbitmq',
        PROTES_BUS__URL: viaProxy.toString(),
        PROTES_BUS__QUEUE: queue,
      };
      [gateway, tracker] = await Promise.all([startGateway(env), startTracker(env)]);
      expect(tracker.readyLine).toMatch(TRACKER_READY);
    }, 60_000);

    afterAll(async () => {
      await Promise.all([
        gateway?.stop(),
        tracker?.stop(),
        ...[...sims.values()].map((s) => s.stop()),
      ]);
      await proxy.cut();
      rmSync(dir, { recursive: true, force: true });
      await deleteQueue(AMQP_URL ?? '', queue);
    });

    it('carries the request id to the tracker, which logs its polls and lines with it', async () => {
      const api = new CheckedApi(gateway.url);
      await healthBecomes(gateway.url, 200);
      await healthBecomes(tracker.url, 200);
      const requestId = `bus-${RUN}`;
      const answer = await fetch(`${api.tesUrl}/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': requestId },
        body: JSON.stringify(runTask(RUN, 'over-the-bus')),
      });
      const { id } = (await answer.json()) as { id: string };
      await waitFor('the task to end', async () => isTerminalState((await api.get(id)).state), {
        timeoutMs: 20_000,
      });
      const trackerLines = await waitFor('a tracker line about the task', () => {
        const lines = logLines(tracker).filter((l) => l.taskId === id);
        return lines.length > 0 && lines;
      });
      // Stored with the task: a tracker that claims it before the bus brings the event (or takes
      // it over later) still names the request.
      const store = new SqliteTaskStore({ path: join(dir, 'protes.db') });
      try {
        expect((await store.get(id))?.requestId).toBe(requestId);
      } finally {
        await store.close();
      }
      expect(trackerLines.map((l) => [l.msg, l.requestId])).toEqual(
        trackerLines.map((l) => [l.msg, requestId]),
      );
      const metrics = await scrape(tracker.url);
      expect(total(metrics, 'protes_tracker_polls_total', { node: 'alpha' })).toBeGreaterThan(0);
      expect(total(metrics, 'protes_tasks_finished_total', { state: 'COMPLETE' })).toBe(1);
    }, 40_000);

    it('is 503 naming the bus on both while it is cut, and 200 once it is back', async () => {
      await proxy.cut();
      for (const process of [gateway, tracker]) {
        const red = await healthBecomes(process.url, 503);
        expect(red.body).toMatchObject({
          status_code: 503,
          msg: expect.stringContaining('bus (not'),
          error: { bus: { status: 'down', queue } },
        });
        expect((await fetch(`${process.url}/health/live`)).status).toBe(200);
      }
      await proxy.open();
      for (const process of [gateway, tracker]) {
        const green = await healthBecomes(process.url, 200, 30_000);
        expect(green.body).toMatchObject({ details: { bus: { status: 'up' } } });
      }
    }, 90_000);
  },
);

if (!AMQP_URL) console.warn('TEST_AMQP_URL not set: the bus readiness tests are skipped');
