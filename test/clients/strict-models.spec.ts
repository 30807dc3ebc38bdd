import {
  readCancelTaskResponse,
  readCreateTaskResponse,
  readErrorBody,
  readListTasksResponse,
  readServiceInfo,
  readTask,
  StrictReadError,
} from './strict-models';
import { goValuesEncode, gsonJson, javaEscape, pythonJsonDumps, pythonUrlencode } from './wire';

/** The readers and encoders the client replay relies on: if these are wrong, the replay is. */

const fullTask = () => ({
  id: 'task-1',
  state: 'COMPLETE',
  name: 'n',
  description: '',
  inputs: [{ path: '/in', content: 'x', type: 'FILE', streamable: false }],
  outputs: [{ url: 'file:///o', path: '/o/*.txt', path_prefix: '/o', type: 'DIRECTORY' }],
  resources: {
    cpu_cores: 1,
    ram_gb: 1.5,
    backend_parameters: { VmSize: 'x' },
    backend_parameters_strict: false,
  },
  executors: [{ image: 'alpine', command: ['true'], env: { A: 'b' }, ignore_error: true }],
  volumes: ['/vol'],
  tags: { a: '' },
  logs: [
    {
      logs: [
        {
          start_time: '2026-01-02T03:04:05Z',
          end_time: '2026-01-02T03:04:06.5+01:00',
          exit_code: 0,
          stdout: '',
          stderr: '',
        },
      ],
      outputs: [{ url: 'file:///o/a.txt', path: '/o/a.txt', size_bytes: '1024' }],
      metadata: { node: 'alpha' },
      system_logs: ['ok'],
    },
  ],
  creation_time: '2026-01-02T03:04:05.123Z',
});

const serviceInfo = () => ({
  id: 'org.example.protes',
  name: 'proTES',
  type: { group: 'org.ga4gh', artifact: 'tes', version: '1.1.0' },
  organization: { name: 'Example', url: 'https://example.org' },
  createdAt: '2026-01-02T03:04:05Z',
  version: '0.1.0',
  storage: ['s3://bucket'],
  tesResources_backend_parameters: ['VmSize'],
});

function errorOf(read: () => unknown): StrictReadError {
  try {
    read();
  } catch (error) {
    if (error instanceof StrictReadError) return error;
    throw error;
  }
  throw new Error('the reader accepted it');
}

describe('strict TES readers', () => {
  it('accept a complete FULL task and a service-info with only spec fields', () => {
    expect(readTask(fullTask(), 'tesTask', 'FULL').id).toBe('task-1');
    expect(readServiceInfo(serviceInfo()).type.artifact).toBe('tes');
  });

  it('name the path of an unknown field, at any depth', () => {
    expect(errorOf(() => readTask({ ...fullTask(), protes: {} })).path).toBe('tesTask.protes');
    const nested = fullTask();
    (nested.logs[0].logs[0] as Record<string, unknown>).host = 'h';
    expect(errorOf(() => readTask(nested)).path).toBe('tesTask.logs[0].logs[0].host');
    expect(errorOf(() => readServiceInfo({ ...serviceInfo(), protes: { nodes: [] } })).path).toBe(
      'tesServiceInfo.protes',
    );
    const org = { ...serviceInfo(), organization: { name: 'x', url: 'https://x', email: 'e' } };
    expect(errorOf(() => readServiceInfo(org)).path).toBe('tesServiceInfo.organization.email');
  });

  it('name the path of a wrong type or format', () => {
    const cases: [unknown, string][] = [
      [{ ...fullTask(), description: null }, 'tesTask.description'],
      [{ ...fullTask(), state: 'DONE' }, 'tesTask.state'],
      [{ ...fullTask(), creation_time: '2026-01-02 03:04' }, 'tesTask.creation_time'],
      [{ ...fullTask(), tags: { a: 1 } }, 'tesTask.tags["a"]'],
    ];
    for (const [task, path] of cases) expect(errorOf(() => readTask(task)).path).toBe(path);
    const exitAsString = fullTask();
    (exitAsString.logs[0].logs[0] as Record<string, unknown>).exit_code = '0';
    expect(errorOf(() => readTask(exitAsString)).path).toBe('tesTask.logs[0].logs[0].exit_code');
    const sizeAsNumber = fullTask();
    (sizeAsNumber.logs[0].outputs[0] as Record<string, unknown>).size_bytes = 1024;
    expect(errorOf(() => readTask(sizeAsNumber)).path).toBe(
      'tesTask.logs[0].outputs[0].size_bytes',
    );
    const wes = { ...serviceInfo(), type: { group: 'org.ga4gh', artifact: 'wes', version: '1' } };
    expect(errorOf(() => readServiceInfo(wes)).path).toBe('tesServiceInfo.type.artifact');
  });

  it('hold answers to their view', () => {
    expect(readTask({ id: 'a', state: 'QUEUED' }, 'tesTask', 'MINIMAL')).toEqual({
      id: 'a',
      state: 'QUEUED',
    });
    expect(
      errorOf(() => readTask({ id: 'a', state: 'QUEUED', name: 'n' }, 't', 'MINIMAL')).path,
    ).toBe('t.name');
    expect(errorOf(() => readTask(fullTask(), 't', 'BASIC')).path).toBe('t.inputs[0].content');
    const noExecutors: Record<string, unknown> = fullTask();
    delete noExecutors.executors;
    expect(errorOf(() => readTask(noExecutors, 't', 'FULL')).path).toBe('t.executors');
    expect(errorOf(() => readTask({ state: 'QUEUED' }, 't')).path).toBe('t.id');
  });

  it('read list, create and cancel answers as closed objects', () => {
    expect(
      readListTasksResponse({ tasks: [{ id: 'a', state: 'RUNNING' }] }, 'l', 'MINIMAL').tasks,
    ).toHaveLength(1);
    expect(errorOf(() => readListTasksResponse({ tasks: [], total: 0 })).path).toBe(
      'tesListTasksResponse.total',
    );
    expect(
      errorOf(() =>
        readListTasksResponse({ tasks: [{ id: 'a', state: 'RUNNING', x: 1 }] }, 'l', 'MINIMAL'),
      ).path,
    ).toBe('l.tasks[0].x');
    expect(readCreateTaskResponse({ id: 'a' })).toEqual({ id: 'a' });
    expect(errorOf(() => readCreateTaskResponse({ id: 'a', state: 'QUEUED' })).path).toBe(
      'tesCreateTaskResponse.state',
    );
    expect(readCancelTaskResponse({})).toEqual({});
    expect(errorOf(() => readCancelTaskResponse({ ok: true })).path).toBe(
      'tesCancelTaskResponse.ok',
    );
  });

  it('read the error body against the HTTP status', () => {
    expect(readErrorBody({ status_code: 404, msg: 'no such task' }, 404).msg).toBe('no such task');
    expect(errorOf(() => readErrorBody({ status_code: 500, msg: 'x' }, 404)).path).toBe(
      'error.status_code',
    );
    expect(errorOf(() => readErrorBody({ statusCode: 404, message: 'x' }, 404)).path).toBe(
      'error.status_code',
    );
  });
});

describe('client wire encodings', () => {
  it("write JSON as Python's json.dumps does (separators, ensure_ascii)", () => {
    expect(pythonJsonDumps({ a: 'Müller ✓ 😀', b: [1, true, null], c: undefined })).toBe(
      '{"a": "M\\u00fcller \\u2713 \\ud83d\\ude00", "b": [1, true, null]}',
    );
    expect(JSON.parse(pythonJsonDumps({ s: 'Müller 😀\n"' }))).toEqual({ s: 'Müller 😀\n"' });
  });

  it('write JSON as Gson does (HTML-safe escapes)', () => {
    const json = gsonJson({ c: "a 2>&1 | tee b='c' <d>" });
    expect(json).toBe('{"c":"a 2\\u003e\\u00261 | tee b\\u003d\\u0027c\\u0027 \\u003cd\\u003e"}');
    expect(JSON.parse(json)).toEqual({ c: "a 2>&1 | tee b='c' <d>" });
  });

  it('write query strings as requests, Go and Java do', () => {
    expect(
      pythonUrlencode({ name_prefix: 'a b', page_size: 2, page_token: undefined, view: 'MINIMAL' }),
    ).toBe('?name_prefix=a+b&page_size=2&view=MINIMAL');
    expect(
      goValuesEncode([
        ['view', 'BASIC'],
        ['tag_key', 'k1'],
        ['tag_value', 'v1'],
        ['tag_key', 'k2'],
        ['tag_value', 'v 2'],
        ['name_prefix', 'x'],
      ]),
    ).toBe('name_prefix=x&tag_key=k1&tag_key=k2&tag_value=v1&tag_value=v+2&view=BASIC');
    expect(javaEscape("a b!'()~*")).toBe('a%20b%21%27%28%29%7E*');
  });
});
