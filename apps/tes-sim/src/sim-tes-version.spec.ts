import {
  type ErrorResponse,
  schemaValidator,
  type TesListTasksResponse,
  TesServiceInfoSchema,
  type TesTask,
  type TesTaskRequest,
} from '@protes/tes';
import { type SimulatorHandle, startSimulator } from './sim-bootstrap';
import { callJson, simTask, waitForState } from './sim-testing';
import { tes10Refusals } from './sim-tes-version';

/** A TES 1.0 task: every input and output with its `type`, nothing 1.1 added. */
const task10 = (overrides: Partial<TesTaskRequest> = {}): TesTaskRequest =>
  simTask({
    inputs: [{ path: '/data/in', url: 'file:///in', type: 'FILE' }],
    outputs: [{ path: '/data/out', url: 'file:///out', type: 'DIRECTORY' }],
    ...overrides,
  });

/** Every key anywhere in a JSON value. */
function keysOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(keysOf);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => [key, ...keysOf(child)]);
}

const ONLY_11 = [
  'streamable',
  'path_prefix',
  'ignore_error',
  'backend_parameters',
  'backend_parameters_strict',
];
const STATES_10 = [
  'UNKNOWN',
  'QUEUED',
  'INITIALIZING',
  'RUNNING',
  'PAUSED',
  'COMPLETE',
  'EXECUTOR_ERROR',
  'SYSTEM_ERROR',
  'CANCELED',
];

describe('tes10Refusals', () => {
  it('names each field TES 1.1 added, whatever its value, and each missing file type', () => {
    expect(
      tes10Refusals({
        inputs: [
          { path: '/a', url: 'x', type: 'FILE', streamable: false },
          { path: '/b', content: 'y' },
        ],
        outputs: [{ path: '/o/*.txt', url: 'x', type: 'FILE', path_prefix: '/o/' }],
        executors: [{ image: 'a', command: ['b'], ignore_error: false }],
        resources: { cpu_cores: 1, backend_parameters: {}, backend_parameters_strict: false },
      }),
    ).toEqual([
      { field: 'inputs[0].streamable', reason: 'is not part of TES 1.0' },
      { field: 'inputs[1].type', reason: 'is required in TES 1.0' },
      { field: 'outputs[0].path_prefix', reason: 'is not part of TES 1.0' },
      { field: 'outputs[0].path', reason: 'has wildcards, which TES 1.0 does not have' },
      { field: 'executors[0].ignore_error', reason: 'is not part of TES 1.0' },
      { field: 'resources.backend_parameters', reason: 'is not part of TES 1.0' },
      { field: 'resources.backend_parameters_strict', reason: 'is not part of TES 1.0' },
    ]);
  });

  it('leaves a 1.0 task, and anything that is no task, to the validator', () => {
    expect(tes10Refusals(task10())).toEqual([]);
    expect(tes10Refusals('nonsense')).toEqual([]);
    expect(tes10Refusals({ inputs: 'nonsense', executors: [null] })).toEqual([]);
  });
});

describe('a simulator speaking TES 1.0 (--tes-version 1.0.0)', () => {
  let sim: SimulatorHandle;

  beforeAll(async () => {
    sim = await startSimulator({
      name: 'old',
      tesVersion: '1.0.0',
      queuedMs: 10,
      initializingMs: 10,
      runningMs: 10,
      logLevel: 'error',
    });
  });
  afterAll(() => sim.close());

  const submit = async (body: unknown): Promise<string> => {
    const { status, body: answer } = await callJson<{ id: string }>(
      `${sim.tesUrl}/tasks`,
      'POST',
      body,
    );
    expect(status).toBe(200);
    return answer.id;
  };

  it('says 1.0.0 in service-info, and declares no backend parameters', async () => {
    const { status, body } = await callJson<Record<string, unknown>>(`${sim.tesUrl}/service-info`);
    expect(status).toBe(200);
    expect(schemaValidator(TesServiceInfoSchema)(body)).toBe(true);
    expect(body.type).toEqual({ group: 'org.ga4gh', artifact: 'tes', version: '1.0.0' });
    expect(body).not.toHaveProperty('tesResources_backend_parameters');
  });

  /** Each thing a 1.0 node refuses that 1.1 allows: what, the task's fields, the field named. */
  // prettier-ignore
  const refused: [string, Partial<TesTaskRequest>, string][] = [
    ['streamable', { inputs: [{ path: '/i', url: 'file:///i', type: 'FILE', streamable: true }] }, 'inputs[0].streamable'],
    ['path_prefix', { outputs: [{ path: '/o', url: 'file:///o', type: 'FILE', path_prefix: '/' }] }, 'outputs[0].path_prefix'],
    ['ignore_error', { executors: [{ image: 'a', command: ['true'], ignore_error: false }] }, 'executors[0].ignore_error'],
    ['backend_parameters', { resources: { backend_parameters: { queue: 'x' } } }, 'resources.backend_parameters'],
    ['backend_parameters_strict', { resources: { backend_parameters_strict: false } }, 'resources.backend_parameters_strict'],
    ['an input without type', { inputs: [{ path: '/i', url: 'file:///i' }] }, 'inputs[0].type'],
    ['a wildcard output', { outputs: [{ path: '/o/*.txt', url: 'file:///o', type: 'FILE' }] }, 'outputs[0].path'],
  ];

  it.each(refused)('refuses a task with %s, 400 naming the field', async (_, fields, field) => {
    const { status, body } = await callJson<ErrorResponse>(
      `${sim.tesUrl}/tasks`,
      'POST',
      simTask(fields),
    );
    expect(status).toBe(400);
    expect(body.errors?.map((e) => e.field)).toEqual([field]);
    expect(body.msg).toContain(field);
  });

  it('still validates the rest as TES does', async () => {
    const { status, body } = await callJson<ErrorResponse>(`${sim.tesUrl}/tasks`, 'POST', {
      executors: [{ image: 'alpine', command: [] }],
    });
    expect(status).toBe(400);
    expect(body.errors?.map((e) => e.field)).toEqual(['executors[0].command']);
  });

  it('runs a 1.0 task and answers in the 1.0 shape, in every view', async () => {
    const id = await submit(task10());
    const done = await waitForState(sim.tesUrl, id, 'COMPLETE');
    expect(done.inputs).toEqual([{ path: '/data/in', url: 'file:///in', type: 'FILE' }]);
    expect(done.outputs).toEqual([{ path: '/data/out', url: 'file:///out', type: 'DIRECTORY' }]);
    expect(done.logs?.[0].logs[0].exit_code).toBe(0);
    for (const view of ['MINIMAL', 'BASIC', 'FULL']) {
      const { body } = await callJson<TesTask>(`${sim.tesUrl}/tasks/${id}?view=${view}`);
      expect(keysOf(body).filter((key) => ONLY_11.includes(key))).toEqual([]);
      expect(STATES_10).toContain(body.state);
    }
  });

  it('reports a preemption as SYSTEM_ERROR, since TES 1.0 has no PREEMPTED', async () => {
    const id = await submit(task10({ tags: { 'sim.outcome': 'PREEMPTED' } }));
    const ended = await waitForState(sim.tesUrl, id, ['SYSTEM_ERROR', 'PREEMPTED']);
    expect(ended.state).toBe('SYSTEM_ERROR');
    expect(ended.logs?.[0].system_logs?.join('\n')).toContain('preemption');
  });

  it('ignores the list filters TES 1.0 does not define', async () => {
    const tagged = await submit(task10({ tags: { mine: 'yes' } }));
    const other = await submit(task10());
    const { status, body } = await callJson<TesListTasksResponse>(
      `${sim.tesUrl}/tasks?tag_key=mine&state=CANCELED&page_size=2`,
    );
    expect(status).toBe(200);
    expect(body.tasks.map((t) => t.id)).toEqual([other, tagged]);
    expect(body.next_page_token).toEqual(expect.any(String));
  });

  it('is refused backend parameters at start', async () => {
    await expect(
      startSimulator({ tesVersion: '1.0.0', backendParameters: ['queue'] }),
    ).rejects.toThrow(/TES 1.0 has no backend parameters/);
  });
});

describe('a simulator speaking TES 1.1 (the default)', () => {
  it('takes the 1.1 fields a 1.0 node refuses', async () => {
    const sim = await startSimulator({ name: 'new', queuedMs: 5, logLevel: 'error' });
    try {
      const { status } = await callJson(`${sim.tesUrl}/tasks`, 'POST', {
        inputs: [{ path: '/i', url: 'file:///i', streamable: true }],
        outputs: [{ path: '/o/*.txt', url: 'file:///o/', path_prefix: '/o/' }],
        executors: [{ image: 'a', command: ['true'], ignore_error: true }],
        resources: { backend_parameters: { queue: 'x' } },
      });
      expect(status).toBe(200);
      const { body } = await callJson<{ type: { version: string } }>(`${sim.tesUrl}/service-info`);
      expect(body.type.version).toBe('1.1.0');
    } finally {
      await sim.close();
    }
  });
});
