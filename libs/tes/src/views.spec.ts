import { TES_VIEWS, type TesTask, TesTaskSchema } from './models';
import { schemaValidator } from './validation';
import { toView } from './views';

/** A finished task with every field TES 1.1 defines set, including the ones views leave out. */
const fullTask = (): TesTask => ({
  id: 'task-1',
  state: 'EXECUTOR_ERROR',
  name: 'md5',
  description: 'checksum a file',
  inputs: [
    { name: 'in', path: '/data/in.txt', content: 'hello', type: 'FILE' },
    { path: '/data/ref', url: 's3://b/ref/', type: 'DIRECTORY', streamable: true },
  ],
  outputs: [
    { path: '/data/out/*.txt', path_prefix: '/data/out/', url: 's3://b/out/', type: 'FILE' },
  ],
  resources: {
    cpu_cores: 2,
    ram_gb: 4,
    preemptible: false,
    zones: ['eu'],
    backend_parameters: { VmSize: 'small' },
    backend_parameters_strict: false,
  },
  executors: [
    {
      image: 'alpine',
      command: ['md5sum', '/data/in.txt'],
      stdout: '/data/out/md5.txt',
      env: { A: 'b' },
      ignore_error: true,
    },
  ],
  volumes: ['/vol/A'],
  tags: { project: 'demo' },
  logs: [
    {
      logs: [
        {
          start_time: '2026-01-01T00:00:01Z',
          end_time: '2026-01-01T00:00:02Z',
          stdout: 'first try output',
          stderr: 'first try error',
          exit_code: 137,
        },
      ],
      outputs: [],
      system_logs: ['node-a: preempted'],
    },
    {
      logs: [
        { stdout: 'abc  /data/in.txt', stderr: 'warning', exit_code: 0 },
        { stdout: '', exit_code: 3 },
      ],
      metadata: { protes_node: 'node-b', host: 'worker-1' },
      start_time: '2026-01-01T00:01:00Z',
      end_time: '2026-01-01T00:02:00Z',
      outputs: [{ url: 's3://b/out/md5.txt', path: '/data/out/md5.txt', size_bytes: '33' }],
      system_logs: ['forwarded to node-b'],
    },
  ],
  creation_time: '2026-01-01T00:00:00Z',
});

const validTask = schemaValidator<TesTask>(TesTaskSchema);

describe('toView', () => {
  it('MINIMAL has only id and state', () => {
    const view = toView(fullTask(), 'MINIMAL');
    expect(view).toEqual({ id: 'task-1', state: 'EXECUTOR_ERROR' });
    expect(Object.keys(view).sort()).toEqual(['id', 'state']);
  });

  it('BASIC leaves out executor stdout/stderr, input content and system logs, and nothing else', () => {
    const task = fullTask();
    const view = toView(task, 'BASIC');
    const expected = fullTask();
    delete expected.inputs?.[0].content;
    for (const log of expected.logs ?? []) {
      delete log.system_logs;
      for (const executorLog of log.logs) {
        delete executorLog.stdout;
        delete executorLog.stderr;
      }
    }
    expect(view).toEqual(expected);
    // What clients read from BASIC is still there.
    expect(view.logs?.[0].logs[0].exit_code).toBe(137);
    expect(view.logs?.[1].logs.map((l) => l.exit_code)).toEqual([0, 3]);
    expect(view.logs?.[1].metadata).toEqual({ protes_node: 'node-b', host: 'worker-1' });
    expect(view.logs?.[1].outputs).toHaveLength(1);
    expect(view.inputs?.[1]).toEqual(task.inputs?.[1]);
    expect(view.executors?.[0].stdout).toBe('/data/out/md5.txt');
    expect(view.creation_time).toBe('2026-01-01T00:00:00Z');
  });

  it('BASIC does not add keys that the task did not have', () => {
    const view = toView({ id: 'x', state: 'QUEUED', executors: [] }, 'BASIC');
    expect(view).toEqual({ id: 'x', state: 'QUEUED', executors: [] });
    expect(Object.keys(view).sort()).toEqual(['executors', 'id', 'state']);
  });

  it('FULL has everything', () => {
    expect(toView(fullTask(), 'FULL')).toEqual(fullTask());
  });

  it.each(TES_VIEWS)('%s does not change the task it was given', (name) => {
    const task = fullTask();
    const view = toView(task, name);
    expect(task).toEqual(fullTask());
    // Changing the view afterwards must not reach back into the task either.
    if (name === 'BASIC') {
      view.inputs?.push({ path: '/x', url: 'y' });
      view.logs?.[0].logs.push({ exit_code: 1 });
      expect(task).toEqual(fullTask());
    }
  });

  it.each(TES_VIEWS)('%s validates against the tesTask schema', (name) => {
    const view = toView(fullTask(), name);
    const ok = validTask(view);
    expect(validTask.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });
});
