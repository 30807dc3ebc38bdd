import type { TaskRecord } from '@protes/persistence';
import { schemaValidator, type TesTask, type TesTaskLog, TesTaskSchema, toView } from '@protes/tes';
import { toTesTask } from './task-presenter';

const validTask = schemaValidator<TesTask>(TesTaskSchema);

function expectValid(task: TesTask): void {
  const ok = validTask(task);
  expect(validTask.errors ?? []).toEqual([]);
  expect(ok).toBe(true);
}

const received = {
  name: 'md5',
  inputs: [{ path: '/data/in.txt', content: 'hello' }],
  outputs: [{ path: '/data/out/*.txt', path_prefix: '/data/out/', url: 's3://b/out/' }],
  executors: [{ image: 'alpine', command: ['md5sum', '/data/in.txt'], ignore_error: true }],
  resources: { cpu_cores: 1, backend_parameters: { VmSize: 'small' } },
  tags: { project: 'demo' },
};

function record(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: '01jgateway',
    owner: 'anonymous',
    state: 'QUEUED',
    name: received.name,
    tags: received.tags,
    received: structuredClone(received),
    attempts: [],
    remoteLogs: [],
    systemLogs: [],
    cancelRequested: false,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:05.000Z',
    version: 3,
    ...overrides,
  };
}

/** Two task logs from the node: a first try that failed and a second one with two executors. */
const nodeLogs = (): TesTaskLog[] => [
  {
    logs: [{ exit_code: 137, stderr: 'killed' }],
    outputs: [],
    metadata: { host: 'worker-1' },
    system_logs: ['node: out of memory, retrying'],
  },
  {
    logs: [
      { exit_code: 0, stdout: 'abc  /data/in.txt', start_time: '2026-01-01T00:00:02Z' },
      { exit_code: 2, stderr: 'boom' },
    ],
    outputs: [{ url: 's3://b/out/md5.txt', path: '/data/out/md5.txt', size_bytes: '33' }],
    metadata: { host: 'worker-2' },
    start_time: '2026-01-01T00:00:01Z',
    end_time: '2026-01-01T00:00:04Z',
    system_logs: ['node: done'],
  },
];

describe('toTesTask', () => {
  it('keeps the node logs first and unchanged, adding the gateway notes to the last entry', () => {
    const r = record({
      state: 'EXECUTOR_ERROR',
      node: 'node-b',
      remoteId: 'remote-42',
      attempts: [
        { node: 'node-a', at: '2026-01-01T00:00:00Z', error: 'HTTP 503 busy' },
        { node: 'node-b', at: '2026-01-01T00:00:01Z', remoteId: 'remote-42' },
      ],
      remoteLogs: nodeLogs(),
      systemLogs: ['forwarded to node-b after node-a failed'],
    });
    const task = toTesTask(r);

    expect(task.logs).toHaveLength(2);
    // Clients read the exit code from logs[0].logs[0]; executor logs are exactly the node's.
    expect(task.logs?.[0]).toEqual(nodeLogs()[0]);
    expect(task.logs?.[0].logs[0].exit_code).toBe(137);
    expect(task.logs?.[1].logs).toEqual(nodeLogs()[1].logs);
    expect(task.logs?.[1].outputs).toEqual(nodeLogs()[1].outputs);
    expect(task.logs?.[1].start_time).toBe('2026-01-01T00:00:01Z');
    expect(task.logs?.[1].end_time).toBe('2026-01-01T00:00:04Z');

    const metadata = task.logs?.[1].metadata ?? {};
    expect(metadata.host).toBe('worker-2');
    expect(metadata.protes_node).toBe('node-b');
    expect(metadata.protes_remote_id).toBe('remote-42');
    expect(metadata.protes_attempts).toContain('node-a: failed (HTTP 503 busy)');
    expect(metadata.protes_attempts).toContain('node-b: accepted as remote-42');
    expect(metadata.protes_attempts.indexOf('node-a')).toBeLessThan(
      metadata.protes_attempts.indexOf('node-b'),
    );
    expect(task.logs?.[1].system_logs).toEqual([
      'node: done',
      'forwarded to node-b after node-a failed',
    ]);
    expectValid(task);
  });

  it('does not change the record', () => {
    const r = record({
      node: 'node-b',
      remoteId: 'remote-42',
      attempts: [{ node: 'node-b', at: '2026-01-01T00:00:01Z', remoteId: 'remote-42' }],
      remoteLogs: nodeLogs(),
      systemLogs: ['note'],
    });
    const before = structuredClone(r);
    toTesTask(r);
    toTesTask(r);
    expect(r).toEqual(before);
  });

  it('answers with the gateway id, the stored state, the request and the creation time', () => {
    const task = toTesTask(record({ state: 'RUNNING', node: 'node-a', remoteId: 'node-side-id' }));
    expect(task.id).toBe('01jgateway');
    expect(task.state).toBe('RUNNING');
    expect(task.creation_time).toBe('2026-01-01T00:00:00.000Z');
    expect(task).toMatchObject(received);
    expectValid(task);
  });

  it('gives a task that was never forwarded one log entry with the reason', () => {
    const task = toTesTask(
      record({
        state: 'SYSTEM_ERROR',
        systemLogs: ['no TES node is configured'],
        endedAt: '2026-01-01T00:00:01.000Z',
      }),
    );
    expect(task.logs).toEqual([
      { logs: [], outputs: [], system_logs: ['no TES node is configured'] },
    ]);
    expectValid(task);
  });

  it('gives a task that every node refused one log entry with the attempts and reasons', () => {
    const task = toTesTask(
      record({
        state: 'SYSTEM_ERROR',
        attempts: [
          { node: 'node-a', at: '2026-01-01T00:00:00Z', error: 'ECONNREFUSED' },
          { node: 'node-b', at: '2026-01-01T00:00:00Z', error: 'HTTP 400 bad image' },
        ],
        systemLogs: ['forwarding to node-a failed', 'forwarding to node-b failed'],
      }),
    );
    expect(task.logs).toHaveLength(1);
    const [log] = task.logs ?? [];
    expect(log.logs).toEqual([]);
    expect(log.outputs).toEqual([]);
    expect(log.system_logs).toEqual(['forwarding to node-a failed', 'forwarding to node-b failed']);
    expect(log.metadata?.protes_node).toBeUndefined();
    expect(log.metadata?.protes_attempts).toBe(
      'node-a: failed (ECONNREFUSED); node-b: failed (HTTP 400 bad image)',
    );
    expectValid(task);
  });

  it('shows the lifecycle history, in order, as JSON in the last log entry', () => {
    const history = [
      {
        event: 'accepted' as const,
        to: 'QUEUED' as const,
        at: 'a',
        by: { kind: 'gateway' as const },
      },
      {
        event: 'forwarded' as const,
        from: 'QUEUED' as const,
        to: 'QUEUED' as const,
        at: 'b',
        by: { kind: 'tracker' as const, id: 't1' },
        node: 'alpha',
      },
    ];
    const task = toTesTask(record({ history, remoteLogs: nodeLogs() }));
    expect(task.logs?.[0].metadata?.protes_history).toBeUndefined();
    expect(JSON.parse(task.logs?.[1].metadata?.protes_history ?? '[]')).toEqual(history);
    expectValid(task);
  });

  it('gives a freshly stored task no log entries', () => {
    const task = toTesTask(record());
    expect(task.logs).toEqual([]);
    expectValid(task);
  });

  it('answers valid TES, in every view, for a node that leaves out empty log lists', () => {
    // Protobuf-based TES servers omit empty repeated fields: a running task's log may lack both.
    const sparse = [
      { start_time: '2026-01-01T00:00:01Z' },
      { logs: [{ exit_code: 0 }] },
    ] as unknown as TesTaskLog[];
    const task = toTesTask(
      record({ state: 'RUNNING', node: 'node-a', remoteId: 'r', remoteLogs: sparse }),
    );
    expect(task.logs?.[0]).toEqual({ start_time: '2026-01-01T00:00:01Z', logs: [], outputs: [] });
    expect(task.logs?.[1].logs).toEqual([{ exit_code: 0 }]);
    expect(task.logs?.[1].outputs).toEqual([]);
    for (const view of ['MINIMAL', 'BASIC', 'FULL'] as const) expectValid(toView(task, view));
  });

  it('passes through every view as valid TES with the gateway fields where the spec allows', () => {
    const task = toTesTask(
      record({
        state: 'COMPLETE',
        node: 'node-b',
        remoteId: 'r',
        attempts: [{ node: 'node-b', at: '2026-01-01T00:00:00Z', remoteId: 'r' }],
        remoteLogs: nodeLogs(),
        systemLogs: ['note'],
      }),
    );
    for (const view of ['MINIMAL', 'BASIC', 'FULL'] as const) expectValid(toView(task, view));
    const basic = toView(task, 'BASIC');
    expect(basic.logs?.[1].metadata?.protes_node).toBe('node-b');
    expect(basic.logs?.[1].system_logs).toBeUndefined();
    expect(basic.logs?.[0].logs[0].exit_code).toBe(137);
  });
});
