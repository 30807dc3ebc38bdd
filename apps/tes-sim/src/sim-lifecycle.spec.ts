import { schemaValidator, type TesState, type TesTask, TesTaskSchema } from '@protes/tes';
import { type SimulatorHandle, startSimulator } from './sim-bootstrap';
import { callJson, simTask, waitForState } from './sim-testing';

const validTask = schemaValidator<TesTask>(TesTaskSchema);

async function submit(
  sim: SimulatorHandle,
  tags?: Record<string, string>,
  overrides = {},
): Promise<string> {
  const { status, body } = await callJson<{ id: string }>(
    `${sim.tesUrl}/tasks`,
    'POST',
    simTask({ tags, ...overrides }),
  );
  expect(status).toBe(200);
  return body.id;
}

describe('task lifecycle', () => {
  let sim: SimulatorHandle;

  beforeAll(async () => {
    sim = await startSimulator({
      name: 'life',
      queuedMs: 30,
      initializingMs: 30,
      runningMs: 40,
      logLevel: 'error',
    });
  });
  afterAll(() => sim.close());

  it('walks QUEUED → INITIALIZING → RUNNING → COMPLETE with executor and output logs', async () => {
    // Phases long enough that polling sees each one even on a busy machine.
    const slow = await startSimulator({
      name: 'life',
      queuedMs: 120,
      initializingMs: 120,
      runningMs: 120,
      logLevel: 'error',
    });
    try {
      await walk(slow);
    } finally {
      await slow.close();
    }
  });

  async function walk(sim: SimulatorHandle): Promise<void> {
    const id = await submit(sim, undefined, {
      executors: [
        { image: 'alpine', command: ['echo', 'one'] },
        { image: 'alpine', command: ['sh', '-c', 'echo two'] },
      ],
      outputs: [{ url: 's3://bucket/out.txt', path: '/data/out.txt' }],
    });
    const seen: TesState[] = [];
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      const { body } = await callJson<TesTask>(`${sim.tesUrl}/tasks/${id}`);
      if (seen.at(-1) !== body.state) seen.push(body.state);
      if (body.state === 'COMPLETE') break;
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    expect(seen).toEqual(['QUEUED', 'INITIALIZING', 'RUNNING', 'COMPLETE']);

    const { body: task } = await callJson<TesTask>(`${sim.tesUrl}/tasks/${id}?view=FULL`);
    expect(validTask(task)).toBe(true);
    expect(task.creation_time).toEqual(expect.any(String));
    expect(task.logs).toHaveLength(1);
    const log = task.logs![0];
    expect(log.metadata).toEqual({ node: 'life' });
    expect(log.start_time).toEqual(expect.any(String));
    expect(log.end_time).toEqual(expect.any(String));
    expect(log.logs).toEqual([
      expect.objectContaining({
        exit_code: 0,
        stdout: 'one\n',
        stderr: '',
        start_time: expect.any(String),
      }),
      expect.objectContaining({
        exit_code: 0,
        stdout: 'two\n',
        stderr: '',
        end_time: expect.any(String),
      }),
    ]);
    expect(log.outputs).toEqual([
      {
        url: 's3://bucket/out.txt',
        path: '/data/out.txt',
        size_bytes: expect.stringMatching(/^\d+$/),
      },
    ]);
  }

  it('lets sim.run_ms override the running time', async () => {
    const slow = await submit(sim, { 'sim.run_ms': '5000' });
    const fast = await submit(sim, { 'sim.run_ms': '0' });
    await waitForState(sim.tesUrl, fast, 'COMPLETE');
    const { body } = await callJson<TesTask>(`${sim.tesUrl}/tasks/${slow}`);
    expect(body.state).not.toBe('COMPLETE');
  });

  it.each([
    ['COMPLETE', {}, 0],
    ['EXECUTOR_ERROR', {}, 1],
    ['EXECUTOR_ERROR', { 'sim.exit_code': '137' }, 137],
  ] as const)('forces %s with its exit code (%j)', async (outcome, extra, exitCode) => {
    const id = await submit(sim, { 'sim.outcome': outcome, 'sim.run_ms': '0', ...extra });
    const task = await waitForState(sim.tesUrl, id, [
      'COMPLETE',
      'EXECUTOR_ERROR',
      'SYSTEM_ERROR',
      'PREEMPTED',
    ]);
    expect(task.state).toBe(outcome);
    expect(validTask(task)).toBe(true);
    const log = task.logs![0];
    expect(log.logs.at(-1)?.exit_code).toBe(exitCode);
    if (outcome === 'EXECUTOR_ERROR') {
      expect(log.outputs).toEqual([]);
      expect(log.logs.at(-1)?.stderr).toContain(String(exitCode));
      expect(log.system_logs?.join('\n')).toContain(`exited with code ${exitCode}`);
    }
  });

  it('takes an exit code alone as the outcome', async () => {
    const failed = await submit(sim, { 'sim.exit_code': '3', 'sim.run_ms': '0' });
    const ok = await submit(sim, { 'sim.exit_code': '0', 'sim.run_ms': '0' });
    expect(
      (await waitForState(sim.tesUrl, failed, 'EXECUTOR_ERROR')).logs![0].logs[0].exit_code,
    ).toBe(3);
    await waitForState(sim.tesUrl, ok, 'COMPLETE');
  });

  it.each([
    ['SYSTEM_ERROR', /system error/],
    ['PREEMPTED', /preemption/],
  ] as const)('forces %s with a reason in system_logs', async (outcome, reason) => {
    const id = await submit(sim, { 'sim.outcome': outcome.toLowerCase(), 'sim.run_ms': '0' });
    const task = await waitForState(sim.tesUrl, id, outcome);
    expect(validTask(task)).toBe(true);
    expect(task.logs![0].logs).toEqual([]);
    expect(task.logs![0].system_logs?.join('\n')).toMatch(reason);
    // BASIC leaves system logs out.
    const { body: basic } = await callJson<TesTask>(`${sim.tesUrl}/tasks/${id}?view=BASIC`);
    expect(basic.logs![0].system_logs).toBeUndefined();
  });

  it.each([
    [{ 'sim.outcome': 'FINE' }, 'tags.sim.outcome'],
    [{ 'sim.exit_code': 'one' }, 'tags.sim.exit_code'],
    [{ 'sim.run_ms': '-5' }, 'tags.sim.run_ms'],
    [{ 'sim.outcome': 'COMPLETE', 'sim.exit_code': '2' }, 'tags.sim.exit_code'],
    [{ 'sim.outcome': 'EXECUTOR_ERROR', 'sim.exit_code': '0' }, 'tags.sim.exit_code'],
    [{ 'sim.outcome': 'PREEMPTED', 'sim.exit_code': '2' }, 'tags.sim.exit_code'],
  ])('refuses bad sim tags %j naming the tag', async (tags, field) => {
    const { status, body } = await callJson<{ status_code: number; errors: { field: string }[] }>(
      `${sim.tesUrl}/tasks`,
      'POST',
      simTask({ tags }),
    );
    expect(status).toBe(400);
    expect(body.status_code).toBe(400);
    expect(body.errors.map((e) => e.field)).toEqual([field]);
  });
});

describe('failure rate', () => {
  const outcomes = async (seed: number): Promise<TesState[]> => {
    const sim = await startSimulator({
      name: 'flaky',
      queuedMs: 0,
      initializingMs: 0,
      runningMs: 0,
      failureRate: 0.5,
      failureKind: 'SYSTEM_ERROR',
      seed,
      logLevel: 'error',
    });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) ids.push(await submit(sim));
      // A forced task takes its draw too, and keeps its forced outcome.
      const forced = await submit(sim, { 'sim.outcome': 'COMPLETE' });
      expect((await waitForState(sim.tesUrl, forced, ['COMPLETE', 'SYSTEM_ERROR'])).state).toBe(
        'COMPLETE',
      );
      const states: TesState[] = [];
      for (const id of ids)
        states.push((await waitForState(sim.tesUrl, id, ['COMPLETE', 'SYSTEM_ERROR'])).state);
      return states;
    } finally {
      await sim.close();
    }
  };

  it('fails a share of tasks with the configured kind, the same way for the same seed', async () => {
    const first = await outcomes(7);
    expect(first).toContain('COMPLETE');
    expect(first).toContain('SYSTEM_ERROR');
    expect(await outcomes(7)).toEqual(first);
  });

  it('fails every task at rate 1, but a forced outcome beats it', async () => {
    const sim = await startSimulator({
      queuedMs: 0,
      initializingMs: 0,
      runningMs: 0,
      failureRate: 1,
      failureKind: 'PREEMPTED',
      logLevel: 'error',
    });
    try {
      const failed = await submit(sim);
      const forced = await submit(sim, { 'sim.outcome': 'COMPLETE' });
      expect((await waitForState(sim.tesUrl, failed, ['COMPLETE', 'PREEMPTED'])).state).toBe(
        'PREEMPTED',
      );
      expect((await waitForState(sim.tesUrl, forced, ['COMPLETE', 'PREEMPTED'])).state).toBe(
        'COMPLETE',
      );
    } finally {
      await sim.close();
    }
  });
});
