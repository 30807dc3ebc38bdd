import {
  type ErrorResponse,
  schemaValidator,
  type TesExecutor,
  TesServiceInfoSchema,
  type TesTask,
  type TesTaskRequest,
  TesTaskSchema,
} from '@protes/tes';
import { type SimulatorHandle, startSimulator } from './sim-bootstrap';
import { callJson, simTask, waitForState } from './sim-testing';

/**
 * Executors as a client sees them over HTTP: in order, each with its log, outcomes following the
 * simulation's rules unless a `sim.*` tag forces one.
 */

const validTask = schemaValidator<TesTask>(TesTaskSchema);
const ENDED = ['COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR', 'PREEMPTED', 'CANCELED'] as const;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

const exec = (command: string[], extra: Partial<TesExecutor> = {}): TesExecutor => ({
  image: 'alpine',
  command,
  ...extra,
});

let sim: SimulatorHandle;

beforeAll(async () => {
  sim = await startSimulator({
    name: 'exec-rules',
    queuedMs: 5,
    initializingMs: 5,
    runningMs: 20,
    timeScale: 0.02,
    logLevel: 'error',
  });
});
afterAll(() => sim.close());

async function submit(task: Partial<TesTaskRequest>, to = sim): Promise<string> {
  const { status, body } = await callJson<{ id: string }>(
    `${to.tesUrl}/tasks`,
    'POST',
    simTask(task),
  );
  expect(status).toBe(200);
  return body.id;
}

async function ended(task: Partial<TesTaskRequest>): Promise<TesTask> {
  const done = await waitForState(sim.tesUrl, await submit(task), ENDED);
  expect(validTask(done)).toBe(true);
  return done;
}

describe('executors in simulation', () => {
  it('run in order; a failing one ends the task with its exit code and no later one runs', async () => {
    const task = await ended({
      executors: [exec(['echo', 'one']), exec(['sh', '-c', 'echo two; exit 3']), exec(['true'])],
      outputs: [{ path: '/data/out.txt', url: 's3://bucket/out.txt' }],
    });
    expect(task.state).toBe('EXECUTOR_ERROR');
    const log = task.logs![0];
    expect(log.logs.map((l) => [l.exit_code, l.stdout])).toEqual([
      [0, 'one\n'],
      [3, 'two\n'],
    ]);
    expect(log.outputs).toEqual([]);
    expect(log.system_logs).toEqual(['sim: executor 1 exited with code 3']);
  });

  it('go on after a failure with ignore_error, and the task can still COMPLETE', async () => {
    const task = await ended({
      executors: [exec(['false'], { ignore_error: true }), exec(['echo', 'after'])],
      outputs: [{ path: '/data/out.txt', url: 's3://bucket/out.txt' }],
    });
    expect(task.state).toBe('COMPLETE');
    expect(task.logs![0].logs.map((l) => [l.exit_code, l.stdout])).toEqual([
      [1, ''],
      [0, 'after\n'],
    ]);
    expect(task.logs![0].outputs).toEqual([
      {
        url: 's3://bucket/out.txt',
        path: '/data/out.txt',
        size_bytes: expect.stringMatching(/^\d+$/),
      },
    ]);
  });

  it('log one entry per executor that ran, with RFC 3339 times in order', async () => {
    const task = await ended({
      executors: [exec(['echo', 'a']), exec(['sleep', '5']), exec(['echo', 'c'])],
    });
    const logs = task.logs![0].logs;
    expect(logs).toHaveLength(3);
    let previous = Date.parse(task.logs![0].start_time!);
    for (const l of logs) {
      expect(l).toEqual({
        start_time: expect.stringMatching(RFC3339),
        end_time: expect.stringMatching(RFC3339),
        exit_code: 0,
        stdout: expect.any(String),
        stderr: '',
      });
      expect(Date.parse(l.start_time!)).toBeGreaterThanOrEqual(previous);
      expect(Date.parse(l.end_time!)).toBeGreaterThanOrEqual(Date.parse(l.start_time!));
      previous = Date.parse(l.end_time!);
    }
    // `sleep 5` at a time scale of 0.02 takes 100 ms of real time.
    expect(Date.parse(logs[1].end_time!) - Date.parse(logs[1].start_time!)).toBeGreaterThanOrEqual(
      95,
    );
  });

  it.each([
    [['exit', '4'], 'EXECUTOR_ERROR', 4, '', ''],
    [['false'], 'EXECUTOR_ERROR', 1, '', ''],
    [['true'], 'COMPLETE', 0, '', ''],
    [['echo', 'hi', 'there'], 'COMPLETE', 0, 'hi there\n', ''],
    [['sleep', '1'], 'COMPLETE', 0, '', ''],
    [['nosuchtool', '-x'], 'EXECUTOR_ERROR', 127, '', 'nosuchtool: command not found\n'],
    [['md5sum', '/data/in.txt'], 'COMPLETE', 0, 'md5sum /data/in.txt\n', ''],
    [['/bin/bash', '-c', 'cat /data/in.txt | wc -l; exit 2'], 'EXECUTOR_ERROR', 2, 'wc -l\n', ''],
  ] as const)('%j ends %s with exit code %i', async (command, state, exitCode, stdout, stderr) => {
    const task = await ended({ executors: [exec([...command])] });
    expect(task.state).toBe(state);
    expect(task.logs![0].logs).toEqual([
      expect.objectContaining({ exit_code: exitCode, stdout, stderr }),
    ]);
  });

  it('show the logs of the executors that ended while the task runs, and stop on cancel', async () => {
    const slow = await startSimulator({
      queuedMs: 0,
      initializingMs: 0,
      runningMs: 0,
      timeScale: 0.1,
      logLevel: 'error',
    });
    try {
      const id = await submit(
        { executors: [exec(['echo', 'first']), exec(['sleep', '600']), exec(['echo', 'x'])] },
        slow,
      );
      let task: TesTask | undefined;
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline) {
        task = (await callJson<TesTask>(`${slow.tesUrl}/tasks/${id}?view=FULL`)).body;
        if (task.logs?.[0]?.logs.length) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(task?.state).toBe('RUNNING');
      expect(task?.logs?.[0].logs).toEqual([expect.objectContaining({ stdout: 'first\n' })]);
      expect((await callJson(`${slow.tesUrl}/tasks/${id}:cancel`, 'POST')).status).toBe(200);
      const canceled = await waitForState(slow.tesUrl, id, 'CANCELED');
      expect(canceled.logs?.[0].logs).toHaveLength(1);
    } finally {
      await slow.close();
    }
  });
});

describe('tags that force an outcome win over the rules', () => {
  it('COMPLETE makes a failing command exit 0', async () => {
    const task = await ended({
      executors: [exec(['exit', '3'])],
      tags: { 'sim.outcome': 'COMPLETE' },
    });
    expect(task.state).toBe('COMPLETE');
    expect(task.logs![0].logs[0].exit_code).toBe(0);
  });

  it('an exit code fails the last executor of commands that would succeed', async () => {
    const task = await ended({
      executors: [exec(['echo', 'ok']), exec(['true'])],
      tags: { 'sim.exit_code': '5' },
    });
    expect(task.state).toBe('EXECUTOR_ERROR');
    expect(task.logs![0].logs.map((l) => l.exit_code)).toEqual([0, 5]);
    expect(task.logs![0].logs[0].stdout).toBe('ok\n');
    expect(task.logs![0].logs[1].stderr).toMatch(/exit code 5/);
  });

  it('SYSTEM_ERROR runs no executor', async () => {
    const task = await ended({
      executors: [exec(['echo', 'never'])],
      tags: { 'sim.outcome': 'SYSTEM_ERROR' },
    });
    expect(task.state).toBe('SYSTEM_ERROR');
    expect(task.logs![0].logs).toEqual([]);
  });
});

describe('backend parameters and storage', () => {
  let node: SimulatorHandle;

  beforeAll(async () => {
    node = await startSimulator({
      name: 'params',
      queuedMs: 0,
      initializingMs: 0,
      runningMs: 0,
      backendParameters: ['VmSize', 'queue'],
      storage: ['file:///shared', 's3://bucket'],
      logLevel: 'error',
    });
  });
  afterAll(() => node.close());

  const withParams = (params: Record<string, string>, strict: boolean) =>
    simTask({ resources: { backend_parameters: params, backend_parameters_strict: strict } });

  it('shows them in service-info', async () => {
    const { body } = await callJson<Record<string, unknown>>(`${node.tesUrl}/service-info`);
    expect(schemaValidator(TesServiceInfoSchema)(body)).toBe(true);
    expect(body.tesResources_backend_parameters).toEqual(['VmSize', 'queue']);
    expect(body.storage).toEqual(['file:///shared', 's3://bucket']);
  });

  it('refuses a strict key the node does not support with 400 naming it', async () => {
    const { status, body } = await callJson<ErrorResponse>(
      `${node.tesUrl}/tasks`,
      'POST',
      withParams({ queue: 'short', gpu: 'a100' }, true),
    );
    expect(status).toBe(400);
    expect(body.msg).toContain('gpu');
    expect(body.errors?.map((e) => e.field)).toEqual(['resources.backend_parameters.gpu']);
  });

  it('takes strict keys it supports, in any case, and ignores unknown keys when not strict', async () => {
    for (const task of [
      withParams({ vmsize: 'small', QUEUE: 'short' }, true),
      withParams({ gpu: 'a100' }, false),
    ]) {
      const { status, body } = await callJson<{ id: string }>(`${node.tesUrl}/tasks`, 'POST', task);
      expect(status).toBe(200);
      expect((await waitForState(node.tesUrl, body.id, ENDED)).state).toBe('COMPLETE');
    }
  });

  it('supports none when none are configured, and then does not list any', async () => {
    const { status, body } = await callJson<ErrorResponse>(
      `${sim.tesUrl}/tasks`,
      'POST',
      withParams({ queue: 'short' }, true),
    );
    expect(status).toBe(400);
    expect(body.errors?.[0].field).toBe('resources.backend_parameters.queue');
    const info = await callJson<Record<string, unknown>>(`${sim.tesUrl}/service-info`);
    expect(info.body).not.toHaveProperty('tesResources_backend_parameters');
  });
});
